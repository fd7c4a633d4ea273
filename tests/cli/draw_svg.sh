#!/bin/sh
# draw_svg.sh LSM_CLI SRCDIR [--update]: draw --svg for each strategy.
#
# For none, simple, leveled and tiered, a session writes keys in three
# overlapping ranges (small SSTs, so every strategy compacts), opens an
# iterator and draws the tree with draw --svg. Each SVG must equal
# SRCDIR/draw_svg_STRATEGY.svg byte for byte (the same state, the same
# bytes), and pass draw_svg_check.py against the session's own dump:
# well-formed XML, one box per SST, inside the canvas, no overlap within a
# level. --update rewrites the golden files instead (read them first).
set -u
cli=$1
src=$2
mode=${3:-check}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsm-draw-svg.XXXXXX") || exit 99
trap 'rm -rf -- "$tmp"' EXIT
failed=0
for strategy in none simple leveled tiered; do
    printf '%s\n' 'fill 1000 1999' flush 'fill 1500 2500' flush \
        'fill 2000 3000' 'iter open it 2100 2200' \
        "draw --svg $tmp/$strategy.svg" dump |
        "$cli" --path "$tmp/$strategy.db" --compaction "$strategy" \
            --target-sst-size 4096 >"$tmp/$strategy.out" 2>&1 || {
        echo "draw_svg.sh: $strategy: lsm-cli failed:"
        cat "$tmp/$strategy.out"
        failed=1
        continue
    }
    golden=$src/draw_svg_$strategy.svg
    if [ "$mode" = --update ]; then
        cp "$tmp/$strategy.svg" "$golden"
        echo "draw_svg.sh: wrote $golden"
    elif ! cmp -s "$tmp/$strategy.svg" "$golden"; then
        echo "draw_svg.sh: $strategy: the SVG differs from $golden:"
        diff "$golden" "$tmp/$strategy.svg" | head -20
        failed=1
    fi
    python3 "$src/draw_svg_check.py" "$tmp/$strategy.svg" \
        "$tmp/$strategy.out" || failed=1
done
exit $failed
