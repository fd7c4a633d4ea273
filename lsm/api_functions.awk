# api_functions.awk: the functions lsm.h declares, one name a line, each
# once, in the order declared. With -v format=map it prints instead the
# linker version script liblsm.so is linked with: those functions global,
# every other symbol local, so the shared library exports exactly the
# public API (lsm/meson.build).
#
#   awk -f api_functions.awk [-v format=map] lsm.h
#
# It knows just enough C for lsm.h: comments, string and character
# literals and preprocessor lines (with their continuations) are dropped,
# and a declared function is a name of the public prefix, lsm_ in lower
# case, followed by "(". Macros (LSM_...) are upper case; a function
# pointer type, "(*lsm_event_fn)(", has ")" after its name, so it is not a
# function. tests/install/install.sh checks the result against what the
# compiler's preprocessor makes of the installed header.

BEGIN {
    text = ""
    continued = 0
}

# Preprocessor lines, and the lines a trailing backslash continues.
{
    line = $0
    if (continued || line ~ /^[ \t]*#/) {
        continued = (line ~ /\\$/)
        text = text "\n"
        next
    }
    text = text line "\n"
}

END {
    code = strip_comments(text)
    gsub(/[ \t\n]+/, " ", code)
    n = 0
    rest = code
    while (match(rest, /lsm_[a-z0-9_]+ ?\(/)) {
        name = substr(rest, RSTART, RLENGTH)
        sub(/ ?\($/, "", name)
        # A match inside a longer name (my_lsm_x) is no declaration.
        before = RSTART > 1 ? substr(rest, RSTART - 1, 1) : " "
        if (before !~ /[A-Za-z0-9_]/ && !(name in seen)) {
            seen[name] = 1
            names[++n] = name
        }
        rest = substr(rest, RSTART + RLENGTH)
    }
    if (n == 0) {
        print "api_functions.awk: no function declarations found" > "/dev/stderr"
        exit 1
    }
    if (format == "map") {
        print "/* Generated from lsm.h by lsm/api_functions.awk: the functions"
        print "   liblsm.so exports. Every other symbol stays inside it. */"
        print "{"
        print "  global:"
        for (i = 1; i <= n; i++)
            print "    " names[i] ";"
        print "  local:"
        print "    *;"
        print "};"
    } else {
        for (i = 1; i <= n; i++)
            print names[i]
    }
}

# s without its comments and string and character literals (each comment
# becomes one blank, as the C preprocessor makes it).
function strip_comments(s,    out, i, len, c, next_c, state) {
    out = ""
    state = "code"
    len = length(s)
    for (i = 1; i <= len; i++) {
        c = substr(s, i, 1)
        next_c = substr(s, i + 1, 1)
        if (state == "code") {
            if (c == "/" && next_c == "*") {
                state = "block"
                i++
            } else if (c == "/" && next_c == "/") {
                state = "line"
                i++
            } else if (c == "\"" || c == "'") {
                state = c
            } else {
                out = out c
            }
        } else if (state == "block") {
            if (c == "*" && next_c == "/") {
                state = "code"
                out = out " "
                i++
            }
        } else if (state == "line") {
            if (c == "\n") {
                state = "code"
                out = out c
            }
        } else if (c == "\\") {
            i++ # an escaped character inside a literal
        } else if (c == state) {
            state = "code"
            out = out " "
        }
    }
    return out
}
