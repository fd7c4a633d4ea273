/* sst_builder.c: placeholder until this layer lands. */
