#!/bin/sh
# inspect_damage.sh LSM_CLI: the inspectors and verify on deliberately
# damaged files, as one-shot command lines (lsm-cli --path DIR -c ...).
#
# A database of two SSTs and a WAL is made and closed; then:
#   - verify on it: exit 0, "verify: OK";
#   - a byte flipped in the second data block of a copy of an SST (and of
#     a zstd-compressed one, caught before decompressing):
#     sst FILE marks that block DAMAGED, still lists the others, and exits
#     1 naming the offset; verify on a copy of the database holding that
#     SST exits 1 with "verify: PROBLEMS" and the same offset;
#   - a WAL cut mid-record: wal FILE shows the whole records and where the
#     torn tail starts (exit 0); a WAL damaged before its end: the records
#     before it, then an error naming the offset (exit 1);
#   - a MANIFEST damaged in a record: manifest --file shows the records
#     before it and fails naming the offset;
#   - a file the database does not own: verify names it; orphaned SSTs
#     and WALs (which open deletes) are named by a read-only verify, which
#     changes nothing;
#   - a file that is no SST at all (a WAL given to sst): an error, never a
#     crash (exit 1, not a signal).
set -u
cli=$1
case $cli in /*) ;; *) cli=$PWD/$cli ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsm-inspect-damage.XXXXXX") || exit 99
trap 'rm -rf -- "$tmp"' EXIT
failed=0

fail() {
    echo "inspect_damage.sh: $*"
    failed=1
}

# run NAME EXPECTED_STATUS ARGS...: lsm-cli ARGS, output in $tmp/NAME.
run() {
    name=$1
    want=$2
    shift 2
    "$cli" "$@" >"$tmp/$name" 2>&1
    got=$?
    if [ "$got" != "$want" ]; then
        fail "$name: exit status $got, expected $want:"
        cat "$tmp/$name"
    fi
}

# expect NAME TEXT: the output of NAME holds TEXT.
expect() {
    if ! grep -qF -- "$2" "$tmp/$1"; then
        fail "$1: no '$2' in:"
        cat "$tmp/$1"
    fi
}

# flip FILE OFFSET: inverts one byte of FILE.
flip() {
    python3 -c '
import sys
path, at = sys.argv[1], int(sys.argv[2])
data = bytearray(open(path, "rb").read())
data[at] ^= 0xff
open(path, "wb").write(bytes(data))' "$1" "$2"
}

db=$tmp/db
printf '%s\n' 'fill 1000 1999' flush 'put late 1' 'del 1500' |
    "$cli" --path "$db" --compaction none --target-sst-size 8192 \
        >"$tmp/make" 2>&1 || { fail "making the database failed"; cat "$tmp/make"; }
# Every open rewrites the MANIFEST to one snapshot: keep the first
# session's, whose records a damaged copy below needs.
cp "$db/MANIFEST" "$tmp/MANIFEST.orig"
run healthy 0 --path "$db" --compaction none -c verify
expect healthy "verify: OK"

# The second data block of 0.sst.
run report 0 --path "$db" --compaction none -c "sst 0"
block1=$(sed -n 's/^    block 1: offset \([0-9]*\),.*/\1/p' "$tmp/report")
[ -n "$block1" ] || fail "no block 1 in: $(cat "$tmp/report")"
cp "$db/0.sst" "$tmp/bad.sst"
flip "$tmp/bad.sst" $((block1 + 10))
run bad_sst 1 --path "$db" --compaction none -c "sst $tmp/bad.sst --blocks"
expect bad_sst "block 1: offset $block1"
expect bad_sst "DAMAGED"
expect bad_sst "  block 0:"
expect bad_sst "data block at offset $block1: checksum mismatch"

cp -R "$db" "$tmp/copy"
cp "$tmp/bad.sst" "$tmp/copy/0.sst"
run verify_bad 1 --path "$tmp/copy" --compaction none -c verify
expect verify_bad "verify: PROBLEMS"
expect verify_bad "0.sst: data block at offset $block1: checksum mismatch"

# The same with zstd blocks: a byte flipped in block 1's compressed bytes
# is caught by their checksum before anything is decompressed.
zdb=$tmp/zdb
printf '%s\n' 'fill 1000 1999' flush |
    "$cli" --path "$zdb" --compaction none --compression zstd \
        --target-sst-size 8192 >"$tmp/zmake" 2>&1 ||
    { fail "making the zstd database failed"; cat "$tmp/zmake"; }
run zreport 0 --path "$zdb" --compaction none -c "sst 0"
zblock1=$(sed -n 's/^    block 1: offset \([0-9]*\), [0-9]* B (zstd, .*/\1/p' \
    "$tmp/zreport")
[ -n "$zblock1" ] || fail "no zstd block 1 in: $(cat "$tmp/zreport")"
cp -R "$zdb" "$tmp/zcopy"
flip "$tmp/zcopy/0.sst" $((zblock1 + 10))
run zbad_sst 1 --path "$zdb" --compaction none -c "sst $tmp/zcopy/0.sst"
expect zbad_sst "DAMAGED"
expect zbad_sst "data block at offset $zblock1: checksum mismatch (zstd-compressed bytes)"
run zverify_bad 1 --path "$tmp/zcopy" --compaction none -c verify
expect zverify_bad "verify: PROBLEMS"
expect zverify_bad "0.sst: data block at offset $zblock1: checksum mismatch (zstd-compressed bytes)"

# WALs: the newest memtable's log holds the put and the delete.
wal=$(ls "$db" | sed -n 's/^\([0-9]*\)\.wal$/\1/p' | sort -n | tail -n 1)
run wal 0 --path "$db" --compaction none -c "wal $wal"
expect wal "put late (1 B)"
expect wal "del 1500"
size=$(wc -c <"$db/$wal.wal")
head -c $((size - 3)) "$db/$wal.wal" >"$tmp/torn.wal"
run torn_wal 0 --path "$db" --compaction none -c "wal $tmp/torn.wal"
expect torn_wal "put late (1 B)"
expect torn_wal "torn tail at offset"
cp "$db/$wal.wal" "$tmp/bad.wal"
flip "$tmp/bad.wal" 16
run bad_wal 1 --path "$db" --compaction none -c "wal $tmp/bad.wal"
expect bad_wal "0 records"
expect bad_wal "checksum mismatch in record at offset 0"

# The first session's MANIFEST: its second record's payload damaged.
"$cli" --path "$db" --compaction none \
    -c "manifest --file $tmp/MANIFEST.orig" >"$tmp/records" 2>&1
second=$(grep '^@' "$tmp/records" | sed -n '2s/^@\([0-9]*\) .*/\1/p')
[ -n "$second" ] || fail "no second record in: $(cat "$tmp/records")"
cp "$tmp/MANIFEST.orig" "$tmp/MANIFEST.bad"
flip "$tmp/MANIFEST.bad" $((second + 16))
run bad_manifest 1 --path "$db" --compaction none \
    -c "manifest --file $tmp/MANIFEST.bad"
expect bad_manifest "1 record"
expect bad_manifest "@0 snapshot"
expect bad_manifest "checksum mismatch in record at offset $second"

# A file the database does not own: verify names it. (Open deletes an
# orphaned SST or WAL, so those are seen only in a read-only open.)
cp "$db/0.sst" "$tmp/copy/0.sst"
run strays 1 --path "$tmp/copy" --compaction none \
    -c "draw --svg $tmp/copy/notes.svg" -c verify
expect strays "notes.svg: not a file of the database"
expect strays "1 problem"

# Orphans: an SST and a WAL no one owns, with ids the MANIFEST reserved
# (as a crash mid-compaction leaves them). A normal open deletes them; a
# read-only one (which changes nothing) lets verify name them.
lv=$tmp/leveled
printf '%s\n' 'fill 1000 1999' flush 'fill 1500 2500' flush 'put late 1' |
    "$cli" --path "$lv" --compaction leveled --target-sst-size 4096 \
        >"$tmp/make_lv" 2>&1 || { fail "making $lv failed"; cat "$tmp/make_lv"; }
"$cli" --readonly --path "$lv" --compaction leveled -c manifest \
    >"$tmp/lv_records" 2>&1
next=$(sed -n 's/.*next id \([0-9]*\).*/\1/p' "$tmp/lv_records" | sort -n |
    tail -n 1)
if [ -z "$next" ] || [ -e "$lv/$((next - 1)).sst" ] ||
   [ -e "$lv/$((next - 2)).wal" ]; then
    fail "no free reserved ids below next id '$next' in $lv"
fi
lv_sst=$(ls "$lv" | grep '\.sst$' | head -n 1)
lv_wal=$(ls "$lv" | grep '\.wal$' | head -n 1)
cp "$lv/$lv_sst" "$lv/$((next - 1)).sst"
cp "$lv/$lv_wal" "$lv/$((next - 2)).wal"
ls -l "$lv" >"$tmp/lv_before"
run orphans 1 --readonly --path "$lv" --compaction leveled -c verify
expect orphans "$((next - 1)).sst: in no level and read by no iterator"
expect orphans "$((next - 2)).wal: no memtable's WAL"
expect orphans "2 problems"
ls -l "$lv" >"$tmp/lv_after"
cmp -s "$tmp/lv_before" "$tmp/lv_after" ||
    fail "a read-only verify changed the directory"

# Not an SST at all.
run not_sst 1 --path "$db" --compaction none -c "sst $tmp/torn.wal"
expect not_sst "footer"
exit $failed
