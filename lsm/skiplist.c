/* skiplist.c: placeholder until this layer lands. */
