#!/bin/sh
# install.sh: `meson install` of the build into a temporary directory, and
# what a user of the installed copy gets: the files where they belong,
# lsm.pc, a liblsm.so that exports exactly the functions lsm.h declares,
# and tests/install/example.c (the README's example) built with nothing
# but pkg-config and run, once against liblsm.so and once against
# liblsm.a.
#
#   install.sh MESON MESON_VERSION BUILD_ROOT SOURCE_ROOT SOVERSION PREFIX \
#              BINDIR LIBDIR INCLUDEDIR MANDIR
#
# MESON_VERSION is the version of the meson that configured the build; the
# directories are meson's options (relative ones under PREFIX). CC is
# the compiler's command; EXTRA_CFLAGS are added to each compile and link
# (the build's sanitizer flags: the installed libraries are instrumented
# in a sanitizer build, so the example must be too).
#
# Why DESTDIR (meson install --destdir) rather than a second build
# configured with a temporary --prefix: it installs this very build, in
# the layout it was configured with, as a package build does, and costs
# under a second instead of compiling everything again. The price is that
# the installed lsm.pc still says prefix=/usr/local (or whatever PREFIX
# is): pkg-config is told where the copy is with
# --define-variable=prefix=DESTDIR/PREFIX. (--define-prefix guesses the
# prefix from where lsm.pc lies, two directories up, which is wrong for a
# multiarch libdir such as lib/x86_64-linux-gnu.)
set -u
meson=$1
meson_version=$2
build=$3
src=$4
soversion=$5
prefix=$6
shift 6
cc=${CC:-cc}
extra=${EXTRA_CFLAGS:-}
# meson test points LD_LIBRARY_PATH into the build for targets the test
# depends on: nothing here may load the build's liblsm.so by accident.
unset LD_LIBRARY_PATH

# The meson found on PATH must be the one that configured the build:
# install reads the build's pickled state, which only that version reads.
found_version=$("$meson" --version 2>/dev/null)
if [ "$found_version" != "$meson_version" ]; then
    echo "install: skipped: the build was configured by meson" \
        "$meson_version, but $meson is '$found_version'"
    exit 77
fi

# The temporary root goes in the build directory, not $TMPDIR: programs
# are run from it, and a TMPDIR on a tmpfs may be mounted noexec.
tmp=$(mktemp -d "$build/install-test.XXXXXX") || exit 99
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 143' HUP INT TERM
n_failed=0

# fail WHAT: reports a failed check and counts it.
fail() {
    echo "FAIL: $1"
    n_failed=$((n_failed + 1))
}

# under DIR: DIR as installed in the temporary root (meson's option: a
# relative one is under the prefix).
under() {
    case $1 in
    /*) printf '%s\n' "$tmp/root$1" ;;
    *) printf '%s\n' "$tmp/root$prefix/$1" ;;
    esac
}
bindir=$(under "$1")
libdir=$(under "$2")
includedir=$(under "$3")
mandir=$(under "$4")

if ! "$meson" install -C "$build" --no-rebuild --quiet \
    --destdir "$tmp/root" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    echo "FAIL: meson install --destdir $tmp/root"
    exit 1
fi

# --- The files -------------------------------------------------------------

for f in "$bindir/lsm-cli" "$libdir/liblsm.a" "$libdir/liblsm.so" \
    "$libdir/liblsm.so.$soversion" "$libdir/pkgconfig/lsm.pc" \
    "$includedir/lsm.h" "$includedir/lsm_version.h" \
    "$mandir/man1/lsm-cli.1" "$mandir/man3/lsm.3"; do
    [ -f "$f" ] || fail "not installed: ${f#"$tmp/root"}"
done
cmp -s "$src/lsm/include/lsm.h" "$includedir/lsm.h" ||
    fail "the installed lsm.h differs from lsm/include/lsm.h"
cmp -s "$src/lsm/lsm.3" "$mandir/man3/lsm.3" ||
    fail "the installed lsm.3 differs from lsm/lsm.3"
cmp -s "$src/cli/lsm-cli.1" "$mandir/man1/lsm-cli.1" ||
    fail "the installed lsm-cli.1 differs from cli/lsm-cli.1"
pc_version=$(sed -n 's/^Version: *//p' "$libdir/pkgconfig/lsm.pc")
cli_version=$("$bindir/lsm-cli" --version 2>&1)
[ "$cli_version" = "lsm-cli $pc_version" ] ||
    fail "the installed lsm-cli --version says '$cli_version', lsm.pc" \
        "'$pc_version'"

# The library's file is named by the whole version, the soname by
# SOVERSION, and liblsm.so (what -llsm finds) leads to it.
[ -f "$libdir/liblsm.so.$pc_version" ] ||
    fail "not installed: liblsm.so.$pc_version"
soname=$(readelf -d "$libdir/liblsm.so" |
    sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
[ "$soname" = "liblsm.so.$soversion" ] ||
    fail "liblsm.so's soname is '$soname', not liblsm.so.$soversion"

# --- What liblsm.so exports ------------------------------------------------

# The functions the installed lsm.h declares, as the compiler sees them:
# preprocessed (no comments, lsm_version.h found beside it), then every
# name of the public prefix followed by "(" (a function pointer type has
# ")" after its name instead). lsm/api_functions.awk, which makes the
# build's export list, reads the header its own way; this checks it.
printf '#include <lsm.h>\n' >"$tmp/api.c"
# shellcheck disable=SC2086 # $cc and $extra are lists of words
if ! $cc -E -P -I"$includedir" "$tmp/api.c" >"$tmp/api.i" 2>"$tmp/cpp.log"
then
    cat "$tmp/cpp.log"
    fail "the installed lsm.h does not preprocess alone"
fi
tr '\n' ' ' <"$tmp/api.i" | grep -o 'lsm_[a-z0-9_]*[[:space:]]*(' |
    sed 's/[[:space:]]*($//' | LC_ALL=C sort -u >"$tmp/declared"
[ -s "$tmp/declared" ] || fail "no functions found in the installed lsm.h"

# Every symbol the shared library defines, of any kind.
nm -D --defined-only "$libdir/liblsm.so" | awk '{ print $NF }' |
    LC_ALL=C sort -u >"$tmp/exported"
if ! cmp -s "$tmp/declared" "$tmp/exported"; then
    fail "liblsm.so must export exactly the functions lsm.h declares"
    LC_ALL=C comm -23 "$tmp/declared" "$tmp/exported" |
        sed 's/^/  declared, not exported: /'
    LC_ALL=C comm -13 "$tmp/declared" "$tmp/exported" |
        sed 's/^/  exported, not declared: /'
fi
# ... each of them a function (T), not data.
nm -D --defined-only "$libdir/liblsm.so" | awk '$(NF-1) != "T"' \
    >"$tmp/not_functions"
if [ -s "$tmp/not_functions" ]; then
    fail "liblsm.so exports symbols that are not functions:"
    cat "$tmp/not_functions"
fi
# liblsm.a defines every declared function too (its internal names stay
# global: a static library has no export list).
nm -g --defined-only "$libdir/liblsm.a" 2>/dev/null |
    awk 'NF == 3 && $2 == "T" { print $3 }' | LC_ALL=C sort -u \
    >"$tmp/archive"
LC_ALL=C comm -23 "$tmp/declared" "$tmp/archive" >"$tmp/missing"
if [ -s "$tmp/missing" ]; then
    fail "liblsm.a lacks functions lsm.h declares:"
    sed 's/^/  /' "$tmp/missing"
fi

# --- The example, built with pkg-config alone ------------------------------

# pc ARGS...: pkg-config on the installed lsm.pc.
pc() {
    PKG_CONFIG_PATH="$libdir/pkgconfig" \
        pkg-config --define-variable=prefix="$tmp/root$prefix" "$@"
}
if ! pc --exists lsm; then
    fail "pkg-config finds no lsm in $libdir/pkgconfig"
    exit 1
fi
cflags=$(pc --cflags lsm)
libs=$(pc --libs lsm)
static_libs=$(pc --static --libs lsm)
case " $cflags " in *" -I$includedir "*) ;; *)
    fail "pkg-config --cflags lsm gives '$cflags', not -I$includedir" ;;
esac
case " $libs " in *" -L$libdir -llsm "*) ;; *)
    fail "pkg-config --libs lsm gives '$libs', not -L$libdir -llsm" ;;
esac
# A static link also needs what liblsm.a uses (lsm.pc's Requires.private
# and Libs.private).
case " $static_libs " in *" -lxxhash "*) ;; *)
    fail "pkg-config --static --libs lsm lacks -lxxhash: '$static_libs'" ;;
esac
case " $static_libs " in *" -pthread "*) ;; *)
    fail "pkg-config --static --libs lsm lacks -pthread: '$static_libs'" ;;
esac

# run_example NAME [ENV=VALUE...]: runs the example built as $tmp/NAME,
# with the environment given; its output must be example.out's.
run_example() {
    name=$1
    shift
    if ! env TMPDIR="$tmp" "$@" "$tmp/$name" >"$tmp/$name.out" \
        2>"$tmp/$name.err"; then
        cat "$tmp/$name.err"
        fail "$name exits with an error"
    elif ! cmp -s "$src/tests/install/example.out" "$tmp/$name.out"; then
        fail "$name prints what tests/install/example.out does not say"
        diff -u "$src/tests/install/example.out" "$tmp/$name.out"
    fi
}

# needed FILE: the libraries FILE names as NEEDED, one a line.
needed() {
    readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'
}

# Against liblsm.so: it must find the installed copy (LD_LIBRARY_PATH, as
# for a library in a directory the loader does not search by itself).
# shellcheck disable=SC2086
if $cc $extra -std=c11 -pedantic -Wall -Wextra -Werror \
    -o "$tmp/example-shared" "$src/tests/install/example.c" \
    $cflags $libs >"$tmp/cc.log" 2>&1; then
    needed "$tmp/example-shared" | grep -qx "liblsm.so.$soversion" ||
        fail "example-shared does not need liblsm.so.$soversion"
    # ldd's lines: "<tab>liblsm.so.0.2 => /path/liblsm.so.0.2 (0x...)".
    LD_LIBRARY_PATH="$libdir" ldd "$tmp/example-shared" |
        awk -v lib="liblsm.so.$soversion" -v path="$libdir/liblsm.so.$soversion" \
            '$1 == lib && $2 == "=>" && $3 == path { found = 1 }
             END { exit !found }' ||
        fail "example-shared does not load $libdir/liblsm.so.$soversion"
    run_example example-shared LD_LIBRARY_PATH="$libdir"
else
    cat "$tmp/cc.log"
    fail "the example does not build against liblsm.so"
fi

# Against liblsm.a: -Wl,-Bstatic makes the linker take the archive of
# every library pkg-config names (liblsm.a and libxxhash.a), and
# -Wl,-Bdynamic gives the C library and the rest back to the shared ones.
# shellcheck disable=SC2086
if $cc $extra -std=c11 -pedantic -Wall -Wextra -Werror \
    -o "$tmp/example-static" "$src/tests/install/example.c" \
    $cflags -Wl,-Bstatic $static_libs -Wl,-Bdynamic >"$tmp/cc.log" 2>&1
then
    if needed "$tmp/example-static" | grep -q '^liblsm'; then
        fail "example-static needs liblsm.so: it was not linked statically"
    fi
    nm "$tmp/example-static" | grep -q ' T lsm_open$' ||
        fail "example-static does not contain lsm_open"
    run_example example-static
else
    cat "$tmp/cc.log"
    fail "the example does not build against liblsm.a"
fi

if [ "$n_failed" -ne 0 ]; then
    echo "$n_failed check(s) failed"
    exit 1
fi
echo "installed into a temporary DESTDIR; the example built with" \
    "pkg-config alone runs against liblsm.so and liblsm.a"
