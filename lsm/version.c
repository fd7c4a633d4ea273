/* version.c: placeholder until this layer lands. */
