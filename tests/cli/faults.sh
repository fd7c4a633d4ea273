#!/bin/sh
# faults.sh: what lsm-cli says when the disk fails under it. Runs
# lsm-cli-fault (lsm-cli opening through the fault env, fault_open.c; the
# fault comes from LSM_CLI_FAULT) in inline mode, where every flush and
# compaction runs inside a command:
#   - a failed flush is the error of the command that ran it, naming the
#     flush and the file ("background work failed" is only for --background);
#   - a fill that fails part-way says how many values it wrote;
#   - a database whose memtables are in their WALs opens on a full disk:
#     reads work, writes fail saying the disk is full; with space again it
#     reopens and the memtables flush.
# The temporary directory is printed as TMP.
#
#   faults.sh LSM_CLI_FAULT
set -u
cli=$1
case $cli in /*) ;; *) cli=$PWD/$cli ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsm-cli-faults.XXXXXX") || exit 99
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT TERM
n_failed=0

# run FAULT ARGS...: runs lsm-cli-fault on $tmp/in with LSM_CLI_FAULT=FAULT;
# stdout and stderr (the temporary directory as TMP) go to $tmp/out and
# $tmp/err, the exit status to $status.
run() {
    fault=$1
    shift
    LSM_CLI_FAULT=$fault "$cli" "$@" <"$tmp/in" >"$tmp/out.raw" 2>"$tmp/err.raw"
    status=$?
    sed "s|$tmp|TMP|g" "$tmp/out.raw" >"$tmp/out"
    sed "s|$tmp|TMP|g" "$tmp/err.raw" >"$tmp/err"
}

# check WHAT WANT_STATUS WANT_OUT WANT_ERR
check() {
    printf '%s' "$3" >"$tmp/want_out"
    printf '%s' "$4" >"$tmp/want_err"
    if [ "$status" -ne "$2" ] || ! cmp -s "$tmp/want_out" "$tmp/out" ||
        ! cmp -s "$tmp/want_err" "$tmp/err"; then
        echo "FAIL: $1 (exit $status, expected $2)"
        diff -u --label "stdout (expected)" --label "stdout (actual)" \
            "$tmp/want_out" "$tmp/out"
        diff -u --label "stderr (expected)" --label "stderr (actual)" \
            "$tmp/want_err" "$tmp/err"
        n_failed=$((n_failed + 1))
    fi
}

# A put fills the memtable; the flush it runs cannot write 1.sst. The put
# succeeded; the error is the put's, and names the flush and the file.
printf '%s\n' 'put a 1' 'put b 2' 'get a' 'put c 3' >"$tmp/in"
run 'append .sst 1' --path "$tmp/db1" --target-sst-size 4 \
    --num-memtable-limit 1
check "inline flush failure" 1 'a stored
froze memtable 0 (2 keys, 4 B); new memtable 1
deleted 0.sst (flush failed)
b stored
a=b"1"
' 'error: line 2: put: flush of memtable 0 to 0.sst failed: TMP/db1/0.sst: injected append failure (call 6)
error: line 4: put: flush of memtable 0 to 0.sst failed: TMP/db1/0.sst: injected append failure (call 6)
error: close: flush of memtable 0 to 0.sst failed: TMP/db1/0.sst: injected append failure (call 6)
'

# An explicit flush that fails says it once, as its own error.
printf '%s\n' 'put a 1' 'flush' >"$tmp/in"
run 'append .sst 1' --path "$tmp/db2"
check "failed flush command" 1 'a stored
froze memtable 0 (1 keys, 2 B); new memtable 1
deleted 0.sst (flush failed)
' 'error: line 2: flush: flush of memtable 0 to 0.sst failed: TMP/db2/0.sst: injected append failure (call 5)
error: close: flush of memtable 0 to 0.sst failed: TMP/db2/0.sst: injected append failure (call 5)
'

# fill fails part-way: value 16 fills memtable 0 (158 B >= 150 B), its
# flush fails, and value 17 is refused: 16 of 30 were written. The failing
# append is call 5: the 16 puts' WAL records went with one write (lsm_put_many).
printf '%s\n' 'fill 1 30' 'get 16' 'get 17' >"$tmp/in"
run 'append .sst 1' --path "$tmp/db3" --target-sst-size 150 \
    --num-memtable-limit 1
check "fill failing part-way" 1 'froze memtable 0 (16 keys, 158 B); new memtable 1
deleted 0.sst (flush failed)
16=b"value16@0"
17 not exist
' 'error: line 1: fill: flush of memtable 0 to 0.sst failed: TMP/db3/0.sst: injected append failure (call 5): 16 of 30 values written before the failure
error: close: flush of memtable 0 to 0.sst failed: TMP/db3/0.sst: injected append failure (call 5)
'

# Open on a full disk: the memtables wait in their WALs (close leaves them
# there); open writes nothing, reads work, a put says the disk is full.
printf '%s\n' 'fill 1 20' >"$tmp/in"
run '' --path "$tmp/db4" --target-sst-size 100 --num-memtable-limit 2
printf '%s\n' 'get 3' 'get 20' 'put x 1' 'get x' >"$tmp/in"
run full --path "$tmp/db4" --target-sst-size 100 --num-memtable-limit 2
check "open on a full disk" 1 '0 SSTs opened
2 WALs recovered
3=b"value3@0"
20=b"value20@0"
x not exist
' 'warning: MANIFEST: rewrite at open failed, appending to the old one: TMP/db4/MANIFEST.new: injected create failure (call 4): No space left on device (the disk is full)
error: open for reading only: memtable 2 cannot be started: TMP/db4/MANIFEST: injected append failure (call 1): No space left on device (the disk is full)
error: line 3: put: open for reading only: memtable 2 cannot be started: TMP/db4/MANIFEST: injected append failure (call 1): No space left on device (the disk is full)
error: close: open for reading only: memtable 2 cannot be started: TMP/db4/MANIFEST: injected append failure (call 1): No space left on device (the disk is full)
'

# Space again: the first write flushes the oldest recovered memtable (2 in
# memory and a new one are over the limit of 2). The full disk took half
# of the manifest record open tried to append, as a disk that runs out of
# room part-way through a write does: the torn record is cut off.
printf '%s\n' 'put x 1' 'get 3' 'get x' >"$tmp/in"
run '' --path "$tmp/db4" --target-sst-size 100 --num-memtable-limit 2
check "reopen with space again" 0 '0 SSTs opened
2 WALs recovered
flushed 0.sst with size=314
x stored
3=b"value3@0"
x=b"1"
' 'warning: TMP/db4/MANIFEST: cut off a torn record of 11 byte(s) at the end (left by a crash)
'

if [ "$n_failed" -ne 0 ]; then
    echo "$n_failed check(s) failed"
    exit 1
fi
echo "fault checks passed"
