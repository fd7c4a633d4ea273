#!/usr/bin/env python3
"""draw_svg_check.py SVG DUMP: checks a picture from lsm-cli's draw --svg.

DUMP is the output of the same session's dump. Checked: the SVG is
well-formed XML (the parser refuses anything else); it has exactly one
box (rect of class "sst") per SST the dump lists, with the same ids, and
one "memtable" box at most per memtable; every box lies inside the
canvas; and no two boxes of one level (or tier) overlap, where L0's may.
Exit status 0 when all hold, 1 with the reasons otherwise.
"""
import re
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def dump_ssts(text):
    """The SST ids the dump's level lines list: 'L1 (2): [3, 4]'."""
    ids = set()
    for line in text.splitlines():
        m = re.match(r"L\d+ \(\d+\): \[([0-9, ]*)\]$", line)
        if m and m.group(1).strip():
            ids.update(int(x) for x in m.group(1).split(","))
    return ids


def main():
    svg_path, dump_path = sys.argv[1], sys.argv[2]
    root = ET.parse(svg_path).getroot()
    problems = []
    width, height = float(root.get("width")), float(root.get("height"))
    boxes = []
    for rect in root.iter(SVG + "rect"):
        kind = (rect.get("class") or "").split()
        if "sst" not in kind and "memtable" not in kind:
            continue
        x, y = float(rect.get("x")), float(rect.get("y"))
        w, h = float(rect.get("width")), float(rect.get("height"))
        box = (kind, int(rect.get("data-id")), rect.get("data-row"), x, y, w, h)
        boxes.append(box)
        if x < 0 or y < 0 or x + w > width or y + h > height or w < 0:
            problems.append("box %s of %s lies outside the canvas" % box[1:3])
    with open(dump_path) as f:
        want = dump_ssts(f.read())
    got = [b[1] for b in boxes if "sst" in b[0]]
    if sorted(got) != sorted(want):
        problems.append("SST boxes %s, the dump lists %s" %
                        (sorted(got), sorted(want)))
    rows = {}
    for b in boxes:
        if "sst" in b[0] and not b[2].startswith("L0 "):
            rows.setdefault(b[2], []).append(b)
    for row, bs in rows.items():
        bs.sort(key=lambda b: b[3])
        for a, b in zip(bs, bs[1:]):
            if a[3] + a[5] > b[3] + 1e-6:
                problems.append("%s: boxes %d and %d overlap" %
                                (row, a[1], b[1]))
    if not got:
        problems.append("no SST box at all")
    for p in problems:
        print("draw_svg_check: %s: %s" % (svg_path, p))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
