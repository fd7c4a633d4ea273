#!/bin/sh
# timer.sh: .timer on|off prints sqlite3's "Run Time: real R user U sys S"
# line after each command, and nothing once off. The times themselves vary
# from run to run, so only the format and where the lines appear are
# checked (transcripts cannot hold them).
#
#   timer.sh LSM_CLI
set -u
cli=$1
case $cli in /*) ;; *) cli=$PWD/$cli ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsm-cli-timer.XXXXXX") || exit 99
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT TERM

# real has 3 decimals, user and sys 6, as sqlite3 prints them.
time_re='^Run Time: real [0-9][0-9]*\.[0-9]\{3\} user [0-9][0-9]*\.[0-9]\{6\} sys [0-9][0-9]*\.[0-9]\{6\}$'

printf '%s\n' 'get 1' '.timer on' 'fill 1 100' 'get 1' 'get nope' \
    '.timer OFF' 'get 2' | "$cli" --path "$tmp/db" >"$tmp/out" 2>"$tmp/err"
status=$?

# Each timing line is replaced by TIME, so the rest compares exactly.
sed "s/$time_re/TIME/" "$tmp/out" | grep -v -e '^froze memtable ' \
    -e '^flushed [0-9]*\.sst ' >"$tmp/shape"
cat >"$tmp/want" <<'WANT'
1 not exist
100 values filled with epoch 1
TIME
1=b"value1@1"
TIME
nope not exist
TIME
2=b"value2@1"
WANT
if [ "$status" -ne 0 ] || [ -s "$tmp/err" ] ||
    ! cmp -s "$tmp/want" "$tmp/shape"; then
    echo "FAIL: .timer (exit $status)"
    diff -u --label expected --label actual "$tmp/want" "$tmp/shape"
    cat "$tmp/err"
    exit 1
fi
echo "timer checks passed"
