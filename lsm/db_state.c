/* db_state.c: placeholder until this layer lands. */
