"""Caller country and ASN conditions end to end: a MaxMind database made by the test (tests/data/mkmmdb.pl:
127.0.0.0/8 is "DE", AS64512), a ddbguard with "geoip" configured, and boto3 through it."""
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from guardlib import table_arn

ROOT = Path(__file__).resolve().parents[2]

# Each rule is written so that its outcome proves the lookup happened: with the key absent (lookup
# broken), OnlyFromGermany would deny GetItem and NotFromOurAsn would not deny Query.
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Reads", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
         "Resource": table_arn("users")},
        {"Sid": "OnlyFromGermany", "Effect": "Deny", "Action": "dynamodb:GetItem", "Resource": "*",
         "Condition": {"StringNotEquals": {"ddbguard:SourceCountry": ["DE"]}}},
        {"Sid": "NotFromOurAsn", "Effect": "Deny", "Action": "dynamodb:Query", "Resource": "*",
         "Condition": {"StringEquals": {"ddbguard:SourceASN": "64512"}}},
    ],
}


@pytest.fixture(scope="module")
def geo_dbs(work):
    out = work / "geoip"
    out.mkdir(exist_ok=True)
    r = subprocess.run(["perl", str(ROOT / "tests/data/mkmmdb.pl"), str(out)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def gguard(make_guard, dynalite, tables, geo_dbs):
    def install(cfg):
        cfg["geoip"] = {"country_database": str(geo_dbs / "country.mmdb"),
                        "asn_database": str(geo_dbs / "asn.mmdb")}
        cfg["policies"]["geo"] = POLICY
        for ident in cfg["identities"]:
            ident["policies"] = ["geo"]
    return make_guard("geo", dynalite.url, mutate=install)


def test_country_from_the_database_allows(gguard):
    # 127.0.0.1 is "DE" in the test database: the Deny for other countries does not apply.
    gguard.boto().get_item(TableName="users", Key={"pk": {"S": "u1"}})
    rec = gguard.record(eventName="GetItem")
    assert rec["guard"]["decision"] == "allow" and rec["guard"]["statement"] == "Reads", rec
    # the record says where the caller is, for review (ddbguard-log summary groups by country)
    assert rec["guard"]["sourceCountry"] == "DE" and rec["guard"]["sourceASN"] == "64512", rec


def test_asn_from_the_database_denies(gguard):
    # 127.0.0.1 is AS64512 in the test database: the Deny on that ASN applies.
    with pytest.raises(ClientError) as e:
        gguard.boto().query(TableName="users", KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": "u1"}})
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    rec = gguard.record(eventName="Query")
    assert rec["guard"]["decision"] == "deny" and rec["guard"]["statement"] == "NotFromOurAsn", rec
    gguard.assert_not_forwarded()


def test_explain_shows_the_country_it_looked_up(gguard):
    # The simulator opens the same databases, so an operator sees the value the daemon decided on.
    import json
    from guardlib import APP_KEY, DDBGUARD_BIN

    request = json.dumps({"target": "DynamoDB_20120810.Query", "access_key_id": APP_KEY, "source_ip": "127.0.0.1",
                          "body": {"TableName": "users", "KeyConditionExpression": "pk = :p",
                                   "ExpressionAttributeValues": {":p": {"S": "u1"}}}})
    r = subprocess.run([str(DDBGUARD_BIN), "explain", "-c", str(gguard.config_path)], input=request,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr  # denied by NotFromOurAsn
    assert 'ddbguard:SourceASN = "64512"' in r.stdout, r.stdout
    assert "NotFromOurAsn" in r.stdout
