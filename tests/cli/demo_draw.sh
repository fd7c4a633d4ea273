#!/bin/sh
# demo_draw.sh LSM_CLI SRCDIR README [--update]: scripts/demo-draw.lsm
# (leveled, 4 KB SSTs, as the README runs it) prints SRCDIR/demo_draw.out,
# and the README's code block after the demo's command line (less a first
# line "...") is the end of that output.
#
# The demo writes tree.svg and tree.html into the current directory, so it
# runs in a fresh one (a transcript runs beside its .lsm file); the two
# files must be there afterwards. --update rewrites demo_draw.out instead
# (read it before committing).
set -u
cli=$1
src=$2
readme=$3
mode=${4:-check}
case $cli in /*) ;; *) cli=$PWD/$cli ;; esac
marker='$ ./scripts/run --compaction leveled --target-sst-size 4096 --echo --path /tmp/draw.db < scripts/demo-draw.lsm'
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsm-demo-draw.XXXXXX") || exit 99
trap 'rm -rf -- "$tmp"' EXIT
unset COLUMNS
(cd "$tmp" && "$cli" --echo --path db --compaction leveled \
    --target-sst-size 4096 <"$src/../../scripts/demo-draw.lsm" >out 2>&1) || {
    echo "demo_draw.sh: lsm-cli failed:"
    cat "$tmp/out"
    exit 1
}
for f in tree.svg tree.html; do
    if [ ! -s "$tmp/$f" ]; then
        echo "demo_draw.sh: the demo did not write $f"
        exit 1
    fi
done
if [ "$mode" = --update ]; then
    cp "$tmp/out" "$src/demo_draw.out"
    echo "demo_draw.sh: wrote $src/demo_draw.out"
    exit 0
fi
if ! diff -u "$src/demo_draw.out" "$tmp/out"; then
    echo "demo_draw.sh: the demo's output differs from demo_draw.out"
    exit 1
fi
awk -v m="$marker" '
    $0 == m { inside = 1; next }
    inside && /^```$/ { exit }
    inside && !seen++ && $0 == "..." { next }
    inside { print }
' "$readme" >"$tmp/readme"
if [ ! -s "$tmp/readme" ]; then
    echo "demo_draw.sh: no code block in $readme after: $marker"
    exit 1
fi
tail -n "$(wc -l <"$tmp/readme")" "$tmp/out" >"$tmp/tail"
if ! diff -u "$tmp/tail" "$tmp/readme"; then
    echo "demo_draw.sh: the README's block is not the end of the demo's output"
    exit 1
fi
