"""The docs match the code: every config key the loader accepts (config/config.c's key tables) is documented in
config/README.md, in the section of its object, and every key documented there is accepted; the man page
ddbguard.json(5) names each one too. A key table added to config.c without a section here fails the test."""
import re

from guardlib import ROOT

CONFIG_C = ROOT / "config" / "config.c"
README = ROOT / "config" / "README.md"
MAN = ROOT / "config" / "ddbguard.json.5"

# config.c key table -> the heading of its section in config/README.md
SECTIONS = {
    "top_keys": "Top level",
    "listener_keys": "`listeners[]`",
    "tls_keys": "`listeners[].tls`",
    "upstream_keys": "`upstream`",
    "limits_keys": "`limits`",
    "access_log_keys": "`access_log`",
    "admin_keys": "`admin`",
    "egress_keys": "`egress`",
    "geoip_keys": "`geoip`",
    "sigv4_keys": "`sigv4`",
    "credentials_keys": "`credentials`",
}


def loader_tables():
    """{table name: [key names]} from every `static const struct cfg_key NAME[] = { ... };` in config.c."""
    src = CONFIG_C.read_text()
    tables = {}
    for m in re.finditer(r"static const struct cfg_key (\w+)\[\] = \{(.*?)\n\};", src, re.S):
        tables[m.group(1)] = re.findall(r'\.name = "([^"]+)"', m.group(2))
    assert tables, "no key tables found in config/config.c"
    return tables


def readme_sections():
    """{heading: [keys]} where keys are the first cells (`key`) of the section's table rows."""
    sections, current = {}, None
    for line in README.read_text().splitlines():
        h = re.match(r"^#{2,4} (.+)$", line)
        if h:
            current = h.group(1).strip()
            sections.setdefault(current, [])
            continue
        row = re.match(r"^\| `([^`]+)` \|", line)
        if row and current is not None:
            sections[current].append(row.group(1))
    return sections


def test_every_loader_table_has_a_documented_section():
    tables, sections = loader_tables(), readme_sections()
    assert sorted(tables) == sorted(SECTIONS), (
        "config.c key tables and this test's SECTIONS differ: add the new table's README section to SECTIONS: %s"
        % sorted(set(tables) ^ set(SECTIONS)))
    for table, heading in SECTIONS.items():
        assert heading in sections, "config/README.md has no section \"## %s\" for %s" % (heading, table)


def test_every_accepted_key_is_documented_and_every_documented_key_accepted():
    tables, sections = loader_tables(), readme_sections()
    problems = []
    for table, heading in SECTIONS.items():
        accepted, documented = set(tables[table]), set(sections.get(heading, []))
        for k in sorted(accepted - documented):
            problems.append("%s: key %r is accepted but not documented in section %s" % (table, k, heading))
        for k in sorted(documented - accepted):
            problems.append("%s: key %r is documented in section %s but the loader rejects it" % (table, k, heading))
    assert not problems, "\n".join(problems)


def test_the_man_page_names_every_key():
    man = MAN.read_text()
    missing = sorted({k for keys in loader_tables().values() for k in keys if not re.search(r"\b%s\b" % k, man)})
    assert not missing, "ddbguard.json(5) does not mention: %s" % missing


def test_readme_statements_are_true():
    readme = (ROOT / "README.md").read_text()
    assert "not built yet" not in readme, "README still says the GeoIP conditions are not built"
    assert "upstream.ca_file" in readme and "--san DNS:dynamodb." in readme, "egress setup lacks ca_file / test cert"
    assert "Failed to connect to proxy URL" in readme and "access log" in readme
    # The quickstart builds every binary the README tells the reader to run.
    quickstart = (ROOT / "deploy" / "quickstart.sh").read_text()
    built = re.search(r'^ninja -C "\$BUILD" (.+?) \|\|', quickstart, re.M).group(1).split()
    for binary in sorted(set(re.findall(r"build/(ddbguard(?:-log)?)\b", readme))):
        assert binary in built, "README uses build/%s but deploy/quickstart.sh does not build it" % binary
