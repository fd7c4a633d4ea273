#!/bin/sh
# readme_demo.sh: a README walkthrough shows what its demo script really
# prints.
#
#   readme_demo.sh README.md demo_instruments.out [MARKER]
#
# The README's code block that starts with the line MARKER (the demo's
# command line; by default the instruments demo's) must equal the
# transcript (whose own test replays the demo), less the transcript's
# first line ("lsm-cli> source ...").
set -eu
readme=$1
transcript=$2
marker=${3:-'$ ./scripts/run --echo --path /tmp/instruments.db < scripts/demo-instruments.lsm'}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk -v m="$marker" '
    $0 == m { inside = 1; next }
    inside && /^```$/ { exit }
    inside { print }
' "$readme" >"$tmp/readme"
tail -n +2 "$transcript" >"$tmp/transcript"
if [ ! -s "$tmp/readme" ]; then
    echo "readme_demo.sh: no code block after: $marker" >&2
    exit 1
fi
if ! diff -u "$tmp/transcript" "$tmp/readme"; then
    echo "readme_demo.sh: README.md's walkthrough differs from $transcript" >&2
    exit 1
fi
