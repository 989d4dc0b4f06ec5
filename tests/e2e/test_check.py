"""`ddbguard --check` means the daemon will start: realistic mistakes, each named with its JSON path.

Every case starts from a config that --check accepts, makes one mistake an operator makes, and expects
exactly one error, at the key that is wrong, saying what is wrong."""
import json
import os
import pwd
import subprocess

import pytest

from conftest import make_config, policies
from guardlib import DDBGUARD_BIN, table_arn

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"


def check(path):
    r = subprocess.run([str(DDBGUARD_BIN), "--check", "-c", str(path)], capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stdout + r.stderr


def base(tmp_path, certs):
    cfg = make_config(tmp_path, certs, "check", "https://127.0.0.1:1")
    cfg.pop("allow_root", None)  # --check does not care who runs it; keep the config as an operator writes it
    return cfg


def set_resource(arn):
    def mutate(cfg, tmp_path, certs):
        cfg["policies"]["app-rw"]["Statement"][0]["Resource"] = [arn]
    return mutate


def mistake_log_dir_missing(cfg, tmp_path, certs):
    cfg["access_log"]["path"] = str(tmp_path / "no-such-dir" / "access.log")


def mistake_cert_missing(cfg, tmp_path, certs):
    cfg["listeners"][0]["tls"]["cert"] = str(tmp_path / "server.crt")   # copied to the wrong place


def mistake_key_of_another_cert(cfg, tmp_path, certs):
    cfg["listeners"][0]["tls"]["key"] = str(certs.rogue_key)


def mistake_ca_file_is_a_key(cfg, tmp_path, certs):
    cfg["upstream"]["ca_file"] = str(certs.server_key)


def mistake_country_without_geoip(cfg, tmp_path, certs):
    cfg["policies"]["guardrails"]["Statement"].append(
        {"Sid": "OnlyEU", "Effect": "Deny", "Action": "dynamodb:*", "Resource": "*",
         "Condition": {"StringNotEquals": {"ddbguard:SourceCountry": ["DE", "FR"]}}})


def mistake_user_missing(cfg, tmp_path, certs):
    cfg["user"] = "ddbguard-no-such-user"


def mistake_log_dir_not_writable_by_user(cfg, tmp_path, certs):
    d = tmp_path / "root-only"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    cfg["user"] = "nobody"
    cfg["access_log"]["path"] = str(d / "access.log")


def mistake_signing_key_not_ed25519(cfg, tmp_path, certs):
    cfg["access_log"]["signing_key"] = str(certs.server_key)   # an EC server key, not the log key


MISTAKES = [
    # (id, mutation, JSON path, words the message must contain)
    ("log-directory-missing", mistake_log_dir_missing, "$.access_log.path", "No such file or directory"),
    ("certificate-path-wrong", mistake_cert_missing, "$.listeners[0].tls.cert", "No such file or directory"),
    ("key-of-another-certificate", mistake_key_of_another_cert, "$.listeners[0].tls.key",
     "is not the private key of the certificate"),
    ("ca-file-is-a-key", mistake_ca_file_is_a_key, "$.upstream.ca_file", "no PEM certificate"),
    ("arn-without-table", set_resource("arn:aws:dynamodb:us-east-1:123456789012:demo"),
     "$.policies[\"app-rw\"].Statement[0].Resource[0]", "is not table/<name> or global-table/<name>"),
    ("arn-region-us-east1", set_resource("arn:aws:dynamodb:us-east1:123456789012:table/orders"),
     "$.policies[\"app-rw\"].Statement[0].Resource[0]", "\"us-east1\" is not a region name"),
    ("arn-account-11-digits", set_resource("arn:aws:dynamodb:us-east-1:12345678901:table/orders"),
     "$.policies[\"app-rw\"].Statement[0].Resource[0]", "not a 12-digit AWS account id"),
    ("arn-wrong-partition", set_resource("arn:aws-cn:dynamodb:us-east-1:123456789012:table/orders"),
     "$.policies[\"app-rw\"].Statement[0].Resource[0]", "region us-east-1 is in partition \"aws\""),
    ("arn-unknown-resource-type", set_resource(ARN + "/indexes/by-date"),
     "$.policies[\"app-rw\"].Statement[0].Resource[0]", "unknown resource type \"indexes\""),
    ("country-without-geoip", mistake_country_without_geoip,
     "$.policies.guardrails.Statement[%d].Condition.StringNotEquals[\"ddbguard:SourceCountry\"]"
     % len(policies()["guardrails"]["Statement"]),
     "set geoip.country_database"),
    ("user-missing", mistake_user_missing, "$.user", "does not exist"),
    ("log-directory-not-writable-by-user", mistake_log_dir_not_writable_by_user, "$.access_log.path",
     "is not writable by user nobody"),
    ("signing-key-not-ed25519", mistake_signing_key_not_ed25519, "$.access_log.signing_key",
     "is not an Ed25519 key"),
]


def test_the_base_config_is_valid(tmp_path, certs):
    p = tmp_path / "ddbguard.json"
    p.write_text(json.dumps(base(tmp_path, certs)))
    rc, out = check(p)
    assert rc == 0 and out.strip() == "%s: valid" % p, out


@pytest.mark.parametrize("name,mutate,where,words", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_check_names_the_mistake(tmp_path, certs, name, mutate, where, words):
    if name == "log-directory-not-writable-by-user":
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            pytest.fail("this test needs the user nobody (Debian has it)")
        if os.geteuid() != 0:
            pytest.skip("judging another user's write access needs the tests to run as root (they do in CI)")
    cfg = base(tmp_path, certs)
    mutate(cfg, tmp_path, certs)
    p = tmp_path / "ddbguard.json"
    p.write_text(json.dumps(cfg))
    rc, out = check(p)
    assert rc == 1, out
    errors = [line for line in out.splitlines() if line.startswith("%s: $" % p)]
    assert len(errors) == 1, out
    assert errors[0].startswith("%s: %s: " % (p, where)), out
    assert words in errors[0], out
    assert out.splitlines()[-1] == "%s: 1 error" % p, out


def test_check_creates_nothing(tmp_path, certs):
    cfg = base(tmp_path, certs)
    cfg["access_log"]["path"] = str(tmp_path / "check" / "fresh.log")
    p = tmp_path / "ddbguard.json"
    p.write_text(json.dumps(cfg))
    before = sorted(os.listdir(tmp_path / "check"))
    rc, out = check(p)
    assert rc == 0, out
    assert sorted(os.listdir(tmp_path / "check")) == before
