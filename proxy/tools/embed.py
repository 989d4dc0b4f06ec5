#!/usr/bin/python3
"""proxy/tools/embed.py INPUT OUTPUT NAME: writes a C file defining `const char NAME[]`, the bytes of INPUT
and a NUL, so a program carries a data file (ddbguard-log: proxy/audit/log-queries.sql) without the source
tree. Run by meson at build time; the output is generated, not checked in."""
import os
import sys

src, out, name = sys.argv[1:4]
data = open(src, "rb").read()
if b"\0" in data:
    sys.exit("%s: contains a NUL byte" % src)
with open(out, "w") as f:
    f.write("/* generated from %s by proxy/tools/embed.py: do not edit */\n" % os.path.basename(src))
    f.write("extern const char %s[];\nconst char %s[] = {\n" % (name, name))
    for i in range(0, len(data), 20):
        f.write("\t" + ", ".join(str(b) for b in data[i:i + 20]) + ",\n")
    f.write("\t0\n};\n")
