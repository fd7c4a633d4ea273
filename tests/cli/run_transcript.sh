#!/bin/sh
# run_transcript.sh: replays one lsm-cli transcript test and compares.
#
#   run_transcript.sh LSM_CLI NAME.lsm [--update]
#
# NAME.lsm is fed on stdin to
#   LSM_CLI --echo --path <fresh temp dir>/db [ARGS]
# run from the directory holding NAME.lsm (so "source sub.inc" finds files
# beside it), with stdout and stderr combined. The result must equal NAME.out
# byte for byte and the exit status must match. ARGS come from an optional
# first line "# args: ..." (shell words, quotes allowed); the expected exit
# status from an optional "# exit: N" line (default 0). On a mismatch a
# unified diff is printed and the test fails.
#
# Reopening: a line that is exactly "# reopen" or "# crash" (comments to
# lsm-cli) splits the script into segments, each run by its own lsm-cli
# process on the same database, with the outputs concatenated and the
# directive line itself written between them:
#   # reopen   the segment before it ends at the end of its input, so lsm-cli
#              closes the database cleanly (flushing its memtables);
#   # crash    once lsm-cli has run every line of the segment before it (its
#              stdin is a FIFO kept open, and a last "get" of a marker key
#              shows when it got there; that get is not in the output), it is
#              killed with SIGKILL: nothing is closed, as after kill -9.
# Each segment is fed the script's lines up to its end, with the lines of
# earlier segments blanked, so "line N" in an error is the line of NAME.lsm.
# "# exit: N" is the status of the last segment; a segment ending at
# "# reopen" must exit 0, and one ending at "# crash" must still be running.
#
# --update writes NAME.out from the run instead of comparing (then read every
# line of it before committing it) and prints the exit status to record.
set -u
# draw sizes its picture by COLUMNS: every transcript draws 80 columns.
unset COLUMNS

if [ $# -lt 2 ]; then
    echo "usage: $0 LSM_CLI NAME.lsm [--update]" >&2
    exit 2
fi
cli=$1
script=$2
mode=${3:-check}

case $cli in /*) ;; *) cli=$PWD/$cli ;; esac
dir=$(dirname -- "$script")
base=$(basename -- "$script" .lsm)
cd -- "$dir" || exit 99

args=$(sed -n '1s/^# args:[[:space:]]*//p' "$base.lsm")
want_status=$(sed -n 's/^# exit:[[:space:]]*\([0-9][0-9]*\)[[:space:]]*$/\1/p' \
    "$base.lsm" | head -n 1)
: "${want_status:=0}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsm-cli-test.XXXXXX") || exit 99
pid=
trap 'if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null; fi; rm -rf -- "$tmp"' \
    EXIT
trap 'exit 130' INT TERM

eval "set -- $args"
: >"$tmp/out"
failed=0
marker=lsm-transcript-crash-point

# segment FIRST LAST: writes the lines FIRST..LAST of NAME.lsm to $tmp/in,
# with the lines before FIRST blanked so that line numbers stay those of
# NAME.lsm.
segment() {
    awk -v first="$1" -v last="$2" \
        'NR > last { exit } { print (NR < first ? "" : $0) }' \
        "$base.lsm" >"$tmp/in"
}

# run_clean ARGS...: runs lsm-cli on $tmp/in to its end; the status goes in
# $status.
run_clean() {
    "$cli" --echo --path "$tmp/db" "$@" <"$tmp/in" >>"$tmp/out" 2>&1
    status=$?
}

# run_crash LINE ARGS...: runs lsm-cli on $tmp/in through FIFOs, reads its
# output up to the marker's reply, then kills it with SIGKILL. LINE (of the
# directive) names the segment in failure messages.
run_crash() {
    crash_line=$1
    shift
    rm -f -- "$tmp/fifo_in" "$tmp/fifo_out"
    mkfifo "$tmp/fifo_in" "$tmp/fifo_out" || exit 99
    "$cli" --echo --path "$tmp/db" "$@" <"$tmp/fifo_in" >"$tmp/fifo_out" 2>&1 &
    pid=$!
    # Opening a FIFO waits for its other end: lsm-cli's shell opens fifo_in
    # first, then fifo_out, in this same order, so this cannot deadlock.
    exec 3>"$tmp/fifo_in" 4<"$tmp/fifo_out"
    # In the background, so a long output can never block the input.
    { cat "$tmp/in"; printf 'get %s\n' "$marker"; } >&3 &
    sed -n -e "/^lsm-cli> get $marker\$/d" -e "/^$marker not exist\$/q" \
        -e p <&4 >>"$tmp/out"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null # no "Killed" notice
    status=$?
    pid=
    wait # for the writer
    exec 3>&- 4<&-
    if [ "$status" -ne 137 ]; then
        echo "$base: lsm-cli exited with status $status before the" \
            "'# crash' at line $crash_line (did the segment quit or --bail?)"
        failed=1
    fi
}

first=1
for boundary in $(grep -n -x -e '# reopen' -e '# crash' "$base.lsm" |
    sed 's/:# /:/'); do
    line=${boundary%%:*}
    kind=${boundary#*:}
    segment "$first" "$((line - 1))"
    if [ "$kind" = crash ]; then
        run_crash "$line" "$@"
    else
        run_clean "$@"
        if [ "$status" -ne 0 ]; then
            echo "$base: the segment ending at the '# reopen' at line" \
                "$line exited with status $status, expected 0"
            failed=1
        fi
    fi
    echo "# $kind" >>"$tmp/out"
    first=$((line + 1))
done
segment "$first" 999999999 # to the end
run_clean "$@"

if [ "$mode" = "--update" ]; then
    cp -- "$tmp/out" "$base.out" || exit 99
    echo "$base.out written; exit status $status (expected $want_status)"
    exit $failed
fi

if ! diff -u --label "$base.out (expected)" --label "$base.out (actual)" \
    "$base.out" "$tmp/out"; then
    failed=1
fi
if [ "$status" -ne "$want_status" ]; then
    echo "$base: exit status $status, expected $want_status"
    failed=1
fi
exit $failed
