/* compact_shape.c: placeholder until this layer lands. */
