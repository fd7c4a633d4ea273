/* concat_iter.c: placeholder until this layer lands. */
