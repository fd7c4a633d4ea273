#!/bin/sh
# man_coverage.sh LSM_CLI LSM_CLI_1 LSM_H LSM_3 API_FUNCTIONS_AWK: the man
# pages keep up with what they document, so neither can drift silently:
#   - every option `lsm-cli --help` lists is an entry of lsm-cli(1)'s
#     OPTIONS section;
#   - every command `help` lists is an entry of its COMMANDS section, and
#     every other name help gives it ("also delete") is named there;
#   - every function lsm.h declares (as lsm/api_functions.awk finds them,
#     the list liblsm.so exports) is in lsm(3)'s SYNOPSIS and explained
#     in its DESCRIPTION.
# The pages are read as mandoc renders them, so the check is the same
# whichever macros write an entry. Skipped (77) without mandoc.
set -u
cli=$1
cli_page=$2
header=$3
lib_page=$4
awk_script=$5
if ! command -v mandoc >/dev/null 2>&1; then
    echo "man_coverage: skipped: mandoc is not installed" \
        "(apt-get install mandoc, or scripts/ensure-deps test)"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lsm-man-coverage.XXXXXX") || exit 99
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 143' HUP INT TERM
n_failed=0

# render PAGE OUT: PAGE as plain text (bold and underline are written with
# backspaces, which are dropped with the character before them).
bs=$(printf '\b')
render() {
    mandoc -T ascii -O width=200 "$1" | sed "s/.$bs//g" >"$2"
}
render "$cli_page" "$tmp/cli.txt" || exit 1
render "$lib_page" "$tmp/lib.txt" || exit 1

# section NAME FILE: the lines of section NAME of a rendered page.
section() {
    awk -v name="$1" '/^[A-Z]/ { in_section = ($0 == name); next }
        in_section' "$2"
}
section OPTIONS "$tmp/cli.txt" >"$tmp/options.txt"
section COMMANDS "$tmp/cli.txt" >"$tmp/commands.txt"
section SYNOPSIS "$tmp/lib.txt" >"$tmp/synopsis.txt"
section DESCRIPTION "$tmp/lib.txt" >"$tmp/description.txt"

# is_entry WORD FILE: a line of FILE starts with WORD (a list entry's tag),
# followed by a blank, a comma or the end of the line.
is_entry() {
    pattern=$(printf '%s\n' "$1" | sed 's/[][\\.*^$+?(){}|]/\\&/g')
    [ -n "$pattern" ] &&
        grep -q -E -e "^[[:space:]]*$pattern([[:space:]]|,|\$)" "$2"
}

# --- lsm-cli(1) -------------------------------------------------------------

"$cli" --help >"$tmp/help_options" 2>&1 || {
    cat "$tmp/help_options"
    echo "FAIL: lsm-cli --help"
    exit 1
}
# Each option's line starts with two blanks ("  --path DIR   ..."); the
# lines that continue a description are indented further.
sed -n 's/^  \(-[-a-zA-Z0-9]*\).*/\1/p' "$tmp/help_options" >"$tmp/options"
[ -s "$tmp/options" ] || { echo "FAIL: no options in lsm-cli --help"; exit 1; }
while read -r option; do
    is_entry "$option" "$tmp/options.txt" || {
        echo "FAIL: lsm-cli.1's OPTIONS has no entry for $option"
        n_failed=$((n_failed + 1))
    }
done <"$tmp/options"

"$cli" --path "$tmp/db" -c help >"$tmp/help_commands" 2>&1 || {
    cat "$tmp/help_commands"
    echo "FAIL: lsm-cli -c help"
    exit 1
}
# The list: "  NAME   summary (also OTHER, OTHER)" after "commands:".
sed -n '/^commands:$/,/^[^ ]/s/^  \([^ ]\{1,\}\).*/\1/p' \
    "$tmp/help_commands" >"$tmp/commands"
sed -n '/^commands:$/,/^[^ ]/s/.*(also \(.*\))$/\1/p' "$tmp/help_commands" |
    tr ',' '\n' | sed 's/^ *//; s/^and //' >"$tmp/aliases"
[ -s "$tmp/commands" ] || { echo "FAIL: no commands in help"; exit 1; }
while read -r command; do
    is_entry "$command" "$tmp/commands.txt" || {
        echo "FAIL: lsm-cli.1's COMMANDS has no entry for $command"
        n_failed=$((n_failed + 1))
    }
done <"$tmp/commands"
while read -r alias; do
    grep -q -w -F -e "$alias" "$tmp/commands.txt" || {
        echo "FAIL: lsm-cli.1's COMMANDS does not name $alias"
        n_failed=$((n_failed + 1))
    }
done <"$tmp/aliases"

# --- lsm(3) -----------------------------------------------------------------

awk -f "$awk_script" "$header" >"$tmp/functions" || exit 1
while read -r function; do
    grep -q -E -e "(^|[^a-z0-9_])$function\\(" "$tmp/synopsis.txt" || {
        echo "FAIL: lsm.3's SYNOPSIS lacks $function()"
        n_failed=$((n_failed + 1))
    }
    grep -q -E -e "(^|[^a-z0-9_])$function\\(" "$tmp/description.txt" || {
        echo "FAIL: lsm.3's DESCRIPTION does not explain $function()"
        n_failed=$((n_failed + 1))
    }
done <"$tmp/functions"

if [ "$n_failed" -ne 0 ]; then
    echo "$n_failed check(s) failed"
    exit 1
fi
echo "lsm-cli.1: $(wc -l <"$tmp/options") options," \
    "$(wc -l <"$tmp/commands") commands and" \
    "$(wc -l <"$tmp/aliases") other names; lsm.3:" \
    "$(wc -l <"$tmp/functions") functions"
