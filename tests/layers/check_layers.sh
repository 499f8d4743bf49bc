#!/bin/sh
# check_layers.sh - the library's layers depend one way only.
#
# lib/ has one folder per layer, from the bottom up:
#
#   base   buffers, names, terms, the node's core (lock, log, last error)
#   proto  pure codecs and state machines (EPMD, handshake, control
#          messages, fragments, ticks, term text)
#   tls    wolfSSL sessions and the TLS options of ssl_dist_optfile
#   net    connections, the event loop, EPMD, the one way out to a peer
#   proc   mailboxes, links, monitors, signals, services as processes
#   svc    the services a node runs: net_kernel, rex and rpc, global
#   node   the public API that assembles the rest
#
# A file may include headers of its own layer and of the layers below it,
# never of one above; it names them "layer/file.h". Within a layer the
# headers must not include each other in a circle, and (from the built
# objects, when there are some) the modules must not call each other in a
# circle: a module is one .c file, or the files x.c and x_*.c that share
# a private header x_int.h. No file is over 1000 lines. Exit status 1,
# with one line per breach, when a rule is broken.
set -u
top=${1:-${srcdir:-$(dirname "$0")/../..}}
objdir=$(pwd)/${2:-.}
cd "$top/lib" || { echo "check_layers: no lib/ in $top" >&2; exit 2; }
layers="base proto tls net proc svc node"
rank() {
    r=0
    for l in $layers; do
        [ "$l" = "$1" ] && { echo $r; return; }
        r=$((r + 1))
    done
    echo -1
}
fail=0
checked=0
for f in $(find . -name '*.[ch]' | sed 's|^\./||' | sort); do
    layer=${f%%/*}
    if [ "$layer" = "$f" ]; then
        echo "lib/$f: a source file outside the layer folders"
        fail=1
        continue
    fi
    mine=$(rank "$layer")
    if [ "$mine" -lt 0 ]; then
        echo "lib/$f: '$layer' is not a layer ($layers)"
        fail=1
        continue
    fi
    checked=$((checked + 1))
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        case "$inc" in
        enode.h|config.h) continue ;; # the public header; autoconf's
        */*) ;;
        *) echo "lib/$f: includes \"$inc\" without its layer"; fail=1; continue ;;
        esac
        theirs=$(rank "${inc%%/*}")
        if [ ! -f "$inc" ]; then
            echo "lib/$f: includes \"$inc\", which does not exist"
            fail=1
        elif [ "$theirs" -gt "$mine" ]; then
            echo "lib/$f: layer $layer includes $inc from ${inc%%/*}, a layer above it"
            fail=1
        fi
    done
done
# Circles among the headers of one layer: tsort names the loops.
for l in $layers; do
    pairs=$(for h in $(find "$l" -name '*.h' | sort); do
        echo "$h $h"
        for inc in $(sed -n "s|^[[:space:]]*#[[:space:]]*include[[:space:]]*\"\\($l/[^\"]*\\.h\\)\".*|\\1|p" "$h"); do
            echo "$h $inc"
        done
    done)
    if ! echo "$pairs" | tsort >/dev/null 2>/tmp/check_layers.$$; then
        echo "lib/$l: headers include each other in a circle:"
        sed 's/^/  /' /tmp/check_layers.$$
        fail=1
    fi
    rm -f /tmp/check_layers.$$
done
# Calls between the modules of one layer, read from the objects: an edge
# A -> B when A uses a symbol B defines. tsort names any circle.
module_of() { # layer file.o -> module name
    m=${2%.o}
    for h in "$1"/*_int.h; do
        [ -f "$h" ] || continue
        p=$(basename "$h" _int.h)
        case "$m" in "$p"|"$p"_*) echo "$p"; return ;; esac
    done
    echo "$m"
}
modules_checked=0
for l in $layers; do
    objs=$(ls "$objdir/lib/$l"/*.o 2>/dev/null) || continue
    [ -n "$objs" ] || continue
    tmp=$(mktemp -d)
    for o in $objs; do
        m=$(module_of "$l" "$(basename "$o")")
        nm -g --defined-only "$o" | awk '$2 ~ /^[TDBR]$/ {print $3}' >>"$tmp/def.$m"
        nm -u "$o" | awk '{print $2}' >>"$tmp/use.$m"
    done
    pairs=$(for d in "$tmp"/def.*; do
        b=${d##*/def.}
        echo "$b $b"
        for u in "$tmp"/use.*; do
            a=${u##*/use.}
            [ "$a" = "$b" ] && continue
            if sort -u "$u" | grep -qxFf "$d"; then
                echo "$b $a" # a uses b: b comes first
            fi
        done
    done)
    modules_checked=$((modules_checked + $(ls "$tmp"/def.* | wc -l)))
    if ! echo "$pairs" | tsort >/dev/null 2>"$tmp/loop"; then
        echo "lib/$l: modules call each other in a circle:"
        sed 's/^/  /' "$tmp/loop"
        fail=1
    fi
    rm -rf "$tmp"
done
# A file holds one concept: past this many lines it holds several, and is
# to be cut where the code says (x.c and x_*.c sharing x_int.h).
max_lines=1000
for f in $(find . -name '*.[ch]' | sed 's|^\./||' | sort); do
    n=$(wc -l <"$f")
    if [ "$n" -gt "$max_lines" ]; then
        echo "lib/$f: $n lines, more than $max_lines: cut it where the code says"
        fail=1
    fi
done
if [ "$fail" = 0 ]; then
    echo "check_layers: no file over $max_lines lines"
    echo "check_layers: $checked files in $(echo $layers | wc -w) layers, every include points down"
    if [ "$modules_checked" -gt 0 ]; then
        echo "check_layers: $modules_checked modules, no circle of calls within a layer"
    else
        echo "check_layers: no objects in $objdir/lib: calls not checked"
    fi
fi
exit $fail
