#!/bin/sh
# embed.sh — writes a C file holding FILE's bytes as an array NAME[] (plus a
# NUL) and its length NAME_len, so that `ferc serve` carries its web page in
# the binary (no file, no CDN at run time). Only od and sed (POSIX), so the
# build needs no xxd.
# usage: web/embed.sh NAME FILE > out.c
set -eu
name=$1
file=$2
[ -r "$file" ] || { echo "embed.sh: cannot read $file" >&2; exit 1; }
len=$(wc -c < "$file" | tr -d ' ')
echo "/* generated from $file by web/embed.sh: do not edit */"
echo "#include <stddef.h>"
echo "extern const unsigned char ${name}[];"
echo "extern const size_t ${name}_len;"
echo "const unsigned char ${name}[] = {"
od -An -v -tx1 "$file" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'
echo "0x00};"
echo "const size_t ${name}_len = $len;"
