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
# headers must not include each other in a circle. Exit status 1, with one
# line per breach, when a rule is broken.
set -u
top=${1:-${srcdir:-$(dirname "$0")/../..}}
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
if [ "$fail" = 0 ]; then
    echo "check_layers: $checked files in $(echo $layers | wc -w) layers, every include points down"
fi
exit $fail
