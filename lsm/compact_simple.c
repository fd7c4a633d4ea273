/* compact_simple.c: placeholder until this layer lands. */
