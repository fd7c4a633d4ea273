#!/usr/bin/env python3
"""layers.py LSM_DIR: checks that lsm/'s dependencies point down only.

The engine's layers, lowest first (lsm/README.md): util < iter < mem, table
< log < compact < db; mem and table are peers and never include each other.
A file may include headers of its own layer and of the layers before it.
Quoted includes name the layer ("table/sst_int.h") and must exist in lsm/,
except the public headers "lsm.h" (lsm/include/) and "lsm_version.h"
(generated from lsm/include/lsm_version.h.in), which any file may include;
lsm/include/ itself includes no internal header. Angle-bracket
includes are system headers. Every source file must live in a layer's
folder. Prints each violation as FILE:LINE: what is wrong, and exits 1 if
there is any.
"""
import os
import re
import sys

RANK = {'util': 0, 'iter': 1, 'mem': 2, 'table': 2, 'log': 3, 'compact': 4,
        'db': 5}
# The public headers: lsm.h, and lsm_version.h, which meson generates from
# lsm/include/lsm_version.h.in (so it is not a file in lsm/).
PUBLIC = ('lsm.h', 'lsm_version.h')
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def allowed(layer, target):
    """Whether a file of `layer` may include a header of `target`."""
    return target == layer or RANK[target] < RANK[layer]


def check_line(root, rel, layer, n, line):
    """The violation on one line of file rel (in `layer`), or None."""
    m = INCLUDE.match(line)
    if not m or m.group(1) == '<':
        return None
    name = m.group(2)
    where = f'{rel}:{n}'
    if name in PUBLIC:
        return None
    if layer == 'include':
        return f'{where}: the public header includes internal "{name}"'
    target = name.split('/', 1)[0] if '/' in name else None
    if target not in RANK:
        return (f'{where}: "{name}" does not name a layer; write '
                f'"LAYER/{os.path.basename(name)}" with LAYER one of '
                f'{", ".join(RANK)}')
    if not os.path.isfile(os.path.join(root, name)):
        return f'{where}: "{name}" is not a header in lsm/'
    if not allowed(layer, target):
        return (f'{where}: layer {layer} includes "{name}" of layer '
                f'{target}, which is not below it')
    return None


def check_tree(root):
    problems = []
    for dirpath, _, filenames in os.walk(root):
        for f in sorted(filenames):
            if not f.endswith(('.c', '.h')):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root)
            layer = rel.split(os.sep, 1)[0] if os.sep in rel else None
            if layer not in RANK and layer != 'include':
                problems.append(f'{rel}: a source file outside the layer '
                                f'folders ({", ".join(RANK)})')
                continue
            with open(path, encoding='utf-8') as fh:
                for n, line in enumerate(fh, 1):
                    p = check_line(root, rel, layer, n, line)
                    if p:
                        problems.append(p)
    return problems


def main():
    if len(sys.argv) != 2:
        print('usage: layers.py LSM_DIR', file=sys.stderr)
        return 2
    problems = check_tree(sys.argv[1])
    for p in problems:
        print(p)
    if problems:
        print(f'{len(problems)} include(s) break the layering')
        return 1
    print('every include in lsm/ points down')
    return 0


if __name__ == '__main__':
    sys.exit(main())
