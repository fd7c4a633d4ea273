/* sst_reader.c: placeholder until this layer lands. */
