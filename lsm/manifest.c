/* manifest.c: placeholder until this layer lands. */
