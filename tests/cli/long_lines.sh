#!/bin/sh
# long_lines.sh: lines longer than lsm-cli's limit (1048576 bytes) and
# inputs that cannot be read. A line over the limit is refused with its
# line number and the session goes on with the next line (exit status 1);
# a line at the limit runs; a line far too long to hold in memory is
# refused the same way, without the shell trying to hold it (it once read
# as the end of the input: the rest of the script was dropped, exit 0);
# an input that cannot be read is an error with exit status 1, on stdin,
# in --script and in source.
#
#   long_lines.sh LSM_CLI
set -u
cli=$1
case $cli in /*) ;; *) cli=$PWD/$cli ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsm-cli-long.XXXXXX") || exit 99
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT TERM
n_failed=0
limit=1048576

# xs N: N bytes of 'x', no newline.
xs() {
    head -c "$1" /dev/zero | tr '\0' x
}

# check WHAT STATUS WANT_STATUS WANT_OUT WANT_ERR: compares one run's exit
# status, $tmp/out and $tmp/err exactly.
check() {
    printf '%s' "$4" >"$tmp/want_out"
    printf '%s' "$5" >"$tmp/want_err"
    if [ "$2" -ne "$3" ] || ! cmp -s "$tmp/want_out" "$tmp/out" ||
        ! cmp -s "$tmp/want_err" "$tmp/err"; then
        echo "FAIL: $1 (exit $2, expected $3)"
        diff -u --label "stdout (expected)" --label "stdout (actual)" \
            "$tmp/want_out" "$tmp/out" | head -c 2000
        diff -u --label "stderr (expected)" --label "stderr (actual)" \
            "$tmp/want_err" "$tmp/err" | head -c 2000
        n_failed=$((n_failed + 1))
    fi
}

# The script: line 2 is 2000000 bytes, line 4 exactly the limit (a put of
# a value of limit - 6 bytes), line 5 one byte over it.
{
    echo 'put a 1'
    printf 'put b '
    xs $((2000000 - 6))
    echo
    echo 'get a'
    printf 'put c '
    xs $((limit - 6))
    echo
    printf 'put d '
    xs $((limit - 5))
    echo
    echo 'get b'
    echo 'get d'
    printf 'put e 5' # the last line, without a newline
} >"$tmp/script.lsm"

want_out='a stored
a=b"1"
c stored
b not exist
d not exist
e stored
'
errors() { # errors PREFIX: the two refusals, as PREFIX names lines
    printf 'error: %s2: line is 2000000 bytes, longer than the %s-byte limit\n' \
        "$1" "$limit"
    printf 'error: %s5: line is %s bytes, longer than the %s-byte limit\n' \
        "$1" "$((limit + 1))" "$limit"
}

"$cli" --path "$tmp/db1" <"$tmp/script.lsm" >"$tmp/out" 2>"$tmp/err"
check "long lines on stdin" $? 1 "$want_out" "$(errors 'line ')
"

"$cli" --path "$tmp/db2" --script "$tmp/script.lsm" </dev/null \
    >"$tmp/out" 2>"$tmp/err"
check "long lines in --script" $? 1 "$want_out" "$(errors 'line ')
"

(cd "$tmp" && echo 'source script.lsm' |
    "$cli" --path "$tmp/db3" >"$tmp/out" 2>"$tmp/err")
check "long lines in a sourced file" $? 1 "$want_out" "$(errors 'script.lsm:')
"

# --bail stops at the refused line, as at any failed line.
"$cli" --path "$tmp/db4" --bail <"$tmp/script.lsm" >"$tmp/out" 2>"$tmp/err"
check "--bail at a long line" $? 1 'a stored
' "$(errors 'line ' | head -n 1)
"

# A line far too long to hold: 400 MB under a 300 MB address-space limit.
# The shell must not try to hold it. (Skipped where the limit keeps the
# binary from starting at all, as with AddressSanitizer's shadow memory.)
huge=400000000
if sh -c 'ulimit -v 300000 && exec "$0" --version' "$cli" >/dev/null 2>&1
then
    {
        echo 'put a 1'
        xs "$huge"
        echo
        echo 'get a'
    } | (ulimit -v 300000 && "$cli" --path "$tmp/db5" >"$tmp/out" 2>"$tmp/err")
    check "a line too long to allocate" $? 1 'a stored
a=b"1"
' "error: line 2: line is $huge bytes, longer than the $limit-byte limit
"
else
    echo "note: ulimit -v stops $cli from starting; huge line skipped"
fi

# Inputs that cannot be read: a directory as stdin, as --script, as a
# sourced file. Each is an error, and the exit status is 1.
"$cli" --path "$tmp/db6" <"$tmp" >"$tmp/out" 2>"$tmp/err"
check "stdin is a directory" $? 1 '' 'error: cannot read the input: Is a directory
'
"$cli" --path "$tmp/db7" --script "$tmp" -c 'get a' </dev/null \
    >"$tmp/out" 2>"$tmp/err"
check "--script is a directory" $? 1 'a not exist
' 'error: cannot read the input: Is a directory
'
printf 'source %s\nget a\n' "$tmp" |
    "$cli" --path "$tmp/db8" >"$tmp/out" 2>"$tmp/err"
check "source of a directory" $? 1 'a not exist
' "error: line 1: source: '$tmp': cannot read: Is a directory
"

if [ "$n_failed" -ne 0 ]; then
    echo "$n_failed check(s) failed"
    exit 1
fi
echo "long line checks passed"
