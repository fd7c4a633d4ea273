/* block_cache.c: placeholder until this layer lands. */
