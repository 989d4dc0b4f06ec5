"""The ddbguard command line: --check, signals, start-up failures."""
import grp
import json
import os
import pwd
import signal
import subprocess
import time

import pytest

from guardlib import DDBGUARD_BIN, ROOT, Guard, listening


def check(path):
    r = subprocess.run([str(DDBGUARD_BIN), "--check", "-c", str(path)], capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stdout + r.stderr


def write(tmp_path, cfg, name="ddbguard.json"):
    p = tmp_path / name
    p.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg, indent=2))
    return p


def test_check_accepts_the_test_config(tmp_path, config_template):
    rc, out = check(write(tmp_path, config_template()))
    assert rc == 0, out


def localize_example(cfg, tmp_path, certs):
    """The examples name files of their own environment (certs/dev/, /etc/ddbguard/, /var/log/, the user
    ddbguard): point those at test files and an existing user, keep everything else as shipped."""
    for listener in cfg["listeners"]:
        if "tls" in listener:
            listener["tls"] = {"cert": str(certs.server_crt), "key": str(certs.server_key)}
    if "ca_file" in cfg["upstream"]:
        cfg["upstream"]["ca_file"] = str(certs.ca)
    logdir = tmp_path / "log"
    logdir.mkdir(exist_ok=True)
    if "user" in cfg:
        cfg["user"], cfg["group"] = "nobody", "nogroup"
        if os.geteuid() == 0:
            os.chown(logdir, pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)
    cfg["access_log"] = dict(cfg.get("access_log", {}), path=str(logdir / "access.log"))
    return cfg


@pytest.mark.parametrize("name", ["quickstart.json", "production.json", "service.json"])
def test_check_accepts_the_shipped_examples(tmp_path, certs, name):
    cfg = localize_example(json.loads((ROOT / "config" / "examples" / name).read_text()), tmp_path, certs)
    rc, out = check(write(tmp_path, cfg, name))
    assert rc == 0, out


def test_check_reports_every_error_with_its_json_path(tmp_path, config_template):
    cfg = config_template()
    cfg["account_id"] = "12345"
    cfg["listeners"][0]["port"] = 70000
    cfg["bogus"] = True
    cfg["policies"]["guardrails"]["Statement"][0]["Effect"] = "deny"
    path = write(tmp_path, cfg, "broken.json")
    rc, out = check(path)
    assert rc == 1, out
    for p in ("$.account_id", "$.listeners[0].port", "$.bogus", "$.policies.guardrails.Statement[0].Effect"):
        lines = [line for line in out.splitlines() if p + ":" in line]
        assert lines, "no error for %s in:\n%s" % (p, out)
        assert lines[0].startswith(str(path) + ": "), lines[0]


def test_check_reports_cross_references(tmp_path, config_template):
    # Checked once the parts parse: identities name existing policies, a key belongs to one identity.
    cfg = config_template()
    cfg["identities"][1]["policies"] = ["no-such-policy"]
    cfg["identities"][1]["access_key_ids"].append(cfg["identities"][0]["access_key_ids"][0])
    rc, out = check(write(tmp_path, cfg))
    assert rc == 1, out
    assert "$.identities[1].policies[0]:" in out and "no-such-policy" in out, out
    assert "$.identities[1].access_key_ids[1]:" in out, out


def test_check_rejects_an_action_pattern_that_matches_nothing(tmp_path, config_template):
    cfg = config_template()
    cfg["policies"]["guardrails"]["Statement"][0]["Action"] = "dynamodb:ExportTableToPointInTim"
    rc, out = check(write(tmp_path, cfg))
    assert rc == 1, out
    assert "$.policies.guardrails.Statement[0].Action" in out, out


@pytest.mark.parametrize("text", [
    '{"account_id": "123456789012",}',                       # trailing comma
    '{"account_id": "123456789012", "account_id": "123456789012"}',  # duplicate key
    '{"account_id": "123456789012" /* comment */}',
])
def test_check_rejects_non_strict_json(tmp_path, text):
    rc, out = check(write(tmp_path, text, "strict.json"))
    assert rc == 1, out
    assert "strict.json" in out, out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_exits_cleanly_on_signal(work, certs, dynalite, config_template, sig):
    name = "signal-%s" % sig.name
    g = Guard(work, name, config_template(name), certs.ca).start()
    try:
        g.boto().list_tables()  # denied or not, the call completes and leaves a connection open
    except Exception:
        pass
    t0 = time.monotonic()
    rc = g.stop(sig, timeout=5)
    assert rc == 0, "exit status %s after %s; stderr: %s" % (rc, sig.name, g.stderr())
    assert time.monotonic() - t0 < 5
    assert not listening(g.port)


def test_listen_port_in_use_fails_fast(work, certs, guard, config_template):
    cfg = config_template("port-in-use")
    cfg["listeners"][0]["port"] = guard.port
    g = Guard(work, "port-in-use", cfg, certs.ca)
    g.config_path.write_text(json.dumps(cfg))
    r = subprocess.run([str(DDBGUARD_BIN), "-c", str(g.config_path)], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert str(guard.port) in r.stderr or "in use" in r.stderr.lower(), r.stderr
