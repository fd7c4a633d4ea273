#!/bin/sh
# simulate_book.sh LSM_CLI: `simulate` against the mini-lsm book's week 2
# samples (mini-lsm-book/src/week2-02-simple.md and week2-03-tiered.md at
# commit c78835c), which print what the reference simulator prints. Each
# case runs one simulate command and compares a part of its output (the
# last iteration, or one iteration's block) with the book's text.
set -u
cli=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
n_failed=0

# check NAME COMMAND FILTER: runs COMMAND in lsm-cli, keeps what FILTER
# (a sed script) prints of its output, and compares it with stdin.
check() {
    cat >"$tmp/want"
    if ! "$cli" --path "$tmp/db" -c "$2" >"$tmp/out" 2>"$tmp/err"; then
        echo "FAIL: $1: lsm-cli failed"; cat "$tmp/err"
        n_failed=$((n_failed + 1)); return
    fi
    sed -n "$3" "$tmp/out" >"$tmp/got"
    if ! cmp -s "$tmp/want" "$tmp/got"; then
        echo "FAIL: $1"
        diff -u --label book --label simulate "$tmp/want" "$tmp/got"
        n_failed=$((n_failed + 1))
    else
        echo "ok: $1"
    fi
}

# The last iteration of a run (from its "=== Iteration" line on).
last='/^=== Iteration 199 ===$/,$p'

# The book ran this one with 3 tiers (its text predates the simulator's
# default of 8, which would wait for 8 tiers).
check "tiered: space amplification triggers a full merge" \
    "simulate tiered --iterations 10 --num-tiers 3" \
    '/^=== Iteration 2 ===$/,/^--- After Compaction ---$/{p;/^--- After Compaction ---$/{n;p;q}}' <<'BOOK'
=== Iteration 2 ===
--- After Flush ---
L3 (1): [3]
L2 (1): [2]
L1 (1): [1]
--- Compaction Task ---
compaction triggered by space amplification ratio: 200
L3 [3] L2 [2] L1 [1] -> [4, 5, 6]
--- After Compaction ---
L4 (3): [3, 2, 1]
BOOK

# The book prints this iteration from a controller with only the space
# amplification trigger, which is also the first the full one checks; the
# reference prints the task header twice in tiered mode, simulate once.
check "tiered: 8 tiers merged by space amplification" \
    "simulate tiered --iterations 8" '/^=== Iteration 7 ===$/,$p' <<'BOOK'
=== Iteration 7 ===
--- After Flush ---
L8 (1): [8]
L7 (1): [7]
L6 (1): [6]
L5 (1): [5]
L4 (1): [4]
L3 (1): [3]
L2 (1): [2]
L1 (1): [1]
--- Compaction Task ---
compaction triggered by space amplification ratio: 700
L8 [8] L7 [7] L6 [6] L5 [5] L4 [4] L3 [3] L2 [2] L1 [1] -> [9, 10, 11, 12, 13, 14, 15, 16]
--- After Compaction ---
L9 (8): [8, 7, 6, 5, 4, 3, 2, 1]
--- Compaction Task ---
1 compaction triggered in this iteration
--- Statistics ---
Write Amplification: 16/8=2.000x
Maximum Space Usage: 16/8=2.000x
Read Amplification: 1x

BOOK

check "tiered: all three triggers, 200 iterations" \
    "simulate tiered --iterations 200 --size-only" "$last" <<'BOOK'
=== Iteration 199 ===
--- After Flush ---
Levels: 0 1 1 4 5 21 28 140
no compaction triggered
--- Statistics ---
Write Amplification: 742/200=3.710x
Maximum Space Usage: 280/200=1.400x
Read Amplification: 7x

BOOK

check "tiered: 16 tiers, 200 iterations" \
    "simulate tiered --iterations 200 --size-only --num-tiers 16" "$last" <<'BOOK'
=== Iteration 199 ===
--- After Flush ---
Levels: 0 1 1 1 1 1 1 1 1 1 1 15 175
no compaction triggered
--- Statistics ---
Write Amplification: 607/200=3.035x
Maximum Space Usage: 350/200=1.750x
Read Amplification: 12x

BOOK

# The book's simple walkthrough shows real ids: two flushes ripple down to
# L3, and later L2 and L3 hold two SSTs each.
check "simple: L0 into L1, then down to L3" \
    "simulate simple --dump-real-id --iterations 2" \
    '/^L0 (2): \[1, 2\]$/,/^3 compaction/{/^L[0-3] /p}' <<'BOOK'
L0 (2): [1, 2]
L1 (0): []
L2 (0): []
L3 (0): []
L0 (0): []
L1 (2): [3, 4]
L2 (0): []
L3 (0): []
L0 (0): []
L1 (0): []
L2 (2): [5, 6]
L3 (0): []
L0 (0): []
L1 (0): []
L2 (0): []
L3 (2): [7, 8]
BOOK

check "simple: L3/L2 = 1 < 2 merges L2 into L3" \
    "simulate simple --dump-real-id --iterations 4" \
    '/^L2 (2): \[13, 14\]$/{N;s/\n/|/p}' <<'BOOK'
L2 (2): [13, 14]|L3 (2): [7, 8]
BOOK

check "simple: then L3 holds four SSTs" \
    "simulate simple --dump-real-id --iterations 4" \
    '/^=== Iteration 3 ===$/,${/^--- After Compaction ---$/{n;n;n;n;h}};${x;p}' <<'BOOK'
L3 (4): [15, 16, 17, 18]
BOOK

[ "$n_failed" -eq 0 ] || { echo "$n_failed case(s) differ from the book"; exit 1; }
