"""Condition keys from item keys, identity tags and resource policies, end to end (filters/policy/condkeys.c). One
instance, "keys", with table schemas configured; each test checks what the client saw and the access-log
record."""
import json

import pytest
from botocore.exceptions import ClientError

from guardlib import ACCOUNT, READER_KEY, table_arn

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "OwnRows", "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table_arn("users"),
         "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["user#1"]}}},
        {"Sid": "TeamDescribe", "Effect": "Allow", "Action": "dynamodb:DescribeTable", "Resource": "*",
         "Condition": {"StringEquals": {"ddbguard:IdentityTag/team": "orders"}}},
        {"Sid": "ResourcePolicies", "Effect": "Allow", "Action": "dynamodb:PutResourcePolicy", "Resource": "*"},
        {"Sid": "NoForeignGrants", "Effect": "Deny", "Action": "dynamodb:PutResourcePolicy", "Resource": "*",
         "Condition": {"ForAnyValue:StringNotEquals": {"ddbguard:ResourcePolicyAccounts": [ACCOUNT]}}},
    ],
}


def install(cfg):
    cfg["tables"] = {"users": {"partition_key": "pk"}}
    cfg["policies"]["keys"] = POLICY
    for ident in cfg["identities"]:
        ident["policies"] = ["keys"]
        # IAM compares tag keys without case: "Team" here, "team" in the policy.
        ident["tags"] = {"Team": "orders"} if ident["name"] == "app" else {"Team": "billing"}


@pytest.fixture(scope="module")
def kguard(make_guard, dynalite, tables):
    return make_guard("keys", dynalite.url, mutate=install)


def check_record(rec, event, decision, statement, identity="app"):
    assert rec["eventName"] == event
    assert rec["guard"]["decision"] == decision, rec
    assert rec["guard"]["identity"] == identity
    assert rec["guard"].get("statement") == statement, rec
    if decision == "deny":
        assert rec["errorCode"] == "AccessDeniedException"
        assert "upstream" not in rec["guard"] or "status" not in rec["guard"]["upstream"], "a denied call went upstream"


def test_leading_keys_own_row_allowed(kguard):
    r = kguard.boto().get_item(TableName="users", Key={"pk": {"S": "user#1"}})
    assert "Item" not in r  # forwarded; no such item in dynalite
    check_record(kguard.record(eventName="GetItem"), "GetItem", "allow", "OwnRows")


def test_leading_keys_other_row_denied(kguard):
    with pytest.raises(ClientError) as e:
        kguard.boto().get_item(TableName="users", Key={"pk": {"S": "user#2"}})
    assert e.value.response["Error"]["Code"] == "AccessDeniedException", e.value.response
    check_record(kguard.record(eventName="GetItem"), "GetItem", "deny", None)
    kguard.assert_not_forwarded()


def test_identity_tag(kguard):
    kguard.boto().describe_table(TableName="users")
    check_record(kguard.record(eventName="DescribeTable"), "DescribeTable", "allow", "TeamDescribe")
    with pytest.raises(ClientError) as e:
        kguard.boto(key=READER_KEY).describe_table(TableName="users")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException", e.value.response
    check_record(kguard.record(eventName="DescribeTable"), "DescribeTable", "deny", None, identity="reader")
    kguard.assert_not_forwarded()


def put_resource_policy(g, principal):
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "dynamodb:GetItem",
         "Resource": table_arn("users")}]}
    body = json.dumps({"ResourceArn": table_arn("users"), "Policy": json.dumps(doc)}).encode()
    return g.raw(*g.request_bytes("PutResourcePolicy", body))


def test_resource_policy_for_another_account_denied(kguard):
    r = put_resource_policy(kguard, "arn:aws:iam::999988887777:root")
    assert r.status == 400 and r.json()["__type"].endswith("AccessDeniedException"), r
    check_record(kguard.record(eventName="PutResourcePolicy"), "PutResourcePolicy", "deny", "NoForeignGrants")
    kguard.assert_not_forwarded()


def test_resource_policy_for_own_account_forwarded(kguard):
    r = put_resource_policy(kguard, "arn:aws:iam::%s:role/reader" % ACCOUNT)
    # dynalite does not implement resource policies: it answers, and it is not our denial.
    assert "AccessDeniedException" not in r.json().get("__type", ""), r
    rec = kguard.record(eventName="PutResourcePolicy")
    check_record(rec, "PutResourcePolicy", "allow", "ResourcePolicies")
    assert rec["guard"]["upstream"]["status"]
    kguard.assert_forwarded()
