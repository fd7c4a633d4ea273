#!/bin/sh
# readme_example.sh README EXAMPLE_C EXAMPLE_OUT: the README's "Using the
# library" shows the example program the install test builds, and what it
# prints, as they are: the fenced block after the line
# "<!-- tests/install/example.c -->" is example.c, byte for byte, and the
# one after "<!-- tests/install/example.out -->" is example.out.
set -u
readme=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsm-readme-example.XXXXXX") || exit 99
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 143' HUP INT TERM
n_failed=0

# block MARKER: the lines of the fenced block after "<!-- MARKER -->".
block() {
    awk -v marker="<!-- $1 -->" '
        $0 == marker { state = 1; next }
        state == 1 && /^```/ { state = 2; next }
        state == 2 && /^```/ { exit }
        state == 2 { print }' "$readme"
}

# check MARKER FILE
check() {
    block "$1" >"$tmp/block"
    if [ ! -s "$tmp/block" ]; then
        echo "FAIL: the README has no block after <!-- $1 -->"
        n_failed=$((n_failed + 1))
    elif ! cmp -s "$2" "$tmp/block"; then
        echo "FAIL: the README's block after <!-- $1 --> is not $1:"
        diff -u --label "$1" --label README.md "$2" "$tmp/block"
        n_failed=$((n_failed + 1))
    fi
}

check tests/install/example.c "$2"
check tests/install/example.out "$3"
[ "$n_failed" -eq 0 ] || exit 1
echo "the README shows example.c and example.out as they are"
