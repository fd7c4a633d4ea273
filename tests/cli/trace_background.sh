#!/bin/sh
# trace_background.sh: `trace on` with --background, where the steps of the
# write path come from three threads (the shell's writes, the flush thread,
# the compaction thread) and interleave differently on every run, so no
# transcript can hold them. What must hold on every run:
#   - a compaction's steps print between its "compacting" line and its
#     "compaction finished" line (the shell holds a compaction's lines back
#     until the flushes of its inputs have printed, and its steps with
#     them: see cli/events.c);
#   - a flush's steps (create, write, fsync of N.sst, its manifest record,
#     the deletion of N.wal) print before its "flushed N.sst" line, and the
#     bytes written are that line's size;
#   - a WAL created while tracing is written only after its creation was
#     made durable (the first WAL was created at open, untraced).
# The run is repeated, as the interleaving varies.
#
#   trace_background.sh LSM_CLI
set -u
cli=$1
case $cli in /*) ;; *) cli=$PWD/$cli ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsm-cli-trace.XXXXXX") || exit 99
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT TERM
n_failed=0

# check_order FILE: prints each broken rule with its line; exits 1 if any.
check_order() {
    awk '
    function bad(why) { print "line " NR ": " why ": " $0; failed = 1 }
    /^compacting / { in_compaction = 1 }
    /^compaction finished/ { in_compaction = 0 }
    /\(compaction into / && !in_compaction {
        bad("a compaction step outside the lines of its compaction")
    }
    /^write [0-9]+ B to [0-9]+\.sst \(flush of memtable / {
        written[$5] = $2
    }
    /\(flushed memtable [0-9]+ is in [0-9]+\.sst/ {
        match($0, /is in [0-9]+\.sst/)
        recorded[substr($0, RSTART + 6, RLENGTH - 6)] = 1
    }
    /^delete [0-9]+\.wal \(memtable [0-9]+ was flushed\)/ {
        sub(/\.wal$/, "", $2); wal_deleted[$2 ".sst"] = 1
    }
    /^flushed [0-9]+\.sst with size=/ {
        name = $2; size = $4; sub(/^size=/, "", size)
        flushes++
        if (!(name in written)) bad("flushed before its SST was written")
        else if (written[name] != size) bad("written " written[name] " B")
        if (!(name in recorded)) bad("flushed before its manifest record")
        if (!(name in wal_deleted)) bad("flushed before its WAL was deleted")
    }
    /^fsync dir \([0-9]+\.wal created\)/ {
        name = $3; sub(/^\(/, "", name); durable[name] = 1
    }
    /^create [0-9]+\.wal / { created[$2] = 1 }
    /^append [0-9]+ B to [0-9]+\.wal / {
        if (($5 in created) && !($5 in durable))
            bad("appended before its creation was durable")
    }
    /\(compaction into L/ { compaction_steps++ }
    END {
        if (flushes == 0 || compaction_steps == 0) {
            print "no flush or no compaction step was traced"; failed = 1
        }
        exit failed
    }' "$1"
}

for run in 1 2 3 4 5 6 7 8 9 10; do
    rm -rf "$tmp/db"
    "$cli" --path "$tmp/db" --background --compaction simple \
        --target-sst-size 256 -c "trace on" -c "fill 1 400" -c flush \
        -c "fill 1 200" -c "full_compaction" </dev/null >"$tmp/out" \
        2>"$tmp/err"
    status=$?
    if [ "$status" -ne 0 ] || [ -s "$tmp/err" ] ||
        ! check_order "$tmp/out" >"$tmp/why"; then
        echo "FAIL: run $run (exit $status)"
        cat "$tmp/why" "$tmp/err"
        n_failed=$((n_failed + 1))
    fi
done

# Off, nothing of the trace prints, even from the threads.
rm -rf "$tmp/db"
"$cli" --path "$tmp/db" --background --compaction simple \
    --target-sst-size 256 -c "trace on" -c "trace off" -c "fill 1 400" \
    -c flush </dev/null >"$tmp/out" 2>"$tmp/err"
status=$?
if [ "$status" -ne 0 ] ||
    grep -E '^(append|write|fsync|create|delete) ' "$tmp/out"; then
    echo "FAIL: trace off still traced (exit $status)"
    n_failed=$((n_failed + 1))
fi

if [ "$n_failed" -ne 0 ]; then
    echo "$n_failed check(s) failed"
    exit 1
fi
echo "trace with --background: ok"
