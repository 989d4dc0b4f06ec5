"""Policy Conditions end to end: statements apply only when their Condition holds over the keys ddbguard takes
from the request (filters/policy/condkeys.c). One instance, "cond", whose app identity has a single conditional
policy; each test checks what the client saw and the access-log record (decision, policy, statement)."""
import pytest
from botocore.exceptions import ClientError

from guardlib import table_arn

ALLOWED_BUCKET = "allowed-exports"

CONDITIONAL = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "AllowOps", "Effect": "Allow",
         "Action": ["dynamodb:ExportTableToPointInTime", "dynamodb:UpdateTable", "dynamodb:GetItem",
                    "dynamodb:DescribeTable"],
         "Resource": "*"},
        {"Sid": "OnlyAllowedBuckets", "Effect": "Deny", "Action": "dynamodb:ExportTableToPointInTime",
         "Resource": "*", "Condition": {"StringNotEquals": {"ddbguard:S3Bucket": [ALLOWED_BUCKET]}}},
        # Never applies here: every call of this suite comes from loopback.
        {"Sid": "OnlyLoopback", "Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}},
        # Applies to every DescribeTable from 127.0.0.1 (key name case-insensitive, as IAM's).
        {"Sid": "NoDescribeFromHere", "Effect": "Deny", "Action": "dynamodb:DescribeTable", "Resource": "*",
         "Condition": {"IpAddress": {"aws:sourceip": "127.0.0.1/32"}}},
        {"Sid": "NoAwsOwnedKey", "Effect": "Deny", "Action": "dynamodb:UpdateTable", "Resource": "*",
         "Condition": {"StringEquals": {"ddbguard:SSEType": "AES256"}}},
    ],
}


def install(cfg):
    cfg["policies"]["conditional"] = CONDITIONAL
    for ident in cfg["identities"]:
        if ident["name"] == "app":
            ident["policies"] = ["conditional"]


@pytest.fixture(scope="module")
def cguard(make_guard, dynalite, tables):
    return make_guard("cond", dynalite.url, mutate=install)


def check_record(rec, event, decision, statement):
    assert rec["eventName"] == event
    assert rec["guard"]["decision"] == decision, rec
    assert rec["guard"]["identity"] == "app"
    assert rec["guard"]["policy"] == "conditional"
    assert rec["guard"]["statement"] == statement, rec
    if decision == "deny":
        assert rec["errorCode"] == "AccessDeniedException"
        assert "upstream" not in rec["guard"] or "status" not in rec["guard"]["upstream"], "a denied call went upstream"


def test_export_to_unlisted_bucket_denied_cli(cguard):
    r = cguard.cli("export-table-to-point-in-time", "--table-arn", table_arn("orders"), "--s3-bucket", "exfil")
    assert r.returncode == 254, (r.returncode, r.stdout, r.stderr)
    assert "AccessDeniedException" in r.stderr and "OnlyAllowedBuckets" in r.stderr
    rec = cguard.record(eventName="ExportTableToPointInTime")
    check_record(rec, "ExportTableToPointInTime", "deny", "OnlyAllowedBuckets")
    cguard.assert_not_forwarded()


def test_export_to_listed_bucket_forwarded(cguard):
    with pytest.raises(ClientError) as e:
        cguard.boto().export_table_to_point_in_time(TableArn=table_arn("orders"), S3Bucket=ALLOWED_BUCKET)
    # dynalite does not implement exports: whatever it says, it is not our denial.
    assert e.value.response["Error"]["Code"] != "AccessDeniedException", e.value.response
    rec = cguard.record(eventName="ExportTableToPointInTime")
    check_record(rec, "ExportTableToPointInTime", "allow", "AllowOps")
    assert rec["guard"]["upstream"]["status"]
    cguard.assert_forwarded()  # the recording sees allowed calls: its "not forwarded" is not vacuous


def test_source_ip_conditions(cguard):
    c = cguard.boto()
    # NotIpAddress 127.0.0.0/8 does not apply from loopback: the call is allowed and forwarded.
    c.get_item(TableName="orders", Key={"pk": {"S": "none"}, "sk": {"S": "none"}})
    check_record(cguard.record(eventName="GetItem"), "GetItem", "allow", "AllowOps")
    with pytest.raises(ClientError) as e:
        c.describe_table(TableName="orders")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "NoDescribeFromHere" in e.value.response["Error"]["Message"]
    check_record(cguard.record(eventName="DescribeTable"), "DescribeTable", "deny", "NoDescribeFromHere")
    cguard.assert_not_forwarded()


def test_update_table_to_aws_owned_key_denied(cguard):
    with pytest.raises(ClientError) as e:
        cguard.boto().update_table(TableName="orders", SSESpecification={"Enabled": True, "SSEType": "AES256"})
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    check_record(cguard.record(eventName="UpdateTable"), "UpdateTable", "deny", "NoAwsOwnedKey")
    cguard.assert_not_forwarded()
