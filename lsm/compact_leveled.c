/* compact_leveled.c: placeholder until this layer lands. */
