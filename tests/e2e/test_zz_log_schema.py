"""proxy/audit/access-log.schema.json: a fresh record of each decision validates and carries the documented fields,
and (this module runs last: "zz") every line of every access log the session wrote validates too.

Each decision's record is checked against what proxy/audit/ACCESS_LOG.md promises, and that no item value
(the MARKER) reaches any log of the session.
"""
import copy
import json

import jsonschema
import pytest
from botocore.exceptions import ClientError

from guardlib import ACCOUNT, READER_KEY, ROOT, free_port, table_arn

SCHEMA_PATH = ROOT / "proxy" / "audit" / "access-log.schema.json"
MARKER = "ITEMVALUE-zz-3f9a1c-never-logged"
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def valid(validator, rec):
    errors = sorted(validator.iter_errors(rec), key=lambda e: list(e.absolute_path))
    assert not errors, "%s\n%s" % ([e.message for e in errors][:5], json.dumps(rec, indent=1))
    return rec


def test_allow_record_names_keys_and_attributes_and_capacity(guard, log, validator):
    c = guard.boto()
    item = {"pk": {"S": MARKER}, "sk": {"S": "zz"}, "note": {"S": MARKER}, "qty": {"N": "7"}}
    c.put_item(TableName="orders", Item=item, ReturnConsumedCapacity="TOTAL",
               ConditionExpression="attribute_not_exists(#p)", ExpressionAttributeNames={"#p": "pk"})
    put = valid(validator, guard.record(eventName="PutItem"))
    rp = put["requestParameters"]
    assert rp["tableName"] == "orders"
    assert rp["item"] == ["pk", "sk", "note", "qty"]
    assert rp["returnConsumedCapacity"] == "TOTAL"
    assert rp["expressions"] == ["ConditionExpression"]
    assert set(rp["attributes"]) == {"pk", "sk", "note", "qty"}
    assert "key" not in rp
    assert put["responseElements"] is None
    assert put["resources"] == [{"accountId": ACCOUNT, "type": "AWS::DynamoDB::Table", "ARN": table_arn("orders")}]
    assert put["readOnly"] is False and put["eventCategory"] == "Data"
    assert put["tlsDetails"]["tlsVersion"].startswith("TLSv1.")
    g = put["guard"]
    assert g["decision"] == "allow" and g["class"] == "write" and g["mode"] == "reverse"
    assert g["consumedCapacity"] == [{"tableName": "orders", "capacityUnits": 1.0}]
    c.get_item(TableName="orders", Key={"pk": {"S": MARKER}, "sk": {"S": "zz"}}, ConsistentRead=True,
               ProjectionExpression="#n, qty", ExpressionAttributeNames={"#n": "note"},
               ReturnConsumedCapacity="TOTAL")
    get = valid(validator, guard.record(eventName="GetItem"))
    rp = get["requestParameters"]
    assert rp["key"] == {"pk": HIDDEN, "sk": HIDDEN}
    assert rp["consistentRead"] is True
    assert rp["expressions"] == ["ProjectionExpression"]
    assert set(rp["attributes"]) == {"pk", "sk", "note", "qty"}
    assert get["guard"]["consumedCapacity"] == [{"tableName": "orders", "capacityUnits": 1.0}]
    assert MARKER not in guard.log.path.read_text()


def test_allow_record_without_capacity_request_has_none(guard, log, validator):
    guard.boto().get_item(TableName="users", Key={"pk": {"S": "u1"}})
    rec = valid(validator, guard.record(eventName="GetItem"))
    assert "consumedCapacity" not in rec["guard"]
    assert rec["requestParameters"] == {"tableName": "users", "key": {"pk": HIDDEN}, "attributes": ["pk"]}


def test_query_on_an_index_names_index_select_and_limit(guard, log, validator):
    guard.boto().query(TableName="orders", IndexName="by-status", Select="COUNT", Limit=5,
                       KeyConditionExpression="#s = :v", ExpressionAttributeNames={"#s": "status"},
                       ExpressionAttributeValues={":v": {"S": MARKER}}, ReturnConsumedCapacity="INDEXES")
    rec = valid(validator, guard.record(eventName="Query"))
    rp = rec["requestParameters"]
    assert (rp["indexName"], rp["select"], rp["limit"]) == ("by-status", "COUNT", 5)
    assert rp["expressions"] == ["KeyConditionExpression"]
    assert rec["resources"][0]["type"] == "AWS::DynamoDB::Index"
    assert rec["guard"]["consumedCapacity"][0]["tableName"] == "orders"


def test_allowed_call_the_upstream_refused_names_the_error_type(guard, log, validator):
    c = guard.boto()
    with pytest.raises(ClientError) as e:
        c.put_item(TableName="users", Item={"pk": {"S": "u1"}, "name": {"S": MARKER}},
                   ConditionExpression="attribute_not_exists(pk)")
    assert e.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    rec = valid(validator, guard.record(eventName="PutItem"))
    assert rec["guard"]["decision"] == "allow"
    assert rec["errorCode"] == "ConditionalCheckFailedException"
    assert rec["guard"]["upstream"]["status"] == 400
    assert rec["guard"]["upstream"]["errorType"] == "ConditionalCheckFailedException"


def test_deny_record(guard, log, validator):
    with pytest.raises(ClientError):
        guard.boto(key=READER_KEY).put_item(TableName="users", Item={"pk": {"S": MARKER}})
    rec = valid(validator, guard.record(eventName="PutItem"))
    g = rec["guard"]
    assert g["decision"] == "deny" and g["identity"] == "reader"
    assert rec["errorCode"] == "AccessDeniedException" and rec["errorMessage"] == g["reason"]
    assert "upstream" not in g and "policy" not in g  # implicit deny: no statement decided it
    assert rec["requestParameters"]["item"] == ["pk"]
    with pytest.raises(ClientError):
        guard.boto().execute_statement(Statement="SELECT * FROM orders WHERE pk = '%s'" % MARKER)
    rec = valid(validator, guard.record(eventName="ExecuteStatement"))
    assert (rec["guard"]["policy"], rec["guard"]["statement"]) == ("guardrails", "DenyPartiQL")
    assert MARKER not in json.dumps(rec)


def test_reject_record(guard, log, validator):
    head, body = guard.request_bytes("GetItem", b'{"TableName": "users", "Key": ')
    resp = guard.raw(head, body)
    assert resp.status == 400
    rec = valid(validator, guard.record(decision="reject"))
    assert rec["errorCode"] == "SerializationException"
    assert rec["requestParameters"] is None and rec["resources"] == []
    assert rec["guard"]["reason"].startswith("request body is not acceptable JSON")


def test_error_record(make_guard, dynalite, validator):
    g = make_guard("zz-down", "https://localhost:%d" % free_port(), connect_timeout_ms=1000)
    with pytest.raises(ClientError):
        g.boto().get_item(TableName="users", Key={"pk": {"S": MARKER}})
    rec = valid(validator, g.record(eventName="GetItem"))
    assert rec["guard"]["decision"] == "error" and rec["guard"]["status"] == 502
    assert rec["errorCode"] == "ServiceUnavailableException"
    assert rec["guard"]["upstream"]["url"].startswith("https://localhost:")
    assert "status" not in rec["guard"]["upstream"]


@pytest.mark.parametrize("mutate", [
    lambda r: r["guard"].update(extra=1),
    lambda r: r["guard"].update(decision="maybe"),
    lambda r: r["guard"].update(mode="forward"),
    lambda r: r.pop("eventID"),
    lambda r: r.update(responseElements={}),
    lambda r: r["requestParameters"].update(key={"pk": {"S": "value"}}),
    lambda r: r["requestParameters"].update(item={"pk": {"S": "value"}}),
    lambda r: r["tlsDetails"].update(sni="x"),
    lambda r: r.update(chain={"seq": 1, "prev": "0" * 64}),
    lambda r: r["guard"].update(reason="allowed calls carry no reason"),
], ids=["guard-extra", "decision-enum", "mode-enum", "eventID-missing", "responseElements", "key-value",
        "item-values", "tls-extra", "chain-partial", "allow-with-reason"])
def test_schema_catches_drift(guard, log, validator, mutate):
    guard.boto().get_item(TableName="users", Key={"pk": {"S": "u1"}})
    rec = valid(validator, guard.record(eventName="GetItem"))
    bad = copy.deepcopy(rec)
    mutate(bad)
    assert not validator.is_valid(bad)


def test_every_line_of_every_access_log_of_the_session(work, validator):
    """Runs last (module name): every access log under the session's pytest base directory."""
    base = work.parent
    logs = sorted(p for p in base.rglob("*.log*") if p.is_file() and p.name.startswith("access"))
    assert len(logs) >= 2, logs
    seen = {"allow": 0, "deny": 0, "reject": 0, "error": 0}
    total = 0
    for path in logs:
        data = path.read_bytes()
        assert MARKER.encode() not in data, path
        lines = data.split(b"\n")[:-1]
        for n, line in enumerate(lines, 1):
            # A line the writer did not write (a test tampering with the tail) is followed by the
            # writer's own chainStart marker, which says so; nothing else is exempt.
            if n < len(lines) and lines[n].startswith(b'{"chainStart":'):
                continue
            rec = json.loads(line)
            errors = list(validator.iter_errors(rec))
            assert not errors, "%s:%d: %s\n%s" % (path, n, [e.message for e in errors][:5], line[:2000])
            if "guard" in rec:
                seen[rec["guard"]["decision"]] += 1
            total += 1
    assert total >= 10 and all(seen.values()), (total, seen)
