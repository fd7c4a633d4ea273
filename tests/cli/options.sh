#!/bin/sh
# options.sh: lsm-cli's command line: --help/--version, bad options (exit
# 2), a database that cannot be opened or a script that is missing (exit 1),
# the accepted mini-lsm options, the compaction strategy's options (bad
# values refused, good ones reaching the engine), --script line numbers,
# keys at and over
# the length limit, data surviving a close and reopen, a database held by
# another lsm-cli (exit 1), and recovery after kill -9 (with --sync, and
# with a torn WAL tail, which is cut off with a warning).
#
#   options.sh LSM_CLI
set -u
cli=$1
case $cli in /*) ;; *) cli=$PWD/$cli ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsm-cli-options.XXXXXX") || exit 99
holder= # a background lsm-cli (see start_holder), killed if we stop early
trap 'if [ -n "$holder" ]; then kill -9 "$holder"; fi; rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT TERM
trap '' PIPE # a holder that died early fails a check instead of killing us
n_failed=0

# run ARGS...: runs lsm-cli with stdin from /dev/null, keeping stdout,
# stderr and the exit status in $tmp/out, $tmp/err and $status.
run() {
    "$cli" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    status=$?
}

# expect WHAT STATUS STDOUT STDERR: compares the last run exactly.
expect() {
    printf '%s' "$3" >"$tmp/want_out"
    printf '%s' "$4" >"$tmp/want_err"
    if [ "$status" -ne "$2" ] ||
        ! cmp -s "$tmp/want_out" "$tmp/out" ||
        ! cmp -s "$tmp/want_err" "$tmp/err"; then
        echo "FAIL: $1 (exit $status, expected $2)"
        diff -u --label "stdout (expected)" --label "stdout (actual)" \
            "$tmp/want_out" "$tmp/out"
        diff -u --label "stderr (expected)" --label "stderr (actual)" \
            "$tmp/want_err" "$tmp/err"
        n_failed=$((n_failed + 1))
    fi
}

# expect_grep WHAT STATUS FILE PATTERN: the status, and a line of FILE
# (out or err) matching the fixed string PATTERN.
expect_grep() {
    if [ "$status" -ne "$2" ] || ! grep -qF -- "$4" "$tmp/$3"; then
        echo "FAIL: $1 (exit $status, expected $2; no '$4' in std$3)"
        cat "$tmp/out" "$tmp/err"
        n_failed=$((n_failed + 1))
    fi
}

# expect_file WHAT FILE CONTENT: compares a file's whole content.
expect_file() {
    printf '%s' "$3" >"$tmp/want"
    if ! cmp -s "$tmp/want" "$2"; then
        echo "FAIL: $1"
        diff -u --label "expected" --label "actual" "$tmp/want" "$2"
        n_failed=$((n_failed + 1))
    fi
}

# drop_events: removes the engine's event lines (the flush that closing
# the database does, and the compactions it triggers) from the last run's
# stdout.
drop_events() {
    grep -v -e '^froze memtable ' -e '^flushed [0-9]*\.sst ' \
        -e '^compaction triggered ' -e '^flush L0 SST to ' \
        -e '^target level sizes: ' -e '^full compaction: ' \
        -e '^compacting ' \
        -e '^compaction finished: ' "$tmp/out" >"$tmp/out.tmp"
    mv -- "$tmp/out.tmp" "$tmp/out"
}

nl='
'
db="$tmp/db"

run --version
expect "--version" 0 "lsm-cli 0.2.0$nl" ""

# mini-lsm-cli's --serializable (its scripts start with it): writes go
# through one-write transactions (tests/cli/week3_serializable.lsm), with
# the replies of plain writes and nothing on stderr.
run --path "$tmp/db-serializable" --serializable -c "get 1"
expect "--serializable" 0 "1 not exist$nl" ""
run --help
expect_grep "--help --serializable" 0 out "--serializable           put, del and fill write as one-write serializable"

run --help
expect_grep "--help usage" 0 out "usage: lsm-cli [OPTIONS]"
expect_grep "--help sizes" 0 out "--num-memtable-limit N"
expect_grep "--help sync" 0 out \
    "  --sync                   fsync the WAL before each write returns,"
expect_grep "--help compaction group" 0 out \
    "compaction (a strategy ignores the others' options; 0 turns a stall off):"
expect_grep "--help max-merge-width" 0 out \
    "  --max-merge-width N      tiered: most tiers merged, 0 = no limit (default 0)"
expect_grep "--help level0 trigger" 0 out \
    "  --level0-file-num-compaction-trigger N  L0 SSTs to compact L0 (default 2)"
if [ "$(grep -c -e '^  --[a-z0-9-]* N  ' "$tmp/out")" -ne 14 ]; then
    echo "FAIL: --help: expected 14 option lines ending in ' N' (12 for" \
        "compaction, --num-memtable-limit, --prefix-len)"
    n_failed=$((n_failed + 1))
fi
if grep -q "takes effect" "$tmp/out"; then
    echo "FAIL: --help still says an option takes effect later"
    n_failed=$((n_failed + 1))
fi

run --bogus
expect "unknown option" 2 "" \
    "error: unknown option '--bogus'; try 'lsm-cli --help'$nl"

run stray
expect "positional argument" 2 "" \
    "error: unexpected argument 'stray' (commands go in -c CMD or on stdin); try 'lsm-cli --help'$nl"

run --path
expect "missing value" 2 "" "error: --path needs a value: --path DIR$nl"

run -c
expect "missing -c value" 2 "" "error: -c needs a value: -c CMD$nl"

# An option where a value should be is a missing value, not a directory
# named --echo.
run --path --echo -c "get 1"
expect "option for a value" 2 "" \
    "error: --path needs a value: --path DIR (got the option '--echo'; write --path=VALUE for a value starting with -)$nl"

run --compaction fast
expect "bad strategy" 2 "" \
    "error: --compaction: unknown strategy 'fast' (expected none, simple, tiered or leveled)$nl"

run --target-sst-size 0
expect "zero size" 2 "" \
    "error: --target-sst-size: '0' is zero (expected a whole number from 1 to 18446744073709551615)$nl"

run --block-size 4k
expect "junk size" 2 "" \
    "error: --block-size: '4k' is not a number (expected a whole number from 1 to 18446744073709551615)$nl"

run --num-memtable-limit=18446744073709551616
expect "overflowing size" 2 "" \
    "error: --num-memtable-limit: '18446744073709551616' is too large (expected a whole number from 1 to 18446744073709551615)$nl"

run --target-sst-size=-1
expect "negative size" 2 "" \
    "error: --target-sst-size: '-1' is not a number (expected a whole number from 1 to 18446744073709551615)$nl"

# The compaction strategy's options: unsigned decimals in the range lsm.h
# documents; anything else exits 2 before the database is opened.
u32=4294967295
run --max-levels 0
expect "--max-levels 0" 2 "" \
    "error: --max-levels: '0' is zero (expected a whole number from 1 to 16)$nl"
run --max-levels=17
expect "--max-levels 17" 2 "" \
    "error: --max-levels: '17' is too large (expected a whole number from 1 to 16)$nl"
run --level0-file-num-compaction-trigger 2x
expect "--level0-file-num-compaction-trigger junk" 2 "" \
    "error: --level0-file-num-compaction-trigger: '2x' is not a number (expected a whole number from 1 to $u32)$nl"
run --size-ratio-percent=0
expect "--size-ratio-percent 0" 2 "" \
    "error: --size-ratio-percent: '0' is zero (expected a whole number from 1 to $u32)$nl"
run --base-level-size-mb -1
expect "--base-level-size-mb -1" 2 "" \
    "error: --base-level-size-mb: '-1' is not a number (expected a whole number from 1 to $u32)$nl"
run --level-size-multiplier 0
expect "--level-size-multiplier 0" 2 "" \
    "error: --level-size-multiplier: '0' is zero (expected a whole number from 1 to $u32)$nl"
run --num-tiers 4294967296
expect "--num-tiers too large" 2 "" \
    "error: --num-tiers: '4294967296' is too large (expected a whole number from 1 to $u32)$nl"
run --max-size-amplification-percent 1.5
expect "--max-size-amplification-percent junk" 2 "" \
    "error: --max-size-amplification-percent: '1.5' is not a number (expected a whole number from 0 to $u32)$nl"
run --size-ratio=
expect "--size-ratio empty" 2 "" \
    "error: --size-ratio: '' is not a number (expected a whole number from 0 to $u32)$nl"
run --min-merge-width 0
expect "--min-merge-width 0" 2 "" \
    "error: --min-merge-width: '0' is zero (expected a whole number from 2 to $u32)$nl"
run --max-merge-width 1
expect "--max-merge-width 1" 2 "" \
    "error: --max-merge-width: '1' is too small (expected 0 for no limit, or a whole number from 2 to $u32)$nl"
run --stall-memtables 0x8
expect "--stall-memtables junk" 2 "" \
    "error: --stall-memtables: '0x8' is not a number (expected 0 for no stall, or a whole number from 1 to $u32)$nl"
run --stall-l0-files
expect "--stall-l0-files without a value" 2 "" \
    "error: --stall-l0-files needs a value: --stall-l0-files N$nl"
run --size-ratios 3
expect "--size-ratios" 2 "" \
    "error: unknown option '--size-ratios'; try 'lsm-cli --help'$nl"

# Good values reach the engine. Zero where it means "no limit" or "never
# stall", and the largest values, are accepted.
run --path "$tmp/db-limits" --compaction tiered --max-merge-width 0 \
    --stall-memtables 0 --stall-l0-files 0 --size-ratio 0 \
    --max-size-amplification-percent 0 --min-merge-width $u32 \
    --num-tiers $u32 --max-levels 16 --base-level-size-mb $u32 \
    --level-size-multiplier $u32 --size-ratio-percent $u32 \
    --level0-file-num-compaction-trigger $u32 -c "put k v" -c "get k"
drop_events
expect "limits accepted" 0 "k stored${nl}k=b\"v\"$nl" ""
# --max-levels: the number of levels dump shows.
run --path "$tmp/db-levels" --max-levels 2 -c dump
expect "--max-levels 2" 0 \
    "Memtable (id 0): 0 keys, 0 B${nl}Immutable memtables (0): []${nl}L1 (0): []${nl}L2 (0): []${nl}Open iterators: 0${nl}dump success$nl" \
    ""
# --level0-file-num-compaction-trigger: simple compaction waits for the
# third L0 SST instead of the second.
run --path "$tmp/db-trigger" --compaction simple \
    --level0-file-num-compaction-trigger 3 \
    -c "put a 1" -c flush -c "put b 2" -c flush -c dump -c "put c 3" -c flush
if [ "$status" -ne 0 ] ||
    ! grep -q '^L0 (2): \[1, 0\]$' "$tmp/out" ||
    [ "$(grep -c '^compaction triggered at level 0 ' "$tmp/out")" -lt 1 ] ||
    [ "$(sed -n '/^L0 (2)/q;/^compaction/p' "$tmp/out")" != "" ]; then
    echo "FAIL: --level0-file-num-compaction-trigger 3: expected two L0" \
        "SSTs, then a compaction after the third flush"
    cat "$tmp/out" "$tmp/err"
    n_failed=$((n_failed + 1))
fi
# --num-tiers: with 2, the second flush already merges the two tiers.
run --path "$tmp/db-tiers" --compaction tiered --num-tiers 2 \
    -c "put a 1" -c flush -c "put b 2" -c flush -c dump
expect_grep "--num-tiers 2" 0 out "compacting tier 1 [1] + tier 0 [0] into a new tier"
# --level-sizes static: L0 goes to L1 (the base level is always L1), and
# the targets are fixed from L1 down; --leveled-pick min-overlap says why
# it chose the SST it pushes.
run --path "$tmp/db-static" --level-sizes static -c "put a 1" -c flush \
    -c "put b 2" -c flush
expect_grep "--level-sizes static" 0 out "flush L0 SST to base level 1"
run --path "$tmp/db-dynamic" -c "put a 1" -c flush -c "put b 2" -c flush
expect_grep "dynamic level sizes by default" 0 out \
    "flush L0 SST to base level 4"
run --path "$tmp/db-pick" --level-sizes static --leveled-pick min-overlap \
    --base-level-size-mb 1 --target-sst-size 65536 -c "fill 1 200000"
expect_grep "--level-sizes static targets" 0 out \
    'target level sizes: ["1.000MB", "2.000MB", "4.000MB", "8.000MB"]'
expect_grep "--leveled-pick min-overlap" 0 out \
    "(min-overlap: it rewrites 0.00 bytes of L2 per byte, the fewest in L1)"
run --leveled-pick newest
expect "bad --leveled-pick" 2 "" \
    "error: --leveled-pick: unknown rule 'newest' (expected oldest or min-overlap)$nl"
run --level-sizes fixed
expect "bad --level-sizes" 2 "" \
    "error: --level-sizes: unknown kind 'fixed' (expected dynamic or static)$nl"
# The stall limits only matter with --background, where they hold writers
# back until the threads catch up; stats counts the stalls (how many
# depends on timing, so only the lines are checked).
run --path "$tmp/db-stall" --background --stall-memtables 3 \
    --stall-l0-files 2 --target-sst-size 1024 -c "fill 1 300" -c "get 150" \
    -c stats
expect_grep "stalls with --background" 0 out '150=b"value150@0"'
expect_grep "stalls counted" 0 out "write stalls: "
expect_grep "stall time" 0 out "stall time: "

# With --background, flushes and compactions run on two threads, and a
# compaction may see a new SST before its flush has said "flushed N.sst";
# the shell still prints a compaction's lines after the flush lines of its
# inputs.
run --path "$tmp/db-order-bg" --background --compaction simple \
    --target-sst-size 256 -c "fill 1 400" -c flush
if [ "$status" -ne 0 ] || ! grep -q '^compacting ' "$tmp/out" ||
    ! awk '
        NR == FNR { if (/^flushed [0-9]+\.sst /) made[$2 + 0] = 1; next }
        /^flushed [0-9]+\.sst / { seen[$2 + 0] = 1 }
        /^compacting / {
            line = $0
            gsub(/L[0-9]+/, "", line) # level names are not SST ids
            while (match(line, /[0-9]+/)) {
                id = substr(line, RSTART, RLENGTH) + 0
                if (id in made && !(id in seen)) {
                    print "before its flush: " $0; bad = 1
                }
                line = substr(line, RSTART + RLENGTH)
            }
        }
        END { exit bad }' "$tmp/out" "$tmp/out"; then
    echo "FAIL: --background: a compaction printed before the flush of" \
        "one of its inputs (exit $status)"
    cat "$tmp/out" "$tmp/err"
    n_failed=$((n_failed + 1))
fi

: >"$tmp/a-file"
run --path "$tmp/a-file" -c "get 1"
expect_grep "open failure" 1 err "error: cannot open database $tmp/a-file: "

run --path "$db" --script "$tmp/missing.lsm"
expect_grep "missing script" 1 err \
    "error: cannot open script $tmp/missing.lsm: No such file or directory"

# The mini-lsm options are accepted and change nothing visible.
run --path "$tmp/db-tiered" --enable-wal --sync --background \
    --compaction tiered -c "fill 1 10" -c "get 5"
drop_events
expect "accepted options" 0 \
    "10 values filled with epoch 0${nl}5=b\"value5@0\"$nl" ""
run --path "$tmp/db-nowal" --enable-wal --disable-wal -c "fill 1 10" \
    -c "get 5"
drop_events
expect "--disable-wal" 0 \
    "10 values filled with epoch 0${nl}5=b\"value5@0\"$nl" ""

# Data survives close and reopen (and the epoch starts again at 0).
# Opening an existing database prints mini-lsm's two recovery lines; the
# close left the memtable in its WAL (as mini-lsm's close does), so no SST
# was written and open replays that WAL.
run --path "$db" -c "fill 1 10"
drop_events
expect "fill before reopen" 0 "10 values filled with epoch 0$nl" ""
reopened="0 SSTs opened${nl}1 WALs recovered$nl"
run --path "$db" -c "get 5" -c "get 11"
expect "reopen" 0 "${reopened}5=b\"value5@0\"${nl}11 not exist$nl" ""

# --script numbers its lines, comments and blank lines included.
printf '# a comment\n\nget 5\nfil 1\n' >"$tmp/script.lsm"
run --path "$db" --script "$tmp/script.lsm"
expect "--script" 1 "${reopened}5=b\"value5@0\"$nl" \
    "error: line 4: unknown command 'fil'; did you mean 'fill'? type help for the list$nl"

# -c and --script run in the order the command line gives them.
printf 'get 1\n' >"$tmp/get1.lsm"
run --path "$tmp/db-order" -c "fill 1 1" --script "$tmp/get1.lsm" -c "del 1" \
    --script "$tmp/get1.lsm"
drop_events
expect "-c and --script in order" 0 \
    "1 values filled with epoch 0${nl}1=b\"value1@0\"${nl}1 deleted${nl}1 not exist$nl" \
    ""

# Keys of LSM_MAX_KEY_BYTES work; one byte more is the engine's error.
key=$(head -c 65535 /dev/zero | tr '\0' k)
run --path "$db" -c "put $key v" -c "get $key"
drop_events
expect "longest key" 0 "${reopened}$key stored${nl}$key=b\"v\"$nl" ""
run --path "$db" -c "put ${key}k v"
expect_grep "over-long key" 1 err "error: put: "
# The close before left a second memtable in its WAL: both replay.
if [ "$(cat "$tmp/out")" != "0 SSTs opened${nl}2 WALs recovered" ] ||
    [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
    echo "FAIL: over-long key: expected the recovery lines and one error line"
    n_failed=$((n_failed + 1))
fi

# start_holder DB ARGS...: starts a background lsm-cli on DB whose stdin is
# the FIFO on fd 3 (kept open, so it waits for more) and whose stdout and
# stderr are the FIFO on fd 4; its pid goes in $holder. Opening a FIFO
# waits for the other end: the child's shell opens hold_in, then hold_out,
# and so does this function, so this cannot deadlock.
start_holder() {
    hold_db=$1
    shift
    rm -f -- "$tmp/hold_in" "$tmp/hold_out"
    mkfifo "$tmp/hold_in" "$tmp/hold_out" || exit 99
    "$cli" --path "$hold_db" "$@" <"$tmp/hold_in" >"$tmp/hold_out" 2>&1 &
    holder=$!
    exec 3>"$tmp/hold_in" 4<"$tmp/hold_out"
}

# holder_run CMD: sends CMD and "get MARKER" to the holder and copies its
# output to $tmp/hold_reply up to the marker's reply, which shows that CMD
# is done (and so is lsm_open, which comes before reading any line).
holder_run() {
    printf '%s\nget holder-marker\n' "$1" >&3
    sed -n -e '/^holder-marker not exist$/q' -e p <&4 >"$tmp/hold_reply"
}

# stop_holder SIGNAL: with SIGNAL "none", closes the holder's stdin so it
# closes the database and exits; otherwise kills it with SIGNAL. The exit
# status goes in $holder_status and the rest of its output in
# $tmp/hold_reply.
stop_holder() {
    if [ "$1" != none ]; then
        kill "-$1" "$holder" # before closing stdin, which would quit it
    fi
    exec 3>&-
    cat <&4 >"$tmp/hold_reply"
    exec 4<&-
    wait "$holder" 2>/dev/null # no "Killed" notice
    holder_status=$?
    holder=
}

# A database in use by another process: a second lsm-cli cannot open it,
# says why (the engine's message, then its details in parentheses) and
# exits 1 having run nothing; the first one goes on and closes cleanly, and
# then the database opens again.
busy="$tmp/db-busy"
start_holder "$busy"
holder_run "put k v"
expect_file "holder put" "$tmp/hold_reply" "k stored$nl"
# The lock is on the directory itself, not on a file in it (test_dir.c
# checks that deleting files cannot undo it).
run --path "$busy" -c "get k"
expect_grep "database in use" 1 err \
    "error: cannot open database $busy: database is in use by another process ("
if [ -s "$tmp/out" ] || [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
    echo "FAIL: database in use: expected exactly one error line"
    cat "$tmp/out" "$tmp/err"
    n_failed=$((n_failed + 1))
fi
stop_holder none
if [ "$holder_status" -ne 0 ]; then
    echo "FAIL: the holder exited with status $holder_status, expected 0"
    cat "$tmp/hold_reply"
    n_failed=$((n_failed + 1))
fi
run --path "$busy" -c "get k"
expect_grep "open after the holder quit" 0 out 'k=b"v"'

# Recovery after kill -9 with --sync: every acknowledged write is in the WAL
# and the reopened database has it; no SST was written, so none is opened.
synced="$tmp/db-sync"
start_holder "$synced" --sync
holder_run "fill 1 3"
holder_run "del 2"
stop_holder KILL
if [ "$holder_status" -ne 137 ]; then
    echo "FAIL: kill -9 with --sync: holder exit status $holder_status"
    n_failed=$((n_failed + 1))
fi
run --path "$synced" --sync -c "scan"
drop_events
expect "recovery with --sync" 0 \
    "0 SSTs opened${nl}1 WALs recovered${nl}b\"1\"=b\"value1@0\"${nl}b\"3\"=b\"value3@0\"${nl}${nl}2 keys scanned$nl" \
    ""

# A torn WAL tail (a record cut short by a crash mid-write) is cut off with
# a warning on stderr; the records before it are recovered.
torn="$tmp/db-torn"
start_holder "$torn"
holder_run "put a 1"
holder_run "put b 2"
stop_holder KILL
wal=$(ls -S "$torn"/*.wal 2>/dev/null | head -n 1) # the one with records
if [ -n "$wal" ]; then
    truncate -s -1 "$wal"
else
    echo "FAIL: no WAL in $torn after kill -9"
    n_failed=$((n_failed + 1))
fi
run --path "$torn" -c "get a" -c "get b"
drop_events
expect_grep "torn WAL tail warned" 0 err "warning: $wal: "
if [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
    echo "FAIL: torn WAL tail: expected exactly one warning line"
    cat "$tmp/err"
    n_failed=$((n_failed + 1))
fi
expect_file "torn WAL tail recovered" "$tmp/out" \
    "0 SSTs opened${nl}1 WALs recovered${nl}a=b\"1\"${nl}b not exist$nl"

# --manifest-rewrite-bytes reaches the engine: with a 1-byte threshold
# every record after the snapshot rewrites the MANIFEST, so after two
# flushes it holds a snapshot and at most one record; with 0 (open only)
# the records pile up behind the snapshot. A bad value is refused.
rewrite_records() { # DB THRESHOLD: prints the MANIFEST's record count
    "$cli" --path "$1" --manifest-rewrite-bytes "$2" \
        -c "put a 1" -c flush -c "put b 2" -c flush -c manifest \
        </dev/null 2>/dev/null | grep -c '^@'
}
small=$(rewrite_records "$tmp/db-rewrite-1" 1)
large=$(rewrite_records "$tmp/db-rewrite-0" 0)
if [ "$small" -gt 2 ] || [ "$large" -le 3 ]; then
    echo "FAIL: --manifest-rewrite-bytes: $small records with 1, $large with 0"
    n_failed=$((n_failed + 1))
fi
run --manifest-rewrite-bytes -1
expect "--manifest-rewrite-bytes -1" 2 "" \
    "error: --manifest-rewrite-bytes: '-1' is not a number (expected a whole number from 0 to 18446744073709551615)$nl"

# --mmap-reads reads the same data.
run --path "$tmp/db-mmap" --mmap-reads -c "put k v" -c flush -c "get k"
drop_events
expect_grep "--mmap-reads" 0 out 'k=b"v"'

# --no-memtable-bloom: the memtable is searched, not skipped by a filter.
run --path "$tmp/db-nobloom" --no-memtable-bloom -c "put k v" -c "explain get j"
drop_events
expect_grep "--no-memtable-bloom" 0 out '1. memtable 0: miss, 1 key compared'
run --path "$tmp/db-bloom" -c "put k v" -c "explain get j"
drop_events
expect_grep "memtable bloom on by default" 0 out '1. memtable 0: skipped: bloom filter says absent'
# --cache-index-and-filter-blocks reads the same data, from SSTs whose
# index and filter live in the cache.
run --path "$tmp/db-cif" --cache-index-and-filter-blocks -c "put k v" \
    -c flush -c "get k" -c "get j"
drop_events
expect_grep "--cache-index-and-filter-blocks" 0 out 'k=b"v"'

if [ "$n_failed" -ne 0 ]; then
    echo "$n_failed check(s) failed"
    exit 1
fi
echo "all option checks passed"
