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
# --update writes NAME.out from the run instead of comparing (then read every
# line of it before committing it) and prints the exit status to record.
set -u

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
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT TERM

eval "set -- $args"
"$cli" --echo --path "$tmp/db" "$@" <"$base.lsm" >"$tmp/out" 2>&1
status=$?

if [ "$mode" = "--update" ]; then
    cp -- "$tmp/out" "$base.out" || exit 99
    echo "$base.out written; exit status $status (expected $want_status)"
    exit 0
fi

failed=0
if ! diff -u --label "$base.out (expected)" --label "$base.out (actual)" \
    "$base.out" "$tmp/out"; then
    failed=1
fi
if [ "$status" -ne "$want_status" ]; then
    echo "$base: exit status $status, expected $want_status"
    failed=1
fi
exit $failed
