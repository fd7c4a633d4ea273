#!/usr/bin/env python3
"""embed.py IN OUT NAME: writes OUT, a C header holding IN's bytes.

The header defines `static const unsigned char NAME[]` (IN's bytes and a
final NUL, so the text can be searched as a C string) and NAME_LEN in
capitals (the length without the NUL). It lets the shell carry the
draw --html page as an ordinary file in the source tree, edited and read
as HTML, instead of as a C string.
"""
import sys


def main():
    src, out, name = sys.argv[1], sys.argv[2], sys.argv[3]
    data = open(src, "rb").read()
    if b"\0" in data:
        sys.exit(f"embed.py: {src} contains a NUL byte")
    lines = [f"/* Generated from {src.rsplit('/', 1)[-1]} by embed.py: "
             "do not edit. */",
             f"#define {name.upper()}_LEN {len(data)}",
             f"static const unsigned char {name}[] = {{"]
    for i in range(0, len(data), 16):
        chunk = data[i:i + 16]
        lines.append("    " + " ".join(f"0x{b:02x}," for b in chunk))
    lines.append("    0x00};")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
