/* bloom.c: placeholder until this layer lands. */
