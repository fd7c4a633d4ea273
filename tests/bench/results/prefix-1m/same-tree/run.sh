#!/bin/bash
# The filter's effect on one and the same tree: each engine fills once,
# then its prefix scans run alternately with the extractor and without
# (a database reopened without an extractor reads by range), 3 rounds.
# lsm runs inline (threads_mode off): the tree is settled when the fill
# ends and nothing changes it during the scans.
B=/work/wt-prefix/build-bench/tests/bench/lsm-bench
OUT=/tmp/pf/benchres3
mkdir -p $OUT
common="--num 1000000 --reads 100000"
run() { # name db flags...
  local name=$1; shift
  "$B" "$@" $common >> "$OUT/$name.txt" 2>&1 || echo "FAIL $name" >> $OUT/progress
}
db=/var/tmp/lsm-pf-b3-lsm
run lsm-fill --engine lsm --threads_mode off --prefix_len 13 --benchmarks fillprefix --db $db
for r in 1 2 3; do
  run lsm-filter --engine lsm --threads_mode off --prefix_len 13 --benchmarks scanprefix --db $db
  run lsm-nofilter --engine lsm --threads_mode off --prefix_len 0 --benchmarks scanprefix --db $db
done
rm -rf $db
db=/var/tmp/lsm-pf-b3-rocksdb
run rocksdb-fill --engine rocksdb --prefix_len 13 --benchmarks fillprefix --db $db
for r in 1 2 3; do
  run rocksdb-filter --engine rocksdb --prefix_len 13 --benchmarks scanprefix --db $db
  run rocksdb-nofilter --engine rocksdb --prefix_len 0 --benchmarks scanprefix --db $db
done
rm -rf $db
db=/var/tmp/lsm-pf-b3-leveldb
run leveldb-fill --engine leveldb --benchmarks fillprefix --db $db
for r in 1 2 3; do
  run leveldb --engine leveldb --benchmarks scanprefix --db $db
done
rm -rf $db
echo done >> $OUT/progress
