#!/bin/sh
# man_lint.sh PAGE...: each man page lints clean: `mandoc -T lint -W
# warning` reports nothing (any warning, error or worse fails the test;
# style hints are left out), and where man-db is installed, neither does
# `man --warnings` (groff, as most Debian systems render pages) at 80
# columns. Skipped (77) without mandoc.
set -u
if ! command -v mandoc >/dev/null 2>&1; then
    echo "man_lint: skipped: mandoc is not installed" \
        "(apt-get install mandoc, or scripts/ensure-deps test)"
    exit 77
fi
n_failed=0
for page in "$@"; do
    out=$(mandoc -T lint -W warning "$page" 2>&1)
    status=$?
    if [ "$status" -ne 0 ] || [ -n "$out" ]; then
        printf '%s\n' "$out"
        echo "FAIL: mandoc -T lint -W warning $page (exit $status)"
        n_failed=$((n_failed + 1))
    fi
    if command -v man >/dev/null 2>&1; then
        out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null |
            grep -i -e warning -e error)
        if [ -n "$out" ]; then
            printf '%s\n' "$out"
            echo "FAIL: man --warnings -l $page"
            n_failed=$((n_failed + 1))
        fi
    fi
done
[ "$n_failed" -eq 0 ] || exit 1
echo "$# page(s) lint clean"
