"""Policy denials: the client gets DynamoDB's AccessDeniedException (HTTP 400), nothing reaches dynalite,
and the access log says who was denied what, by which statement."""
import pytest
from botocore.exceptions import ClientError

from guardlib import JSON_CT, UNKNOWN_KEY, READER_KEY, table_arn

EXPORT_ARGS = dict(TableArn=table_arn("orders"), S3Bucket="exfil-bucket")


def check_deny(rec, event, statement=None, identity="app"):
    assert rec["eventName"] == event
    assert rec["guard"]["decision"] == "deny", rec
    assert rec["guard"]["status"] == 400
    assert rec["guard"]["identity"] == identity
    assert rec["errorCode"] == "AccessDeniedException"
    assert rec["errorMessage"]
    assert "upstream" not in rec["guard"] or "status" not in rec["guard"]["upstream"], "a denied call went upstream"
    if statement:
        assert rec["guard"]["policy"] == "guardrails"
        assert rec["guard"]["statement"] == statement


def boto_denied(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    err = e.value.response
    assert err["Error"]["Code"] == "AccessDeniedException", err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["ResponseMetadata"]["HTTPHeaders"]["content-type"] == JSON_CT
    return err["Error"]["Message"]


def test_cli_export_table_to_point_in_time_denied(guard, log):
    r = guard.cli("export-table-to-point-in-time", "--table-arn", table_arn("orders"), "--s3-bucket", "exfil")
    assert r.returncode == 254, (r.returncode, r.stdout, r.stderr)
    assert "AccessDeniedException" in r.stderr
    assert "dynamodb:ExportTableToPointInTime" in r.stderr
    assert "explicit deny" in r.stderr and "DenyExport" in r.stderr
    check_deny(guard.record(eventName="ExportTableToPointInTime"), "ExportTableToPointInTime", "DenyExport")
    guard.assert_not_forwarded()


def test_cli_execute_statement_denied(guard, log):
    r = guard.cli("execute-statement", "--statement", 'SELECT * FROM "orders"')
    assert r.returncode == 254, (r.returncode, r.stdout, r.stderr)
    assert "AccessDeniedException" in r.stderr and "dynamodb:ExecuteStatement" in r.stderr
    check_deny(guard.record(eventName="ExecuteStatement"), "ExecuteStatement", "DenyPartiQL")
    guard.assert_not_forwarded()


def test_boto3_export_denied(guard, log):
    msg = boto_denied(guard.boto().export_table_to_point_in_time, **EXPORT_ARGS)
    assert "dynamodb:ExportTableToPointInTime" in msg and table_arn("orders") in msg
    assert "explicit deny" in msg and "guardrails" in msg and "DenyExport" in msg
    rec = guard.record(eventName="ExportTableToPointInTime")
    check_deny(rec, "ExportTableToPointInTime", "DenyExport")
    guard.assert_not_forwarded()
    assert isinstance(rec["readOnly"], bool)


@pytest.mark.parametrize("op,kw", [
    ("execute_statement", {"Statement": 'SELECT * FROM "orders"'}),
    ("batch_execute_statement", {"Statements": [{"Statement": 'SELECT * FROM "users"'}]}),
    ("execute_transaction", {"TransactStatements": [{"Statement": 'DELETE FROM "orders" WHERE pk = \'x\''}]}),
])
def test_boto3_partiql_denied(guard, log, op, kw):
    event = "".join(w.capitalize() for w in op.split("_"))
    msg = boto_denied(getattr(guard.boto(), op), **kw)
    assert "dynamodb:" + event in msg and "DenyPartiQL" in msg
    check_deny(guard.record(eventName=event), event, "DenyPartiQL")
    guard.assert_not_forwarded()


def test_batch_get_with_one_forbidden_table_is_denied(guard, direct, log):
    msg = boto_denied(guard.boto().batch_get_item, RequestItems={
        "orders": {"Keys": [{"pk": {"S": "x"}, "sk": {"S": "y"}}]},
        "secrets": {"Keys": [{"pk": {"S": "s1"}}]},
        "users": {"Keys": [{"pk": {"S": "u1"}}]}})
    assert table_arn("secrets") in msg
    assert "no ddbguard policy allows" in msg
    rec = guard.record(eventName="BatchGetItem")
    check_deny(rec, "BatchGetItem")
    guard.assert_not_forwarded()
    assert table_arn("secrets") in [r["ARN"] for r in rec["resources"]]
    assert table_arn("secrets") in rec["errorMessage"]


def test_table_outside_the_policy_is_denied(guard, log):
    msg = boto_denied(guard.boto().get_item, TableName="secrets", Key={"pk": {"S": "s1"}})
    assert "dynamodb:GetItem" in msg and table_arn("secrets") in msg
    rec = guard.record(eventName="GetItem")
    check_deny(rec, "GetItem")
    guard.assert_not_forwarded()
    assert rec["requestParameters"]["tableName"] == "secrets"


def test_reader_cannot_write(guard, log, direct):
    c = guard.boto(key=READER_KEY)
    assert c.get_item(TableName="users", Key={"pk": {"S": "u1"}})["Item"]["name"] == {"S": "Ada"}
    msg = boto_denied(c.put_item, TableName="users", Item={"pk": {"S": "by-reader"}})
    assert "identity reader" in msg and "dynamodb:PutItem" in msg
    check_deny(guard.record(eventName="PutItem"), "PutItem", identity="reader")
    guard.assert_not_forwarded()
    # ... and dynalite, asked directly, does not have the item.
    assert "Item" not in direct.get_item(TableName="users", Key={"pk": {"S": "by-reader"}}, ConsistentRead=True)


def test_reader_cannot_query_an_index_its_policy_does_not_name(guard, log):
    msg = boto_denied(guard.boto(key=READER_KEY).query, TableName="orders", IndexName="by-status",
                      KeyConditionExpression="#s = :s", ExpressionAttributeNames={"#s": "status"},
                      ExpressionAttributeValues={":s": {"S": "open"}})
    assert table_arn("orders", "index", "by-status") in msg
    check_deny(guard.record(eventName="Query"), "Query", identity="reader")
    guard.assert_not_forwarded()


def test_unknown_access_key_without_default_identity_is_denied(guard, log):
    msg = boto_denied(guard.boto(key=UNKNOWN_KEY).get_item, TableName="users", Key={"pk": {"S": "u1"}})
    assert UNKNOWN_KEY in msg
    rec = guard.record(eventName="GetItem")
    assert rec["guard"]["decision"] == "deny"
    assert rec["guard"].get("identity") is None
    assert rec["guard"]["identityMatch"] == "none"
    assert rec["userIdentity"]["accessKeyId"] == UNKNOWN_KEY
    assert rec["errorCode"] == "AccessDeniedException"
    guard.assert_not_forwarded()


def test_streams_call_without_streams_endpoint_is_refused(guard, log):
    # app-rw allows ListStreams, but the config has no upstream.streams: refused, never sent to dynamodb.
    with pytest.raises(ClientError) as e:
        guard.boto(service="dynamodbstreams").list_streams(TableName="orders")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.value.response["Error"]["Code"] == "ValidationException"
    rec = guard.record(eventName="ListStreams")
    assert rec["guard"]["decision"] == "reject", rec
    assert rec["errorCode"] == "ValidationException"
    assert "upstream" not in rec["guard"] or "status" not in rec["guard"]["upstream"]
    guard.assert_not_forwarded()
