/* memtable.c: placeholder until this layer lands. */
