#!/bin/sh
# draw_html.sh LSM_CLI SRCDIR: draw --html in a real browser.
#
# For none, simple, leveled and tiered (inline), leveled with
# --background, and leveled reopened (so step 0 holds SSTs), a session
# writes keys in three overlapping ranges with a flush after each (small
# SSTs, so every strategy compacts). After each flush it prints dump -v
# and manifest: which SSTs were live then, and how many flush and
# compaction records (steps) the MANIFEST held then. At the end it writes
# the page with draw --html. draw_html_check.py then opens every page in
# one headless Chromium, driven over the DevTools protocol (cdp.py), and
# checks each step against those dumps and the manifest, and the page's
# controls as a person uses them (see draw_html_check.py).
#
# Without Chromium (or LSM_CHROMIUM naming none) the test is skipped
# (exit 77).
set -u
cli=$1
src=$2
if ! python3 -B "$src/cdp.py" find >/dev/null; then
    if [ -n "${LSM_CHROMIUM:-}" ]; then
        echo "cli_draw_html: skipped: LSM_CHROMIUM=$LSM_CHROMIUM is no program"
    else
        echo "cli_draw_html: skipped: Chromium is not installed" \
            "(apt-get install chromium)"
    fi
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsm-draw-html.XXXXXX") || exit 99
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 143' HUP INT TERM
failed=0

# session NAME DB OPTIONS...: lsm-cli on $tmp/DB.db reads the script on
# standard input; its output goes to $tmp/NAME.out. (It ends a pipeline,
# so it runs in a subshell: callers add || failed=1.)
session() {
    name=$1
    db=$2
    shift 2
    "$cli" --path "$tmp/$db.db" --target-sst-size 4096 "$@" \
        >"$tmp/$name.out" 2>&1 || {
        echo "draw_html.sh: $name: lsm-cli failed:"
        cat "$tmp/$name.out"
        return 1
    }
}

# The three ranges; after each, the SSTs and records of that moment.
# ("flush" returns once the memtables are in SSTs; inline, the
# compactions they trigger have run by then too.)
writes() {
    printf '%s\n' 'fill 1000 1999' flush 'dump -v' manifest \
        'fill 1500 2500' flush 'dump -v' manifest \
        'fill 2000 3000' flush "$@"
}

for strategy in none simple leveled tiered; do
    writes 'dump -v' manifest "draw --html $tmp/$strategy.html" |
        session "$strategy" "$strategy" --compaction "$strategy" || failed=1
done

# Threads mode: flush waits for the flushes, but the compaction thread
# runs on after it returns, so a dump shows the tree at some moment
# between that flush's record and the manifest printed next (the checker
# allows that window). full_compaction takes the compaction lock, so it
# waits for a running compaction, and leaves only the bottom level, where
# no trigger holds: from then on nothing changes, and the last dump, the
# last manifest and the page all see the same tree and records.
writes full_compaction 'dump -v' manifest \
    "draw --html $tmp/leveled-background.html" |
    session leveled-background background --compaction leveled \
        --background || failed=1

# Reopened: each open starts the MANIFEST with a snapshot of the tree, so
# step 0 holds the first session's SSTs; the dump and manifest printed
# right after the open say which.
printf '%s\n' 'fill 1000 1999' flush 'fill 1500 2500' flush |
    session leveled-reopen-1 reopen --compaction leveled || failed=1
printf '%s\n' 'dump -v' manifest 'fill 2000 3000' flush 'dump -v' manifest \
    "draw --html $tmp/leveled-reopen.html" |
    session leveled-reopen reopen --compaction leveled || failed=1

[ "$failed" = 0 ] || exit 1
python3 -B "$src/draw_html_check.py" "$tmp" none simple leveled tiered \
    leveled-background leveled-reopen
