#!/bin/sh
# test_man.sh - the man pages in doc/: each renders without a warning, each
# is installed, and nothing public goes undocumented.
#
#   - every page renders with `groff -man -ww -z` without a word on stderr
#     (and passes `mandoc -Tlint -Werror` and lexgrog when they are there);
#     it is ASCII and its .TH names the page, its section and the version
#     in configure.ac;
#   - every function of include/enode.h has a page named after it (a page
#     of its own or a .so link to one) whose NAME lists it and whose
#     SYNOPSIS declares it; every type has a page named after it that
#     mentions it; every ENODE_* constant appears in some page;
#   - every program in bin_PROGRAMS has a section 1 page, every option in
#     lib/tls/tlsconf_opts.c's table appears in enode-tls(7), enode(3)
#     refers to every other page, and references to enode pages lead
#     somewhere;
#   - every page is listed in Makefile.am, so that it is installed.
#
# Exit status as automake reads it: 0 pass, 1 fail, 77 skip (no groff:
# the other checks ran and passed, the rendering could not be checked).
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
doc=$top/doc
header=$top/include/enode.h
tmp=${TMPDIR:-/tmp}/enode-test-man.$$
mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0

fail() {
    printf 'FAIL: %s\n' "$*"
    failures=$((failures + 1))
}

# Lines of section $2 (NAME, SYNOPSIS, SEE ALSO...) of page $1, joined.
section() {
    awk -v want="$2" '
        /^\.SH/ { s = $0; sub(/^\.SH[ \t]+/, "", s); gsub(/"/, "", s)
                  on = (s == want); next }
        on { print }' "$1" | tr '\n' ' '
}

# The names a NAME section lists: the words before " \- ", unescaped.
name_list() {
    section "$1" NAME | sed 's/ \\- .*//; s/\\-/-/g' | tr ', ' '\n\n' |
        sed '/^$/d'
}

# The page a file stands for: itself, or the target of its .so line.
resolve() {
    first=$(head -n 1 "$1")
    case $first in
    .so\ *) echo "$doc/$(basename "${first#.so }")" ;;
    *) echo "$1" ;;
    esac
}

is_link() {
    head -n 1 "$1" | grep -q '^\.so '
}

version=$(sed -n 's/^AC_INIT(\[enode\], *\[\([^]]*\)\].*/\1/p' \
    "$top/configure.ac")
[ -n "$version" ] || fail "cannot read the version from configure.ac"

pages=$(ls "$doc" | grep -E '\.[1-8]$' | sort)
[ -n "$pages" ] || fail "no man pages in $doc"

# ---- each page --------------------------------------------------------------
have_groff=no
command -v groff >/dev/null 2>&1 && have_groff=yes
n_pages=0 n_links=0
for p in $pages; do
    f=$doc/$p
    sec=${p##*.}
    base=${p%.*}
    grep -q -w "doc/$p" "$top/Makefile.am" ||
        fail "$p is not listed in Makefile.am (dist_man${sec}_MANS)"
    if LC_ALL=C grep -q '[^[:print:][:space:]]' "$f"; then
        fail "$p has characters that are not ASCII (use groff escapes)"
    fi
    if is_link "$f"; then
        n_links=$((n_links + 1))
        [ "$(wc -l <"$f")" -eq 1 ] ||
            fail "$p: a .so link must be that one line"
        target=$(head -n 1 "$f")
        target=${target#.so }
        case $target in
        man$sec/*.$sec) ;;
        *) fail "$p: .so $target: expected man$sec/PAGE.$sec" ;;
        esac
        t=$doc/$(basename "$target")
        if [ ! -f "$t" ]; then
            fail "$p: .so $target: no doc/$(basename "$target")"
        elif is_link "$t"; then
            fail "$p: .so $target: that page is a link itself"
        elif ! grep -q -w -F "$base" "$t"; then
            fail "$p: .so $target, which does not mention $base"
        fi
        continue
    fi
    n_pages=$((n_pages + 1))
    title=$(printf '%s' "$base" | tr 'a-z' 'A-Z' | sed 's/-/\\-/g')
    th=$(head -n 1 "$f")
    want=".TH $title $sec "
    case $th in
    "$want"*) ;;
    *) fail "$p: the first line must be '$want...', not '$th'" ;;
    esac
    case $th in
    *"\"enode $version\""*) ;;
    *) fail "$p: .TH must say \"enode $version\" (configure.ac's version)" ;;
    esac
    name_list "$f" | grep -q -x -F "$base" ||
        fail "$p: its NAME section does not list $base"
    for n in $(name_list "$f"); do
        [ -f "$doc/$n.$sec" ] ||
            fail "$p lists $n in NAME, but there is no doc/$n.$sec (.so link)"
    done
    if [ "$have_groff" = yes ]; then
        groff -man -ww -z -Tutf8 "$f" >"$tmp/out" 2>&1 || true
        if [ -s "$tmp/out" ]; then
            fail "$p: groff -man -ww says:"
            sed 's/^/    /' "$tmp/out"
        fi
    fi
    if command -v mandoc >/dev/null 2>&1; then
        mandoc -Tlint -Werror "$f" >"$tmp/out" 2>&1 || {
            fail "$p: mandoc -Tlint -Werror says:"
            sed 's/^/    /' "$tmp/out"
        }
    fi
    if command -v lexgrog >/dev/null 2>&1; then
        lexgrog "$f" >"$tmp/out" 2>&1 || {
            fail "$p: lexgrog (man-db) cannot parse its NAME section:"
            sed 's/^/    /' "$tmp/out"
        }
    fi
    # References to enode's own pages lead to a page.
    for ref in $(grep -o -E '^\.BR? +enode[a-z_\\-]* +\([1-8]\)' "$f" |
                 sed -E 's/^\.BR? +//; s/\\-/-/g; s/ +\(/./; s/\)$//'); do
        [ -f "$doc/$ref" ] || fail "$p refers to ${ref%.*}(${ref##*.}), which does not exist"
    done
done

# ---- the API of include/enode.h ---------------------------------------------
# The header without comments and preprocessor lines, on one line.
awk '{
    line = $0; out = ""
    while (line != "") {
        if (in_comment) {
            i = index(line, "*/")
            if (!i) { line = ""; break }
            line = substr(line, i + 2); in_comment = 0
        } else {
            i = index(line, "/*")
            if (!i) { out = out line; line = ""; break }
            out = out substr(line, 1, i - 1) " "
            line = substr(line, i + 2); in_comment = 1
        }
    }
    sub(/\/\/.*/, "", out)
    if (out !~ /^[ \t]*#/) print out
}' "$header" | tr '\n\t' '  ' >"$tmp/api"

functions=$(grep -o -E '\benode_[a-z0-9_]+ *\(' "$tmp/api" | tr -d '( ' | sort -u)
types=$( (grep -o -E '\} *enode_[a-z0-9_]+ *;' "$tmp/api"
          grep -o -E 'typedef +(struct|enum) +[a-z_0-9]+ +enode_[a-z0-9_]+ *;' "$tmp/api"
          grep -o -E '\( *\* *enode_[a-z0-9_]+ *\)' "$tmp/api") |
        sed -E 's/.*[^a-z0-9_](enode_[a-z0-9_]+)[^a-z0-9_]*$/\1/' | sort -u)
guard=$(sed -n 's/^#ifndef \(ENODE_[A-Z0-9_]*\)$/\1/p' "$header" | head -n 1)
constants=$(sed -n 's/^[ \t]*#[ \t]*define[ \t]\{1,\}\(ENODE_[A-Z0-9_]*\).*/\1/p' \
                "$header"
            grep -o -E '\bENODE_[A-Z0-9_]+' "$tmp/api")
constants=$(echo "$constants" | grep -v -x -F "${guard:-ENODE_H}" | sort -u)

[ -n "$functions" ] || fail "found no functions in $header"
n_fn=0
for fn in $functions; do
    n_fn=$((n_fn + 1))
    if [ ! -f "$doc/$fn.3" ]; then
        fail "$fn (include/enode.h) has no man page: write doc/$fn.3, or a" \
             "one-line doc/$fn.3 '.so man3/PAGE.3' to the page that documents it"
        continue
    fi
    page=$(resolve "$doc/$fn.3")
    [ -f "$page" ] || continue # reported above
    name_list "$page" | grep -q -x -F "$fn" ||
        fail "$fn: the NAME section of $(basename "$page") does not list it"
    section "$page" SYNOPSIS | grep -q -E "\\b$fn\\(" ||
        fail "$fn: the SYNOPSIS of $(basename "$page") does not declare it"
done
for ty in $types; do
    if [ ! -f "$doc/$ty.3" ]; then
        fail "type $ty (include/enode.h) has no man page: add doc/$ty.3" \
             "('.so man3/PAGE.3' to the page that documents it)"
        continue
    fi
    page=$(resolve "$doc/$ty.3")
    [ -f "$page" ] && ! grep -q -w -F "$ty" "$page" &&
        fail "type $ty: $(basename "$page") does not mention it"
done
for c in $constants; do
    grep -q -w -F "$c" $(for p in $pages; do echo "$doc/$p"; done) ||
        fail "constant $c (include/enode.h) appears in no man page"
done

# ---- programs, TLS options, the overview ------------------------------------
programs=$(awk '/^bin_PROGRAMS/ { on = 1 }
                on { print; if ($0 !~ /\\$/) on = 0 }' "$top/Makefile.am" |
           sed 's/^bin_PROGRAMS *+\{0,1\}= *//; s/\\$//' | tr ' \t' '\n\n' |
           sed '/^$/d')
for prog in $programs; do
    prog=$(basename "$prog")
    [ -f "$doc/$prog.1" ] || fail "program $prog is installed but has no doc/$prog.1"
done

tlsconf=$top/lib/tls/tlsconf_opts.c
if [ -f "$tlsconf" ] && [ -f "$doc/enode-tls.7" ]; then
    options=$(sed -n 's/^[ \t]*{"\([a-z_0-9]*\)", *[a-z_]*opt_.*/\1/p' "$tlsconf" | sort -u)
    [ -n "$options" ] || fail "found no option table in lib/tls/tlsconf_opts.c"
    for o in $options; do
        grep -q -w -F "$o" "$doc/enode-tls.7" ||
            fail "TLS option $o (lib/tls/tlsconf_opts.c) is not in doc/enode-tls.7"
    done
fi

if [ -f "$doc/enode.3" ]; then
    seealso=$(section "$doc/enode.3" "SEE ALSO" | sed 's/\\-/-/g')
    for p in $pages; do
        [ "$p" = enode.3 ] && continue
        is_link "$doc/$p" && continue
        echo "$seealso" | grep -q -F "${p%.*} (${p##*.})" ||
            fail "enode(3): SEE ALSO does not refer to ${p%.*}(${p##*.})"
    done
else
    fail "no doc/enode.3, the overview"
fi

# ---- the verdict -------------------------------------------------------------
if [ "$failures" -gt 0 ]; then
    echo "man pages: $failures problem(s) in $n_pages pages and $n_links links"
    exit 1
fi
if [ "$have_groff" != yes ]; then
    echo "SKIP: groff is not installed; $n_pages pages and $n_links links" \
         "checked except their rendering (apt-get install groff-base)"
    exit 77
fi
echo "PASS: $n_pages man pages and $n_links links render cleanly and" \
     "document all $n_fn functions of include/enode.h"
exit 0
