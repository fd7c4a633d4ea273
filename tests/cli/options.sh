#!/bin/sh
# options.sh: lsm-cli's command line: --help/--version, bad options (exit
# 2), a database that cannot be opened or a script that is missing (exit 1),
# the accepted mini-lsm options, --script line numbers, keys at and over
# the length limit, and data surviving a close and reopen.
#
#   options.sh LSM_CLI
set -u
cli=$1
case $cli in /*) ;; *) cli=$PWD/$cli ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsm-cli-options.XXXXXX") || exit 99
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT TERM
n_failed=0

# run ARGS...: runs lsm-cli with stdin from /dev/null, keeping stdout,
# stderr and the exit status in $tmp/out, $tmp/err and $status.
run() {
    "$cli" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    status=$?
}

# expect WHAT STATUS STDOUT STDERR: compares the last run exactly.
expect() {
    printf '%s' "$3" >"$tmp/want_out"
    printf '%s' "$4" >"$tmp/want_err"
    if [ "$status" -ne "$2" ] ||
        ! cmp -s "$tmp/want_out" "$tmp/out" ||
        ! cmp -s "$tmp/want_err" "$tmp/err"; then
        echo "FAIL: $1 (exit $status, expected $2)"
        diff -u --label "stdout (expected)" --label "stdout (actual)" \
            "$tmp/want_out" "$tmp/out"
        diff -u --label "stderr (expected)" --label "stderr (actual)" \
            "$tmp/want_err" "$tmp/err"
        n_failed=$((n_failed + 1))
    fi
}

# expect_grep WHAT STATUS FILE PATTERN: the status, and a line of FILE
# (out or err) matching the fixed string PATTERN.
expect_grep() {
    if [ "$status" -ne "$2" ] || ! grep -qF -- "$4" "$tmp/$3"; then
        echo "FAIL: $1 (exit $status, expected $2; no '$4' in std$3)"
        cat "$tmp/out" "$tmp/err"
        n_failed=$((n_failed + 1))
    fi
}

# drop_events: removes the engine's event lines (the flush that closing
# the database does) from the last run's stdout.
drop_events() {
    grep -v -e '^froze memtable ' -e '^flushed [0-9]*\.sst ' "$tmp/out" \
        >"$tmp/out.tmp"
    mv -- "$tmp/out.tmp" "$tmp/out"
}

nl='
'
db="$tmp/db"

run --version
expect "--version" 0 "lsm-cli 0.1.0$nl" ""

run --help
expect_grep "--help usage" 0 out "usage: lsm-cli [OPTIONS]"
expect_grep "--help wal note" 0 out "(takes effect once the WAL lands)"
expect_grep "--help sizes" 0 out "--num-memtable-limit N"

run --bogus
expect "unknown option" 2 "" \
    "error: unknown option '--bogus'; try 'lsm-cli --help'$nl"

run stray
expect "positional argument" 2 "" \
    "error: unexpected argument 'stray' (commands go in -c CMD or on stdin); try 'lsm-cli --help'$nl"

run --path
expect "missing value" 2 "" "error: --path needs a value: --path DIR$nl"

run -c
expect "missing -c value" 2 "" "error: -c needs a value: -c CMD$nl"

run --compaction fast
expect "bad strategy" 2 "" \
    "error: --compaction: unknown strategy 'fast' (expected none, simple, tiered or leveled)$nl"

run --target-sst-size 0
expect "zero size" 2 "" \
    "error: --target-sst-size: '0' is zero (expected a whole number from 1 to 18446744073709551615)$nl"

run --block-size 4k
expect "junk size" 2 "" \
    "error: --block-size: '4k' is not a number (expected a whole number from 1 to 18446744073709551615)$nl"

run --num-memtable-limit=18446744073709551616
expect "overflowing size" 2 "" \
    "error: --num-memtable-limit: '18446744073709551616' is too large (expected a whole number from 1 to 18446744073709551615)$nl"

run --target-sst-size=-1
expect "negative size" 2 "" \
    "error: --target-sst-size: '-1' is not a number (expected a whole number from 1 to 18446744073709551615)$nl"

: >"$tmp/a-file"
run --path "$tmp/a-file" -c "get 1"
expect_grep "open failure" 1 err "error: cannot open database $tmp/a-file: "

run --path "$db" --script "$tmp/missing.lsm"
expect_grep "missing script" 1 err \
    "error: cannot open script $tmp/missing.lsm: No such file or directory"

# The mini-lsm options are accepted and change nothing visible.
run --path "$tmp/db-tiered" --enable-wal --disable-wal --sync --background \
    --compaction tiered -c "fill 1 10" -c "get 5"
drop_events
expect "accepted options" 0 \
    "10 values filled with epoch 0${nl}5=b\"value5@0\"$nl" ""

# Data survives close and reopen (and the epoch starts again at 0).
run --path "$db" -c "fill 1 10"
drop_events
expect "fill before reopen" 0 "10 values filled with epoch 0$nl" ""
run --path "$db" -c "get 5" -c "get 11"
expect "reopen" 0 "5=b\"value5@0\"${nl}11 not exist$nl" ""

# --script numbers its lines, comments and blank lines included.
printf '# a comment\n\nget 5\nfil 1\n' >"$tmp/script.lsm"
run --path "$db" --script "$tmp/script.lsm"
expect "--script" 1 "5=b\"value5@0\"$nl" \
    "error: line 4: unknown command 'fil'; did you mean 'fill'? type help for the list$nl"

# Keys of LSM_MAX_KEY_BYTES work; one byte more is the engine's error.
key=$(head -c 65535 /dev/zero | tr '\0' k)
run --path "$db" -c "put $key v" -c "get $key"
drop_events
expect "longest key" 0 "$key stored${nl}$key=b\"v\"$nl" ""
run --path "$db" -c "put ${key}k v"
expect_grep "over-long key" 1 err "error: put: "
if [ -s "$tmp/out" ] || [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
    echo "FAIL: over-long key: expected exactly one error line"
    n_failed=$((n_failed + 1))
fi

if [ "$n_failed" -ne 0 ]; then
    echo "$n_failed check(s) failed"
    exit 1
fi
echo "all option checks passed"
