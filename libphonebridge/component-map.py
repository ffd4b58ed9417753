#!/usr/bin/env python3
# The version script of one component library, made from the one source
# list (libphonebridge.map: the public nodes; private.map: the private one)
# and the component's static archive: each node keeps the names listed one
# by one that the component defines, and its patterns (pb_*) and local: as
# they are. So every component links with a script that names only its own
# symbols: linkers that reject a script naming a symbol the library does not
# define (lld >= 16, whose default is --no-undefined-version) link it as GNU
# ld does, and no symbol can be put under a node by another component's list.
# A released symbol keeps its node when it moves to another component
# (docs/abi.md). A node left without names is kept, empty, when a later node
# inherits it, else dropped.
#
# usage: component-map.py OUTPUT NM ARCHIVE MAP...
import re
import subprocess
import sys


def defined(nm, archive):
    out = subprocess.run([nm, "--defined-only", archive], stdout=subprocess.PIPE, text=True, check=True).stdout
    return {f[2] for f in (line.split() for line in out.splitlines()) if len(f) == 3 and f[1] in "TDBRVW"}


def parse(path):
    """[(node, [(scope, entry)], parent)]; comments dropped"""
    text = re.sub(r"/\*.*?\*/", "", open(path, encoding="utf-8").read(), flags=re.S)
    text = re.sub(r"#[^\n]*", "", text)
    nodes = []
    for m in re.finditer(r"([A-Za-z0-9_.]+)\s*\{(.*?)\}\s*([A-Za-z0-9_.]*)\s*;", text, flags=re.S):
        scope, entries = "global", []
        for tok in re.findall(r"[^\s;]+:|[^\s;:]+(?=\s*;)", m.group(2)):
            if tok.endswith(":"):
                scope = tok[:-1]
            else:
                entries.append((scope, tok))
        nodes.append((m.group(1), entries, m.group(3)))
    return nodes


def main():
    out, nm, archive = sys.argv[1:4]
    have = defined(nm, archive)
    nodes = [n for path in sys.argv[4:] for n in parse(path)]
    parents = {n[2] for n in nodes if n[2]}
    lines = [f"/* Generated from {', '.join(sys.argv[4:])} for {archive} by component-map.py: do not edit. */"]
    for name, entries, parent in nodes:
        kept = [(s, e) for s, e in entries if s != "global" or any(c in e for c in "*?[") or e in have]
        if not any(s == "global" for s, _ in kept) and name not in parents:
            continue
        lines.append(name + " {")
        scope = None
        for s, e in kept:
            if s != scope:
                lines.append(s + ":")
                scope = s
            lines.append("\t" + e + ";")
        lines.append("}" + (" " + parent if parent else "") + ";")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
