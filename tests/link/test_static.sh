#!/bin/sh
# test_static.sh - `pkg-config --static --libs enode` links a program
# against libenode.a alone: the library, its header and enode.pc are
# installed into a temporary directory (DESTDIR; enode.pc finds its
# prefix from where it lies), the shared library is removed from there so
# that -lenode can only mean libenode.a, and the program runs.
#
# Run from the build directory by make check. Exit status as automake
# reads it: 0 pass, 1 fail, 77 skip (no pkg-config).
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(pwd)
tmp=${TMPDIR:-/tmp}/enode-test-static.$$
trap 'rm -rf "$tmp"' EXIT INT TERM
command -v pkg-config >/dev/null || { echo "SKIP: no pkg-config"; exit 77; }

# The pieces a user of the library installs, not the programs.
${MAKE:-make} -s -C "$build" DESTDIR="$tmp" prefix=/enode \
    install-libLTLIBRARIES install-includeHEADERS \
    install-nodist_includeHEADERS install-pkgconfigDATA >"$tmp.log" 2>&1 ||
    { cat "$tmp.log"; rm -f "$tmp.log"; echo "FAIL: make install"; exit 1; }
rm -f "$tmp.log"
rm -f "$tmp"/enode/lib/libenode.so*
[ -f "$tmp/enode/lib/libenode.a" ] ||
    { echo "SKIP: no static library (--disable-static)"; exit 77; }

export PKG_CONFIG_PATH="$tmp/enode/lib/pkgconfig"
cflags=$(pkg-config --cflags enode) && libs=$(pkg-config --static --libs enode) ||
    { echo "FAIL: pkg-config enode"; exit 1; }
# shellcheck disable=SC2086 # the flags are words
${CC:-cc} -o "$tmp/static_prog" "$top/tests/link/static_prog.c" $cflags \
    $libs || { echo "FAIL: the static link: $libs"; exit 1; }
if ldd "$tmp/static_prog" 2>/dev/null | grep -q libenode; then
    echo "FAIL: linked against a shared libenode"
    exit 1
fi
out=$("$tmp/static_prog") || { echo "FAIL: the program failed"; exit 1; }
case $out in
*" static@localhost 9") echo "PASS: static link with: $libs ($out)" ;;
*) echo "FAIL: the program printed: $out"; exit 1 ;;
esac
