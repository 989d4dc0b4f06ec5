"""Allowed calls reach dynalite and come back unchanged, with an "allow" access-log record."""
import json

import pytest
from botocore.exceptions import ClientError

from guardlib import table_arn


def check_allow(rec, event, table, sid="ItemReadWrite", identity="app"):
    assert rec["eventName"] == event
    assert rec["guard"]["decision"] == "allow", rec
    assert rec["guard"]["identity"] == identity
    assert rec["guard"]["identityMatch"] == "access-key"
    assert rec["guard"]["policy"] in ("app-rw", "read-only")
    assert rec["guard"]["statement"] == sid
    assert rec["guard"]["status"] == 200
    assert rec["guard"]["upstream"]["status"] == 200
    assert rec["requestParameters"]["tableName"] == table
    assert table_arn(table) in [r["ARN"] for r in rec["resources"]]
    assert "errorCode" not in rec


# ---- aws CLI (Debian's /usr/bin/aws v2) -----------------------------------------------------------
def test_cli_put_then_get_returns_the_item(guard, log):
    item = {"pk": {"S": "cli#1"}, "sk": {"S": "a"}, "total": {"N": "42"}, "tags": {"SS": ["x", "y"]}}
    put = guard.cli("put-item", "--table-name", "orders", "--item", json.dumps(item))
    assert put.returncode == 0, put.stderr
    get = guard.cli("get-item", "--table-name", "orders", "--consistent-read",
                    "--key", json.dumps({"pk": item["pk"], "sk": item["sk"]}))
    assert get.returncode == 0, get.stderr
    got = json.loads(get.stdout)["Item"]
    got["tags"]["SS"].sort()
    assert got == item
    put_rec = guard.record(eventName="PutItem")
    check_allow(put_rec, "PutItem", "orders")
    assert put_rec["readOnly"] is False
    get_rec = guard.record(eventName="GetItem")
    check_allow(get_rec, "GetItem", "orders")
    assert get_rec["readOnly"] is True
    assert get_rec["userAgent"].startswith("aws-cli/2"), get_rec["userAgent"]


def test_cli_query(guard, direct, log):
    for i in range(3):
        direct.put_item(TableName="orders", Item={"pk": {"S": "cli#q"}, "sk": {"S": "s%d" % i}})
    r = guard.cli("query", "--table-name", "orders", "--key-condition-expression", "pk = :p",
                  "--expression-attribute-values", '{":p": {"S": "cli#q"}}')
    assert r.returncode == 0, r.stderr
    assert [i["sk"]["S"] for i in json.loads(r.stdout)["Items"]] == ["s0", "s1", "s2"]
    check_allow(guard.record(eventName="Query"), "Query", "orders")


def test_cli_batch_write_item(guard, direct, log):
    req = {
        "orders": [{"PutRequest": {"Item": {"pk": {"S": "cli#bw"}, "sk": {"S": "1"}}}}],
        "users": [{"PutRequest": {"Item": {"pk": {"S": "cli#bw"}}}}],
    }
    r = guard.cli("batch-write-item", "--request-items", json.dumps(req))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["UnprocessedItems"] == {}
    assert "Item" in direct.get_item(TableName="users", Key={"pk": {"S": "cli#bw"}})
    rec = guard.record(eventName="BatchWriteItem")
    assert rec["guard"]["decision"] == "allow"
    assert {table_arn("orders"), table_arn("users")} <= {r["ARN"] for r in rec["resources"]}


# ---- boto3 ------------------------------------------------------------------------------------------
def test_boto3_put_get_query_batch(guard, log):
    c = guard.boto()
    first = len(guard.calls)
    item = {"pk": {"S": "boto#1"}, "sk": {"S": "a"}, "status": {"S": "open"}, "blob": {"B": b"\x00\xff"}}
    c.put_item(TableName="orders", Item=item)
    assert c.get_item(TableName="orders", Key={"pk": item["pk"], "sk": item["sk"]},
                      ConsistentRead=True)["Item"] == item
    q = c.query(TableName="orders", KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": "boto#1"}})
    assert q["Count"] == 1
    q = c.query(TableName="orders", IndexName="by-status", KeyConditionExpression="#s = :s",
                ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": {"S": "open"}})
    assert item in q["Items"]
    c.batch_write_item(RequestItems={"orders": [
        {"PutRequest": {"Item": {"pk": {"S": "boto#b"}, "sk": {"S": str(i)}}}} for i in range(5)]})
    got = c.batch_get_item(RequestItems={
        "orders": {"Keys": [{"pk": {"S": "boto#b"}, "sk": {"S": "3"}}]},
        "users": {"Keys": [{"pk": {"S": "u1"}}]}})["Responses"]
    assert got["orders"] == [{"pk": {"S": "boto#b"}, "sk": {"S": "3"}}]
    assert got["users"][0]["name"] == {"S": "Ada"}
    c.update_item(TableName="orders", Key={"pk": item["pk"], "sk": item["sk"]},
                  UpdateExpression="SET #s = :c", ExpressionAttributeNames={"#s": "status"},
                  ExpressionAttributeValues={":c": {"S": "closed"}})
    c.delete_item(TableName="orders", Key={"pk": item["pk"], "sk": item["sk"]})
    assert "Item" not in c.get_item(TableName="orders", Key={"pk": item["pk"], "sk": item["sk"]})
    recs = [guard.record(call, decision="allow") for call in guard.calls[first:]]  # by request id
    names = [r["eventName"] for r in recs]
    assert names == ["PutItem", "GetItem", "Query", "Query", "BatchWriteItem", "BatchGetItem",
                     "UpdateItem", "DeleteItem", "GetItem"]
    idx = recs[3]
    assert table_arn("orders", "index", "by-status") in [r["ARN"] for r in idx["resources"]]
    assert idx["userAgent"].startswith("Boto3/"), idx["userAgent"]


def test_boto3_transact_write_items_is_forwarded(guard, log):
    # dynalite does not implement TransactWriteItems: what matters is that ddbguard allowed and
    # forwarded it, and passed dynalite's own answer through.
    c = guard.boto()
    with pytest.raises(ClientError) as e:
        c.transact_write_items(TransactItems=[
            {"Put": {"TableName": "orders", "Item": {"pk": {"S": "tx#1"}, "sk": {"S": "1"}}}},
            {"Update": {"TableName": "users", "Key": {"pk": {"S": "u1"}}, "UpdateExpression": "SET n = :n",
                        "ExpressionAttributeValues": {":n": {"N": "1"}}}}])
    assert e.value.response["Error"]["Code"] == "UnknownOperationException"
    rec = guard.record(eventName="TransactWriteItems")
    assert rec["guard"]["decision"] == "allow"
    assert rec["guard"]["upstream"]["status"] == 400
    assert {table_arn("orders"), table_arn("users")} <= {r["ARN"] for r in rec["resources"]}


def test_upstream_error_is_passed_through_and_logged(guard, log):
    c = guard.boto()
    c.put_item(TableName="users", Item={"pk": {"S": "cond#1"}})
    with pytest.raises(ClientError) as e:
        c.put_item(TableName="users", Item={"pk": {"S": "cond#1"}}, ConditionExpression="attribute_not_exists(pk)")
    assert e.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    rec = guard.record(eventName="PutItem")
    assert rec["guard"]["decision"] == "allow"
    assert rec["guard"]["status"] == 400
    assert rec["guard"]["upstream"]["status"] == 400
    assert rec["errorCode"] == "ConditionalCheckFailedException"

