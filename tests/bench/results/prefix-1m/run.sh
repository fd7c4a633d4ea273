#!/bin/bash
# 3 runs, configurations interleaved (order rotated), fillprefix + scanprefix.
B=/work/wt-prefix/build-bench/tests/bench/lsm-bench
OUT=/tmp/pf/benchres
cfgs=("lsm-nofilter:--engine lsm" "lsm-filter:--engine lsm --prefix_len 13" "rocksdb-filter:--engine rocksdb --prefix_len 13" "rocksdb-nofilter:--engine rocksdb" "leveldb:--engine leveldb")
for run in 1 2 3; do
  n=${#cfgs[@]}
  for ((k=0;k<n;k++)); do
    c=${cfgs[$(( (k+run) % n ))]}
    name=${c%%:*}; flags=${c#*:}
    db=/var/tmp/lsm-pf-bench-$name
    $B $flags --num 1000000 --reads 100000 --benchmarks fillprefix,scanprefix --db $db > $OUT/$name-run$run.txt 2>&1
    echo "$name run$run rc=$?" >> $OUT/progress
    rm -rf $db
  done
done
echo done >> $OUT/progress
