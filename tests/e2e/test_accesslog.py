"""The access log: one CloudTrail-shaped JSON record per call, and never an item value."""
import json
import re

from guardlib import ACCOUNT, APP_KEY, REGION, table_arn

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_allowed_call_record_fields(guard, log):
    resp = guard.boto().get_item(TableName="users", Key={"pk": {"S": "u1"}})
    rec = guard.record(eventName="GetItem")
    assert rec["eventVersion"] == "1.09"
    assert TIME.match(rec["eventTime"]), rec["eventTime"]
    assert rec["eventSource"] == "dynamodb.amazonaws.com"
    assert rec["awsRegion"] == REGION
    assert rec["sourceIPAddress"] == "127.0.0.1"
    assert rec["userAgent"].startswith("Boto3/")
    assert rec["userIdentity"]["accessKeyId"] == APP_KEY
    assert rec["requestParameters"]["tableName"] == "users"
    assert rec["requestParameters"]["key"] == {"pk": "HIDDEN_DUE_TO_SECURITY_REASONS"}
    assert [(r["type"], r["ARN"]) for r in rec["resources"]] == [("AWS::DynamoDB::Table", table_arn("users"))]
    assert all(r.get("accountId", ACCOUNT) == ACCOUNT for r in rec["resources"])
    # requestID is what the client saw: dynalite's x-amzn-RequestId, passed through.
    assert rec["requestID"] == resp["ResponseMetadata"]["RequestId"]
    assert UUID.match(rec["eventID"]), rec["eventID"]
    assert rec["readOnly"] is True
    assert rec["eventType"] == "AwsApiCall"
    assert rec["managementEvent"] is False
    assert rec["eventCategory"] == "Data"
    assert rec["recipientAccountId"] == ACCOUNT
    assert "errorCode" not in rec and "errorMessage" not in rec
    g = rec["guard"]
    assert g["decision"] == "allow"
    assert g["policy"] == "app-rw" and g["statement"] == "ItemReadWrite"
    assert g["identity"] == "app" and g["identityMatch"] == "access-key"
    assert g["listener"] == "main"
    assert g["status"] == 200
    assert g["upstream"]["status"] == 200 and g["upstream"]["url"].startswith("https://localhost:")
    assert isinstance(g["durationMs"], (int, float)) and 0 <= g["durationMs"] < 10000
    assert g["bytesIn"] > 0 and g["bytesOut"] > 0


def test_each_call_gets_its_own_event_id(guard, log):
    c = guard.boto()
    first = len(guard.calls)
    for _ in range(3):
        c.get_item(TableName="users", Key={"pk": {"S": "u1"}})
    recs = [guard.record(call, eventName="GetItem") for call in guard.calls[first:]]
    assert len({r["eventID"] for r in recs}) == 3
    assert len({r["requestID"] for r in recs}) == 3


def test_item_values_never_reach_the_log(guard, log):
    marker = "ITEMVALUE-7c1e9b3f-do-not-log"
    c = guard.boto()
    first = len(guard.calls)
    item = {"pk": {"S": "logcheck"}, "sk": {"S": "1"}, "note": {"S": marker}, "n": {"N": "31415926535"}}
    c.put_item(TableName="orders", Item=item)
    c.get_item(TableName="orders", Key={"pk": item["pk"], "sk": item["sk"]})
    c.query(TableName="orders", KeyConditionExpression="pk = :p", FilterExpression="note = :v",
            ExpressionAttributeValues={":p": {"S": "logcheck"}, ":v": {"S": marker}})
    c.update_item(TableName="orders", Key={"pk": item["pk"], "sk": item["sk"]},
                  UpdateExpression="SET note = :v", ExpressionAttributeValues={":v": {"S": marker + "-2"}})
    c.batch_write_item(RequestItems={"orders": [{"PutRequest": {"Item": dict(item, sk={"S": "2"})}}]})
    # a denied call carrying the value too
    try:
        c.put_item(TableName="secrets", Item={"pk": {"S": "x"}, "note": {"S": marker}})
    except Exception:
        pass
    for call in guard.calls[first:]:
        guard.record(call)  # every one of these calls has its record in the file
    text = log.path.read_text()
    assert marker not in text
    assert "31415926535" not in text
    for line in text.splitlines():
        json.loads(line)  # every line is one complete JSON object
