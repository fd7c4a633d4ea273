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
# The column where a section's text starts (the NAME line), as do the
# tags of its lists; subsection headings start further left.
margin=$(awk '/^NAME$/ { getline; match($0, /[^ ]/); print RSTART; exit }' \
    "$tmp/cli.txt")
section OPTIONS "$tmp/cli.txt" >"$tmp/options.txt"
section COMMANDS "$tmp/cli.txt" >"$tmp/commands.txt"
section SYNOPSIS "$tmp/lib.txt" >"$tmp/synopsis.txt"
section DESCRIPTION "$tmp/lib.txt" >"$tmp/description.txt"

# missing MODE LIST TEXT: the words of LIST (one a line) that TEXT lacks.
# MODE entry: no line of TEXT starts with the word followed by a blank, a
# comma or the line's end, at the column $margin (where a list entry's tag
# starts; the entry's text is indented further);
# word: TEXT has it nowhere between two characters that are not letters,
# digits or "_"; call: nowhere as "word(" after such a character.
missing() {
    awk -v mode="$1" -v margin="$margin" '
        NR == FNR { if ($0 != "") words[++n_words] = $0; next }
        { text[++n_lines] = $0 }
        END {
            for (i = 1; i <= n_words; i++)
                if (!found(words[i]))
                    print words[i]
        }
        function found(w,    j, line, start, p, at, before, after, ends) {
            for (j = 1; j <= n_lines; j++) {
                line = text[j]
                if (mode == "entry") {
                    if (!match(line, /[^ ]/) || RSTART != margin)
                        continue
                    line = substr(line, margin)
                    after = substr(line, length(w) + 1, 1)
                    if (substr(line, 1, length(w)) == w &&
                        (after == "" || after ~ /[ \t,]/))
                        return 1
                    continue
                }
                start = 1
                while ((p = index(substr(line, start), w)) > 0) {
                    at = start + p - 1
                    before = at > 1 ? substr(line, at - 1, 1) : ""
                    after = substr(line, at + length(w), 1)
                    if (mode == "call")
                        ends = (after == "(")
                    else
                        ends = (after !~ /[A-Za-z0-9_]/)
                    if (ends && before !~ /[A-Za-z0-9_]/)
                        return 1
                    start = at + 1
                }
            }
            return 0
        }' "$2" "$3"
}

# check MODE LIST TEXT WHAT: a failure "WHAT word" for each word missing.
check() {
    missing "$1" "$2" "$3" >"$tmp/missing" || exit 1
    while read -r word; do
        echo "FAIL: $4 $word"
        n_failed=$((n_failed + 1))
    done <"$tmp/missing"
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
check entry "$tmp/options" "$tmp/options.txt" \
    "lsm-cli.1's OPTIONS has no entry for"

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
check entry "$tmp/commands" "$tmp/commands.txt" \
    "lsm-cli.1's COMMANDS has no entry for"
check word "$tmp/aliases" "$tmp/commands.txt" \
    "lsm-cli.1's COMMANDS does not name"

# --- lsm(3) -----------------------------------------------------------------

awk -f "$awk_script" "$header" >"$tmp/functions" || exit 1
check call "$tmp/functions" "$tmp/synopsis.txt" "lsm.3's SYNOPSIS lacks"
check call "$tmp/functions" "$tmp/description.txt" \
    "lsm.3's DESCRIPTION does not explain"

if [ "$n_failed" -ne 0 ]; then
    echo "$n_failed check(s) failed"
    exit 1
fi
echo "lsm-cli.1: $(wc -l <"$tmp/options") options," \
    "$(wc -l <"$tmp/commands") commands and" \
    "$(wc -l <"$tmp/aliases") other names; lsm.3:" \
    "$(wc -l <"$tmp/functions") functions"
