#!/bin/sh
# readonly.sh: lsm-cli --readonly.
#
#   readonly.sh LSM_CLI DIR [--update]
#
# DIR holds readonly_session.lsm and readonly_session.out. A first session
# (not read-only) writes a database; then, with --readonly:
#   - readonly_session.lsm, replayed with --echo, must print exactly
#     readonly_session.out (stdout and stderr combined) and exit 1: the
#     reads answer, every write command is refused;
#   - -c one-shots: dump exits 0; put exits 1 with the refusal on stderr;
#     --serializable's put is refused the same way; crash leaves at once;
#   - a database another lsm-cli has open (it holds the lock: a second
#     normal open fails) opens read-only and shows the holder's writes
#     that are only in its WAL;
#   - a missing directory, or one with no database in it, exits 1 and is
#     left as it was (nothing created);
#   - --help describes --readonly;
# and after all of it (the holder's session aside) every file of the
# database, and its directory, is byte for byte, inode and mtime what it
# was. --update rewrites readonly_session.out from the run instead of
# comparing it (read every line of it before committing it).
set -u
unset COLUMNS # draw's width: 80, as in the transcripts
cli=$1
here=$2
mode=${3:-check}
case $cli in /*) ;; *) cli=$PWD/$cli ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsm-cli-readonly.XXXXXX") || exit 99
holder=
trap 'if [ -n "$holder" ]; then kill -9 "$holder"; fi; rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT TERM
trap '' PIPE
n_failed=0
nl='
'
db=$tmp/db
# The strategy and sizes the database was written with (a read-only open
# needs the same strategy).
set -- --compaction none --target-sst-size 128 --num-memtable-limit 4

fail() {
    echo "FAIL: $1"
    n_failed=$((n_failed + 1))
}

# run ARGS...: lsm-cli on $db with the options above, stdin from
# /dev/null; stdout, stderr and the status in $tmp/out, $tmp/err, $status.
run() {
    "$cli" --path "$db" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    status=$?
}

# expect WHAT STATUS STDOUT STDERR: the last run, exactly.
expect() {
    printf '%s' "$3" >"$tmp/want_out"
    printf '%s' "$4" >"$tmp/want_err"
    if [ "$status" -ne "$2" ] || ! cmp -s "$tmp/want_out" "$tmp/out" ||
        ! cmp -s "$tmp/want_err" "$tmp/err"; then
        fail "$1 (exit $status, expected $2)"
        diff -u --label "stdout (expected)" --label "stdout (actual)" \
            "$tmp/want_out" "$tmp/out"
        diff -u --label "stderr (expected)" --label "stderr (actual)" \
            "$tmp/want_err" "$tmp/err"
    fi
}

# look DIR FILE: what a writer could change in DIR, into FILE: each
# entry's name, size, inode, mtime, ctime and checksum, and the
# directory's own mtime.
look() {
    (
        cd -- "$1" || exit 1
        stat -c '. %y' .
        for f in *; do
            [ -e "$f" ] || continue
            printf '%s %s\n' "$(stat -c '%n %s %i %y %z' -- "$f")" \
                "$(cksum <"$f")"
        done
    ) >"$2"
}

# The database: 1..30 flushed to L0 (0.sst, 1.sst, 2.sst: 128-byte
# memtables), then 20..40 and w in memtables 3 and 4, only in their WALs
# (kept at quit, as mini-lsm's close keeps them).
printf '%s\n' 'fill 1 30' 'flush' 'fill 20 40' 'put w wal-only' |
    "$cli" --path "$db" "$@" >"$tmp/setup" 2>&1 || {
    cat "$tmp/setup"
    fail "making the database"
}
look "$db" "$tmp/before"

# The session.
(cd -- "$here" && "$cli" --readonly --echo --path "$db" "$@" \
    <readonly_session.lsm) >"$tmp/session" 2>&1
status=$?
sed "s#$tmp#TMP#g" "$tmp/session" >"$tmp/session.out"
if [ "$mode" = "--update" ]; then
    cp -- "$tmp/session.out" "$here/readonly_session.out" || exit 99
    echo "readonly_session.out written; exit status $status (expected 1)"
elif [ "$status" -ne 1 ] ||
    ! diff -u --label "readonly_session.out (expected)" \
        --label "readonly_session.out (actual)" \
        "$here/readonly_session.out" "$tmp/session.out"; then
    fail "the --readonly session (exit $status, expected 1)"
fi

ro="opened read-only: nothing on disk will change; writes, flush and full_compaction are refused${nl}"
run --readonly "$@" -c dump
expect "-c dump" 0 "3 SSTs opened${nl}2 WALs recovered${nl}${ro}\
Memtable (id 5): 0 keys, 0 B${nl}Immutable memtables (2): [4, 3]${nl}\
L0 (3): [2, 1, 0]${nl}L1 (0): []${nl}Open iterators: 0${nl}dump success${nl}" ""

run --readonly "$@" -c 'get w' -c 'put w changed' -c 'get w'
expect "-c put" 1 "3 SSTs opened${nl}2 WALs recovered${nl}${ro}w=b\"wal-only\"${nl}\
w=b\"wal-only\"${nl}" \
    "error: put: the database is open read-only (--readonly); nothing was written${nl}"

run --readonly --serializable "$@" -c 'put w changed'
expect "--serializable put" 1 "3 SSTs opened${nl}2 WALs recovered${nl}${ro}" \
    "error: put: the database is open read-only (--readonly); nothing was written${nl}"

run --readonly "$@" -c 'get 1' -c crash -c 'get 2'
expect "crash" 0 "3 SSTs opened${nl}2 WALs recovered${nl}${ro}1=b\"value1@0\"${nl}\
crash: leaving without closing the database, as kill -9 would${nl}" ""

look "$db" "$tmp/after"
if ! cmp -s "$tmp/before" "$tmp/after"; then
    fail "--readonly changed the database's files"
    diff -u --label before --label after "$tmp/before" "$tmp/after"
fi

# Nothing to open: an error, and nothing created.
"$cli" --readonly --path "$tmp/missing" -c dump </dev/null >"$tmp/out" \
    2>"$tmp/err"
status=$?
expect "missing directory" 1 "" "error: cannot open database $tmp/missing: \
read-only open (which creates nothing): cannot open directory $tmp/missing: \
No such file or directory${nl}"
[ -e "$tmp/missing" ] && fail "missing directory: it was created"
mkdir "$tmp/empty" || exit 99
"$cli" --readonly --path "$tmp/empty" -c dump </dev/null >"$tmp/out" \
    2>"$tmp/err"
status=$?
expect "empty directory" 1 "" "error: cannot open database $tmp/empty: \
$tmp/empty holds no database (there is no MANIFEST in it); a read-only open \
creates nothing${nl}"
[ -z "$(ls -A "$tmp/empty")" ] || fail "empty directory: files were created"

# Another lsm-cli holds the database (and its lock), its last write only
# in its WAL: a normal open fails, a read-only one shows that write.
mkfifo "$tmp/hold_in" "$tmp/hold_out" || exit 99
"$cli" --path "$db" "$@" <"$tmp/hold_in" >"$tmp/hold_out" 2>&1 &
holder=$!
exec 3>"$tmp/hold_in" 4<"$tmp/hold_out"
printf '%s\n' 'put held by-the-holder' 'get held' >&3
sed -n -e p -e '/^held=/q' <&4 >"$tmp/hold_reply"
run "$@" -c 'get held'
if [ "$status" -ne 1 ] || ! grep -q 'in use' "$tmp/err"; then
    fail "a second normal open while held (exit $status)"
    cat "$tmp/err"
fi
run --readonly "$@" -c 'get held' -c 'get 25'
expect "read-only while held" 0 "3 SSTs opened${nl}3 WALs recovered${nl}${ro}\
held=b\"by-the-holder\"${nl}25=b\"value25@2\"${nl}" ""
exec 3>&- # the holder reads the end of its input and closes
wait "$holder"
holder_status=$?
holder=
exec 4<&-
[ "$holder_status" -eq 0 ] || fail "the holder exited with $holder_status"

"$cli" --help >"$tmp/out"
grep -q -e '^  --readonly  *open without the lock, changing nothing on disk$' \
    "$tmp/out" || fail "--help does not describe --readonly"

if [ "$n_failed" -ne 0 ]; then
    echo "$n_failed check(s) failed"
    exit 1
fi
echo "readonly checks passed"
