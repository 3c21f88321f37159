#!/usr/bin/env python3
"""funclen.py — lists C functions longer than a limit (lines from the
signature's first line to the closing brace). The structure test runs it so
that no function in src/ or cli/ grows past a screenful again.

usage: funclen.py [--max N] [--report M] FILE...   exit 1 when any exceeds N
"""
import re, sys

def strip(text):
    """Blank out comments, strings and character literals, keeping newlines."""
    pat = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
    return pat.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)

def functions(path):
    text = strip(open(path, encoding="utf-8", errors="replace").read())
    out, depth, decl_start, body = [], 0, 0, None
    line = 1
    for i, ch in enumerate(text):
        if ch == "\n":
            line += 1
        elif ch == "{":
            if depth == 0:
                head = re.sub(r"__attribute__\s*\(\(.*?\)\)", lambda m: " " * len(m.group(0)), text[decl_start:i], flags=re.S)
                m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*\([^;{}]*\)\s*$", head)
                if m and not re.search(r"=\s*$|\b(struct|enum|union)\s+\w*\s*$", head):
                    body = (m.group(1), text.count("\n", 0, decl_start + len(head) - len(head.lstrip())) + 1)
                else:
                    body = None
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                if body:
                    out.append((body[0], body[1], line - body[1] + 1))
                body = None
                decl_start = i + 1
        elif ch == ";" and depth == 0:
            decl_start = i + 1
        elif ch == "#" and depth == 0:
            j = text.find("\n", i)
            decl_start = j if j > 0 else i
    return out

def main(argv):
    limit, report, files = 150, 0, []
    it = iter(argv)
    for a in it:
        if a == "--max": limit = int(next(it))
        elif a == "--report": report = int(next(it))
        else: files.append(a)
    rows = [(n, f, ln, name) for f in files for name, ln, n in functions(f)]
    bad = 0
    for n, f, ln, name in sorted(rows, reverse=True):
        if n > limit:
            bad += 1
            print(f"{f}:{ln}: {name} is {n} lines (limit {limit})")
        elif report and n > report:
            print(f"{f}:{ln}: {name} {n} lines")
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
