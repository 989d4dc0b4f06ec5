#!/usr/bin/python3
"""tests/check_layers.py: includes run one way.

Reads every `#include "..."` of the C sources under config/, filters/ and proxy/ (tests/ may include
anything), maps each file to its folder, and fails on
  - an include of a folder the RULES table below does not allow for the including folder,
  - an include of a header its folder does not export (PUBLIC) to other folders,
  - an include of a file that does not exist, or a source folder RULES does not know,
  - any include cycle between modules (X.c and X.h are one module; so a file-level cycle is one too)
    or between folders,
  - a meson.build layer source list (base_sources ...) naming a file of another folder, or a .c file
    meson.build does not build,
  - an include under tests/ (unit, fuzz, bench: no layer rules) of a file that does not exist.
Each failure is printed with the offending edge ("proxy/audit/accesslog.c -> proxy/request.h: ...").

  tests/check_layers.py [ROOT]       check the tree (exit 0 clean, 1 with findings)
  tests/check_layers.py --self-test  check that the checker finds planted bad edges and cycles
  tests/check_layers.py --graph      print the folder graph (for the READMEs)

The layering, lowest first (each folder's README.md says the same in prose):
  filters/base      diagnostics every layer may use (config-error list, operator log)
  filters/dynamodb  what a DynamoDB call is: catalog, strict JSON, inspector, PartiQL/expression readers
  filters/policy    what is allowed: policy language, identities, condition keys, geoip
  config            the config file, compiled (calls the policy and identity compilers)
  proxy/audit       the access log: records, hash chain, sinks; knows the call only as
                    struct accesslog_call, never the connection or the policy engine
  proxy             the daemon: listeners, connections, HTTP, TLS, upstream, the request pipeline
  proxy/tools       the programs' entry points and the offline tools (explain, ddbguard-log)
"""
import os
import re
import shutil
import sys
import tempfile

SOURCE_DIRS = ("config", "filters", "proxy")

# folder -> {folder it may include: None (every exported header) or a set of header names}.
# A folder may always include its own files.
RULES = {
    "filters/base": {},
    "filters/dynamodb": {"filters/base": None},
    "filters/policy": {"filters/base": None, "filters/dynamodb": None},
    "config": {"filters/base": None, "filters/dynamodb": None, "filters/policy": None},
    # The log: the config section it is configured from, the inspector's reading of the call (resources,
    # table, redacted PartiQL) and the base. Not the daemon, not the policy engine.
    "proxy/audit": {"filters/base": None, "config": {"config.h"}, "filters/dynamodb": {"inspect.h"}},
    "proxy": {"filters/base": None, "filters/dynamodb": None, "filters/policy": None, "config": None,
              "proxy/audit": None},
    "proxy/tools": {"filters/base": None, "filters/dynamodb": None, "filters/policy": None, "config": None,
                    "proxy/audit": None, "proxy": None},
}

# folder -> the headers other folders may include (its interface); None: every header. Listed where a
# folder keeps headers of its own (audit's syslog sink) or documents a narrow interface (the DynamoDB
# readers, config); a new header there must be added here and to the folder's README.
PUBLIC = {
    "filters/base": None,
    # The documented interface of the DynamoDB readers (filters/dynamodb/README.md). catalog_gen.c is
    # the generated table behind catalog.h and has no header.
    "filters/dynamodb": {"arn.h", "catalog.h", "dynexpr.h", "inspect.h", "json.h", "partiql.h", "schema.h"},
    "filters/policy": None,
    "config": {"config.h"},
    # syslog_sink.h is the log's own business.
    "proxy/audit": {"accesslog.h", "ids.h", "jsonw.h", "logchain.h"},
    "proxy": None,
    "proxy/tools": None,
}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)

# meson.build follows the same shape: one source list per layer folder of the daemon's library.
MESON_LISTS = {"base_sources": "filters/base", "dynamodb_sources": "filters/dynamodb",
               "policy_sources": "filters/policy", "config_sources": "config", "audit_sources": "proxy/audit",
               "proxy_sources": "proxy"}
MESON_LIST_RE = re.compile(r"^(\w+)\s*=\s*files\((.*?)\)", re.M | re.S)
QUOTED_RE = re.compile(r"'([^']+)'")


def check_meson(root, text):
    """Each layer's list names only its folder's files; every .c file is built by some line of meson.build."""
    findings = []
    text = re.sub(r"#[^\n]*", "", text)  # comments (an apostrophe there would pair quotes wrongly)
    for m in MESON_LIST_RE.finditer(text):
        folder = MESON_LISTS.get(m.group(1))
        if folder is None:
            continue
        for path in QUOTED_RE.findall(m.group(2)):
            if os.path.dirname(path) != folder:
                findings.append("meson.build: %s lists %s, which is not in %s/" % (m.group(1), path, folder))
    named = set(QUOTED_RE.findall(text))
    for src in sources(root):
        if src.endswith(".c") and src not in named:
            findings.append("meson.build: %s is not built (add it to its folder's source list)" % src)
    return findings


def sources(root):
    for top in SOURCE_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "node_modules")
            for f in sorted(filenames):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), root)


def module(path):
    return os.path.splitext(path)[0]


def find_cycle(graph):
    """Returns one cycle as a list of nodes [a, b, ..., a], or None. Iterative DFS, deterministic."""
    color = {}
    for start in sorted(graph):
        if color.get(start):
            continue
        stack = [(start, iter(sorted(graph.get(start, ()))))]
        color[start] = 1
        path = [start]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[node] = 2
                stack.pop()
                path.pop()
                continue
            c = color.get(nxt, 0)
            if c == 1:
                return path[path.index(nxt):] + [nxt]
            if c == 0:
                color[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(sorted(graph.get(nxt, ())))))
    return None


def all_cycles(graph):
    """Every cycle, one at a time: report one, drop its first edge, look again (bounded)."""
    g = {k: set(v) for k, v in graph.items()}
    out = []
    for _ in range(100):
        c = find_cycle(g)
        if c is None:
            break
        out.append(c)
        g[c[0]].discard(c[1])
    return out


def check(root, rules=RULES, public=PUBLIC):
    findings = []
    edges = []  # (from file, to file)
    for src in sources(root):
        with open(os.path.join(root, src), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for m in INCLUDE_RE.finditer(text):
            inc = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            edge = "%s:%d -> %s" % (src, line, inc)
            if not os.path.isfile(os.path.join(root, inc)):
                findings.append("%s: no such file (includes are written from the repository root)" % edge)
                continue
            edges.append((src, inc))
            a, b = os.path.dirname(src), os.path.dirname(inc)
            if a not in rules:
                findings.append("%s: folder %s is not in the rule table (tests/check_layers.py RULES)" % (edge, a))
                continue
            if a == b:
                continue
            if b not in rules.get(a, {}):
                findings.append("%s: %s may not include %s (allowed: %s)"
                                % (edge, a, b, ", ".join(sorted(rules[a])) or "nothing of ours"))
                continue
            allowed = rules[a][b]
            name = os.path.basename(inc)
            if public.get(b) is not None and name not in public[b]:
                findings.append("%s: %s is internal to %s (exported: %s)"
                                % (edge, name, b, ", ".join(sorted(public[b]))))
            elif allowed is not None and name not in allowed:
                findings.append("%s: %s may include only %s of %s"
                                % (edge, a, ", ".join(sorted(allowed)), b))
    mods, folders = {}, {}
    for a, b in edges:
        if module(a) != module(b):
            mods.setdefault(module(a), set()).add(module(b))
        fa, fb = os.path.dirname(a), os.path.dirname(b)
        if fa != fb:
            folders.setdefault(fa, set()).add(fb)
    for c in all_cycles(mods):
        findings.append("module cycle: %s" % " -> ".join(c))
    for c in all_cycles(folders):
        findings.append("folder cycle: %s" % " -> ".join(c))
    return findings, edges, folders


def check_test_includes(root):
    """tests/ may include anything, but what it includes must exist (a moved header breaks fuzz targets
    that only a sanitizer or fuzz build compiles)."""
    findings = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, "tests")):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "corpus")
        for name in sorted(filenames):
            if not name.endswith((".c", ".h")):
                continue
            src = os.path.relpath(os.path.join(dirpath, name), root)
            with open(os.path.join(root, src), encoding="utf-8", errors="replace") as f:
                text = f.read()
            for m in INCLUDE_RE.finditer(text):
                inc = m.group(1)
                if not (os.path.isfile(os.path.join(root, inc)) or os.path.isfile(os.path.join(dirpath, inc))):
                    findings.append("%s:%d -> %s: no such file" % (src, text.count("\n", 0, m.start()) + 1, inc))
    return findings


def self_test():
    """Plants a bad edge, an internal header, a missing file, an unknown folder and two cycles."""
    ok = True
    tmp = tempfile.mkdtemp(prefix="check_layers.")
    try:
        def put(path, text):
            os.makedirs(os.path.dirname(os.path.join(tmp, path)), exist_ok=True)
            with open(os.path.join(tmp, path), "w") as f:
                f.write(text)

        rules = {"filters/base": {}, "filters/dynamodb": {"filters/base": None},
                 "proxy/audit": {"filters/dynamodb": {"inspect.h"}}, "proxy": {"proxy/audit": None}}
        public = {"filters/base": None, "filters/dynamodb": {"inspect.h", "json.h"}, "proxy/audit": {"accesslog.h"},
                  "proxy": None}
        put("filters/base/diag.h", "")
        put("filters/dynamodb/inspect.h", '#include "filters/base/diag.h"\n')
        put("filters/dynamodb/json.h", "")
        put("filters/dynamodb/partiql.h", '#include "filters/dynamodb/json.h"\n')
        put("proxy/audit/accesslog.h", '#include "filters/dynamodb/inspect.h"\n')
        put("proxy/audit/accesslog.c", '#include "proxy/audit/accesslog.h"\n#include "proxy/request.h"\n'
            '#include "filters/dynamodb/json.h"\n')
        put("proxy/audit/sink.h", "")
        put("proxy/request.h", '#include "proxy/audit/accesslog.h"\n')
        put("proxy/request.c", '#include "proxy/request.h"\n#include "proxy/audit/sink.h"\n')
        clean, _, _ = check(tmp, rules, public)
        expect = {
            "upward edge": "proxy/audit/accesslog.c:2 -> proxy/request.h: proxy/audit may not include proxy",
            "narrow rule": "proxy/audit/accesslog.c:3 -> filters/dynamodb/json.h: proxy/audit may include only inspect.h",
            "internal header": "proxy/request.c:2 -> proxy/audit/sink.h: sink.h is internal to proxy/audit",
            "module cycle": "module cycle: proxy/audit/accesslog -> proxy/request -> proxy/audit/accesslog",
            "folder cycle": "folder cycle: proxy -> proxy/audit -> proxy",
        }
        for what, text in expect.items():
            if not any(f.startswith(text) for f in clean):
                print("self-test: %s not reported (%r); got:\n  %s" % (what, text, "\n  ".join(clean)))
                ok = False
        if len(clean) != len(expect):
            print("self-test: expected %d findings, got %d:\n  %s" % (len(expect), len(clean), "\n  ".join(clean)))
            ok = False
        # A clean tree reports nothing; a missing file and an unknown folder are findings.
        put("proxy/audit/accesslog.c", '#include "proxy/audit/accesslog.h"\n')
        put("proxy/request.c", '#include "proxy/request.h"\n')
        put("proxy/request.h", '#include "proxy/audit/accesslog.h"\n')
        found, _, _ = check(tmp, rules, public)
        if found:
            print("self-test: a clean tree reported:\n  " + "\n  ".join(found))
            ok = False
        put("proxy/request.c", '#include "proxy/request.h"\n#include "proxy/nothere.h"\n')
        put("config/x.c", '#include "proxy/request.h"\n')
        found, _, _ = check(tmp, rules, public)
        for text in ("proxy/request.c:2 -> proxy/nothere.h: no such file",
                     "config/x.c:1 -> proxy/request.h: folder config is not in the rule table"):
            if not any(f.startswith(text) for f in found):
                print("self-test: not reported: %r; got:\n  %s" % (text, "\n  ".join(found)))
                ok = False
        meson = ("dynamodb_sources = files(\n  'filters/dynamodb/json.c',\n  'proxy/request.c',\n)\n"
                 "proxy_sources = files('proxy/request.c')\n")
        found = check_meson(tmp, meson)
        for text in ("meson.build: dynamodb_sources lists proxy/request.c, which is not in filters/dynamodb/",
                     "meson.build: config/x.c is not built"):
            if not any(f.startswith(text) for f in found):
                print("self-test: not reported: %r; got:\n  %s" % (text, "\n  ".join(found)))
                ok = False
        put("tests/fuzz/fuzz_x.c", '#include "config/diag.h"\n#include "proxy/request.h"\n')
        found = check_test_includes(tmp)
        if found != ["tests/fuzz/fuzz_x.c:1 -> config/diag.h: no such file"]:
            print("self-test: a stale include in tests/ not reported alone; got:\n  " + "\n  ".join(found))
            ok = False
    finally:
        shutil.rmtree(tmp)
    print("check_layers self-test: %s" % ("ok" if ok else "FAILED"))
    return ok


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    root = args[0] if args else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if "--self-test" in argv:
        return 0 if self_test() else 1
    findings, edges, folders = check(root)
    if "--graph" in argv:
        for f in sorted(folders):
            print("%-18s -> %s" % (f, ", ".join(sorted(folders[f]))))
    meson = os.path.join(root, "meson.build")
    if os.path.isfile(meson):
        with open(meson, encoding="utf-8") as f:
            findings += check_meson(root, f.read())
    findings += check_test_includes(root)
    known = {os.path.dirname(s) for s in sources(root)}
    for f in sorted(known - set(RULES)):
        findings.append("folder %s has sources but no rule (tests/check_layers.py RULES)" % f)
    for f in findings:
        print(f)
    print("check_layers: %d includes in %d folders, %d finding%s"
          % (len(edges), len(known), len(findings), "" if len(findings) == 1 else "s"))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
