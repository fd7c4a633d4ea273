/* block.c: placeholder until this layer lands. */
