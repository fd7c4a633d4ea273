#!/usr/bin/env bash
# smoke.sh LSM_BENCH ENGINE...: a short run of every workload on each engine
# this lsm-bench was built with, checking that it succeeds (lsm-bench checks
# every read against what it wrote and exits 1 on a mismatch) and prints
# every line scripts/bench parses. It checks no speed: the figures of a
# 3000-key run mean nothing, and timing has no place in a test.
set -uo pipefail
bench=$1; shift
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0

fail() { echo "FAIL: $*" >&2; status=1; }

workloads="fillseq fillsync fillrandom overwrite fillbatch readrandom \
readmissing readseq seekrandom readwhilewriting deleterandom"

for engine in "$@"; do
  out="$tmp/$engine.out"
  if ! "$bench" --engine "$engine" --num 3000 --threads 2 \
      --db "$tmp/db-$engine" >"$out" 2>"$tmp/$engine.err"; then
    fail "$engine: lsm-bench exited with an error:"
    cat "$tmp/$engine.err" >&2
    continue
  fi
  for w in $workloads; do
    grep -Eq "^$w +: +[0-9.]+ micros/op; [0-9]+ ops/sec" "$out" ||
      fail "$engine: no result line for $w"
  done
  # Transactions: a result with 0 conflicts (one thread), or n/a on an
  # engine without them (LevelDB).
  for w in txnrmw txnrmw_si; do
    if [ "$engine" = leveldb ]; then
      grep -Eq "^$w +: n/a" "$out" || fail "$engine: no n/a line for $w"
    else
      grep -Eq "^$w +: +[0-9.]+ micros/op; [0-9]+ ops/sec; .*; 0 conflicts$" \
        "$out" || fail "$engine: no result line with 0 conflicts for $w"
    fi
  done
  # readwhilewriting adds its writer's rate (it writes at least once).
  grep -Eq "^readwhilewriting +: +[0-9.]+ micros/op; [0-9]+ ops/sec; .*; writer [1-9][0-9]* ops/sec$" \
    "$out" || fail "$engine: no readwhilewriting line with a writer rate"
  for line in "peak RSS" "db size" "io written"; do
    grep -q "^$line *:" "$out" || fail "$engine: no '$line' line"
  done
  [ -d "$tmp/db-$engine" ] || fail "$engine: no database left in --db"
done

# readwhilewriting's writer makes keys live that fillsync (num/100 keys)
# left missing: readseq then checks that the bench counted them (it must
# see exactly the live keys), and two readers run beside the writer.
for engine in "$@"; do
  out="$tmp/$engine-rww.out"
  if ! "$bench" --engine "$engine" --num 3000 --threads 2 \
      --benchmarks fillsync,readwhilewriting,readseq \
      --db "$tmp/rww-$engine" >"$out" 2>"$tmp/$engine-rww.err"; then
    fail "$engine: fillsync,readwhilewriting,readseq failed:"
    cat "$tmp/$engine-rww.err" >&2
    continue
  fi
  grep -Eq "^readseq +: +[0-9.]+ micros/op" "$out" ||
    fail "$engine: no readseq line after readwhilewriting"
done

# deleterange: each engine's range delete (LevelDB: key by key), its gets
# checked against what it deleted, and a full scan after it that must see
# exactly the keys left.
for engine in "$@"; do
  out="$tmp/$engine-range.out"
  if ! "$bench" --engine "$engine" --num 3000 \
      --benchmarks fillseq,deleterange,readseq \
      --db "$tmp/range-$engine" >"$out" 2>"$tmp/$engine-range.err"; then
    fail "$engine: fillseq,deleterange,readseq failed:"
    cat "$tmp/$engine-range.err" >&2
    continue
  fi
  grep -Eq "^deleterange +: +[0-9.]+ micros/op" "$out" ||
    fail "$engine: no deleterange line"
done

# The prefix workloads: scanprefix checks every scan returns exactly its
# group's keys, with the extractor (lsm, rocksdb) and without.
for engine in "$@"; do
  for plen in 0 9; do
    out="$tmp/$engine-prefix$plen.out"
    if ! "$bench" --engine "$engine" --num 3000 --key_size 12 \
        --target_sst_size 16384 \
        --prefix_len $plen --benchmarks fillprefix,scanprefix \
        --db "$tmp/prefix-$engine" >"$out" 2>"$tmp/$engine-prefix.err"; then
      fail "$engine: fillprefix,scanprefix (--prefix_len $plen) failed:"
      cat "$tmp/$engine-prefix.err" >&2
      continue
    fi
    grep -Eq "^scanprefix +: +[0-9.]+ micros/op" "$out" ||
      fail "$engine: no scanprefix line (--prefix_len $plen)"
  done
done

# Bad input is refused with a message, and touches nothing.
if "$bench" --engine nosuch --num 10 --db "$tmp/bad" >/dev/null 2>"$tmp/bad.err"; then
  fail "--engine nosuch was accepted"
fi
grep -q "engine" "$tmp/bad.err" || fail "--engine nosuch: message does not name the flag"
[ ! -e "$tmp/bad" ] || fail "--engine nosuch created the database directory"
mkdir "$tmp/notadb" && echo precious >"$tmp/notadb/file"
if "$bench" --num 10 --db "$tmp/notadb" >/dev/null 2>&1; then
  fail "a directory that is not a database was reset"
fi
[ -f "$tmp/notadb/file" ] || fail "a file in a non-database directory was deleted"

[ $status -eq 0 ] && echo "ok: $*"
exit $status
