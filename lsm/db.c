/* db.c: placeholder until this layer lands. */
