/* compact_tiered.c: placeholder until this layer lands. */
