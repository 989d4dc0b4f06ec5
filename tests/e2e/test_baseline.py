"""config/policies/baseline.json end to end: the file is included as it ships (policy_files, absolute path),
its ${param:...} lists are set in policy_parameters, and the app identity gets "ddbguard-baseline" next to an
Allow-everything policy. So every denial below is the baseline's, and every compliant variant shows the
baseline letting the call through (decided "allow" by AllowRest and forwarded: dynalite answers what it
implements, UnknownOperationException or a ValidationException for the rest).

Calls go through boto3 (and /usr/bin/aws for one); operations or members newer than Debian's botocore
(PutResourcePolicy, UpdateKinesisStreamingDestination, DeletionProtectionEnabled) are sent as real SigV4-signed
requests instead."""
import json
import re
import subprocess

import pytest
from botocore.exceptions import ClientError

from guardlib import ACCOUNT, APP_KEY, DDBGUARD_BIN, ROOT, table_arn

BASELINE = ROOT / "config" / "policies" / "baseline.json"
POLICY = "ddbguard-baseline"
FOREIGN = "999999999999"
BUCKET = "acme-exports"
STREAM = "arn:aws:kinesis:us-east-1:%s:stream/acme-cdc" % ACCOUNT
KMS_KEY = "arn:aws:kms:us-east-1:%s:key/1234abcd-12ab-34cd-56ef-1234567890ab" % ACCOUNT
SCRATCH = "bl-scratch"    # listed in destructive_ok_tables; never created, so allowed calls find nothing
RESTORED = "bl-restored"  # listed too: a restore target
BACKUP = table_arn("orders", "backup", "01700000000000-abcdefgh")
SCRATCH_BACKUP = table_arn(SCRATCH, "backup", "01700000000000-abcdefgh")

PARAMETERS = {
    "export_buckets": [BUCKET],
    "bucket_owner_accounts": ACCOUNT,
    "kinesis_streams": [STREAM],
    "replica_regions": ["us-east-1", "us-west-2"],
    "kms_keys": [KMS_KEY],
    "partiql_select_tables": [table_arn("orders")],
    "destructive_ok_tables": [table_arn(SCRATCH), table_arn(SCRATCH, "backup", "*"), table_arn(RESTORED)],
    "trusted_accounts": [ACCOUNT, "111122223333"],
}

ALLOW_REST = {"Version": "2012-10-17",
              "Statement": [{"Sid": "AllowRest", "Effect": "Allow", "Action": "*", "Resource": "*"}]}


def install(cfg):
    cfg["policy_files"] = [str(BASELINE)]
    cfg["policy_parameters"] = PARAMETERS
    cfg["policies"]["allow-rest"] = ALLOW_REST
    for ident in cfg["identities"]:
        if ident["name"] == "app":
            ident["policies"] = ["allow-rest", POLICY]


@pytest.fixture(scope="module")
def bguard(make_guard, dynalite, tables):
    return make_guard("baseline", dynalite.url, mutate=install)


def snake(op):
    return "".join("_" + c.lower() if c.isupper() else c for c in op).lstrip("_")


def call(g, op, body):
    """Sends op(body) through boto3 when Debian's botocore knows the operation and its top-level members,
    else as a signed raw request. Returns (error code or None, message)."""
    client = g.boto()
    model = client.meta.service_model
    if op in model.operation_names and set(body) <= set(model.operation_model(op).input_shape.members):
        try:
            getattr(client, snake(op))(**body)
            return None, ""
        except ClientError as e:
            return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    resp = g.raw(*g.request_bytes(op, json.dumps(body).encode()))
    if resp.status == 200:
        return None, ""
    err = resp.json()
    return err.get("__type", "").rsplit("#", 1)[-1], err.get("message") or err.get("Message") or ""


def denied(g, op, body, sid):
    code, msg = call(g, op, body)
    assert code == "AccessDeniedException", (code, msg)
    assert sid in msg and POLICY in msg, msg
    rec = g.record(eventName=op)
    assert rec["guard"]["decision"] == "deny", rec
    assert rec["guard"]["identity"] == "app"
    assert rec["guard"]["policy"] == POLICY, rec
    assert rec["guard"]["statement"] == sid, rec
    assert rec["errorCode"] == "AccessDeniedException"
    assert "upstream" not in rec["guard"] or "status" not in rec["guard"]["upstream"], "a denied call went upstream"
    g.assert_not_forwarded()  # ... and the upstream's own recording agrees
    return rec


def allowed(g, op, body):
    code, msg = call(g, op, body)
    assert code != "AccessDeniedException", (code, msg)
    rec = g.record(eventName=op)
    assert rec["guard"]["decision"] == "allow", rec
    assert rec["guard"]["policy"] == "allow-rest" and rec["guard"]["statement"] == "AllowRest", rec
    assert rec["guard"]["upstream"]["status"], rec
    return rec


def key_schema():
    return dict(AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])


def create_table(name, **extra):
    return dict(key_schema(), TableName=name, BillingMode="PAY_PER_REQUEST", **extra)


def export(bucket=BUCKET, **owner):
    return dict(TableArn=table_arn("orders"), S3Bucket=bucket, **owner)


def import_table(bucket=BUCKET, owner=ACCOUNT, **params):
    src = {"S3Bucket": bucket}
    if owner is not None:
        src["S3BucketOwner"] = owner
    return dict(S3BucketSource=src, InputFormat="DYNAMODB_JSON",
                TableCreationParameters=dict(key_schema(), TableName=SCRATCH, BillingMode="PAY_PER_REQUEST",
                                             **params))


def resource_policy(*principals):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": list(principals)} if principals != ("*",) else "*",
        "Action": "dynamodb:GetItem", "Resource": table_arn("orders")}]})


def explain_baseline_only(g, tmp_path, target, body):
    """`ddbguard explain` of one call against the compiled baseline alone (the app identity without
    allow-rest): what the daemon's own policy code makes of the shipped file."""
    cfg = json.loads(g.config_path.read_text())
    for ident in cfg["identities"]:
        if ident["name"] == "app":
            ident["policies"] = [POLICY]
    path = tmp_path / "baseline-only.json"
    path.write_text(json.dumps(cfg))
    req = json.dumps({"target": "DynamoDB_20120810." + target, "access_key_id": APP_KEY, "body": body})
    r = subprocess.run([str(DDBGUARD_BIN), "explain", "-c", str(path)], input=req, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode in (0, 1), r.stdout + r.stderr
    return r.stdout


def baseline_trace(out):
    """The compiled baseline's statements as explain lists them: [(index, sid, effect)]."""
    return [(int(m.group(1)), m.group(2), m.group(3)) for m in re.finditer(
        r"^\s*%s / Statement\[(\d+)\] \(Sid (\S+)\) (Allow|Deny):" % re.escape(POLICY), out, re.M)]


def test_baseline_compiles_to_one_deny_only_policy(bguard, tmp_path):
    doc = json.loads(BASELINE.read_text())
    assert list(doc) == [POLICY]
    sids = [st["Sid"] for st in doc[POLICY]["Statement"]]
    assert len(set(sids)) == len(sids)
    # Compiled, it is every statement of the file, each a Deny, and on its own it allows nothing: a plain
    # read of a table it does not guard is an implicit deny (no Allow), not an allow.
    out = explain_baseline_only(bguard, tmp_path, "GetItem", {"TableName": "orders", "Key": {"pk": {"S": "a"}}})
    assert out.splitlines()[0].startswith("decision: implicit deny"), out
    trace = baseline_trace(out)
    assert [sid for _, sid, _ in trace] == sids, out
    assert {eff for _, _, eff in trace} == {"Deny"}, out


def test_export_cli_to_foreign_bucket_denied(bguard):
    r = bguard.cli("export-table-to-point-in-time", "--table-arn", table_arn("orders"), "--s3-bucket", "exfil",
                   "--s3-bucket-owner", ACCOUNT)
    assert r.returncode == 254, (r.returncode, r.stdout, r.stderr)
    assert "AccessDeniedException" in r.stderr and "DenyExportImportOutsideBuckets" in r.stderr
    rec = bguard.record(eventName="ExportTableToPointInTime")
    assert (rec["guard"]["decision"], rec["guard"]["statement"]) == ("deny", "DenyExportImportOutsideBuckets")
    bguard.assert_not_forwarded()


@pytest.mark.parametrize("op,body,sid", [
    ("ExportTableToPointInTime", export("exfil", S3BucketOwner=ACCOUNT), "DenyExportImportOutsideBuckets"),
    ("ExportTableToPointInTime", export(S3BucketOwner=FOREIGN), "DenyExportImportForeignBucketOwner"),
    ("ExportTableToPointInTime", export(), "DenyExportImportForeignBucketOwner"),  # owner absent
    ("ImportTable", import_table("exfil"), "DenyExportImportOutsideBuckets"),
    ("ImportTable", import_table(owner=FOREIGN), "DenyExportImportForeignBucketOwner"),
    ("ImportTable", import_table(owner=None), "DenyExportImportForeignBucketOwner"),
], ids=["export-bucket", "export-owner", "export-no-owner", "import-bucket", "import-owner", "import-no-owner"])
def test_export_import_outside_buckets_denied(bguard, op, body, sid):
    denied(bguard, op, body, sid)


@pytest.mark.parametrize("op,body", [
    ("ExportTableToPointInTime", export(S3BucketOwner=ACCOUNT)),
    ("ImportTable", import_table()),
], ids=["export", "import"])
def test_export_import_listed_bucket_allowed(bguard, op, body):
    allowed(bguard, op, body)


@pytest.mark.parametrize("op", ["EnableKinesisStreamingDestination", "UpdateKinesisStreamingDestination"])
def test_kinesis_outside_streams(bguard, op):
    foreign = "arn:aws:kinesis:us-east-1:%s:stream/exfil" % FOREIGN
    denied(bguard, op, {"TableName": "orders", "StreamArn": foreign}, "DenyKinesisOutsideStreams")
    allowed(bguard, op, {"TableName": "orders", "StreamArn": STREAM})


def test_kinesis_disable_not_restricted(bguard):
    allowed(bguard, "DisableKinesisStreamingDestination",
            {"TableName": "orders", "StreamArn": "arn:aws:kinesis:us-east-1:%s:stream/x" % FOREIGN})


def replica_body(op, regions):
    if op == "CreateGlobalTable":
        return {"GlobalTableName": SCRATCH, "ReplicationGroup": [{"RegionName": r} for r in regions]}
    if op == "UpdateGlobalTable":
        return {"GlobalTableName": SCRATCH, "ReplicaUpdates": [{"Create": {"RegionName": r}} for r in regions]}
    return {"TableName": SCRATCH, "ReplicaUpdates": [{"Create": {"RegionName": r}} for r in regions]}


@pytest.mark.parametrize("op", ["UpdateTable", "CreateGlobalTable", "UpdateGlobalTable"])
def test_replicas_outside_regions(bguard, op):
    denied(bguard, op, replica_body(op, ["us-west-2", "eu-central-1"]), "DenyReplicasOutsideRegions")
    allowed(bguard, op, replica_body(op, ["us-west-2"]))


SSE_CASES = [
    ({"Enabled": False}, "DenySSEAwsOwnedKey"),
    ({"Enabled": True, "SSEType": "AES256"}, "DenySSETypeAES256"),
    ({"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": "arn:aws:kms:us-east-1:%s:key/other" % FOREIGN},
     "DenySSEUnlistedKmsKey"),
]


def sse_body(op, sse):
    if op == "CreateTable":
        return create_table(SCRATCH, SSESpecification=sse)
    if op == "UpdateTable":
        return {"TableName": SCRATCH, "SSESpecification": sse}
    if op == "RestoreTableFromBackup":
        return {"TargetTableName": RESTORED, "BackupArn": BACKUP, "SSESpecificationOverride": sse}
    if op == "RestoreTableToPointInTime":
        return {"SourceTableName": SCRATCH, "TargetTableName": RESTORED, "SSESpecificationOverride": sse}
    return import_table(SSESpecification=sse)


SSE_OPS = ["CreateTable", "UpdateTable", "RestoreTableFromBackup", "RestoreTableToPointInTime", "ImportTable"]


@pytest.mark.parametrize("sse,sid", SSE_CASES, ids=["aws-owned", "aes256", "unlisted-kms-key"])
@pytest.mark.parametrize("op", SSE_OPS)
def test_sse_downgrade_denied(bguard, op, sse, sid):
    denied(bguard, op, sse_body(op, sse), sid)


@pytest.mark.parametrize("sse", [{"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": KMS_KEY},
                                 {"Enabled": True, "SSEType": "KMS"}],  # the AWS managed key: no key id
                         ids=["listed-key", "aws-managed-key"])
@pytest.mark.parametrize("op", ["UpdateTable", "RestoreTableFromBackup", "ImportTable"])
def test_sse_kms_allowed(bguard, op, sse):
    allowed(bguard, op, sse_body(op, sse))


def test_disable_pitr_denied(bguard):
    body = lambda on: {"TableName": "orders", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": on}}
    denied(bguard, "UpdateContinuousBackups", body(False), "DenyDisablePITR")
    allowed(bguard, "UpdateContinuousBackups", body(True))


@pytest.mark.parametrize("op", ["CreateTable", "UpdateTable"])
def test_disable_deletion_protection_denied(bguard, op):
    body = (lambda on: create_table(SCRATCH, DeletionProtectionEnabled=on)) if op == "CreateTable" else (
        lambda on: {"TableName": SCRATCH, "DeletionProtectionEnabled": on})
    denied(bguard, op, body(False), "DenyDisableDeletionProtection")
    if op == "UpdateTable":  # an allowed CreateTable would really create the table in dynalite
        allowed(bguard, op, body(True))


@pytest.mark.parametrize("policy", [resource_policy(FOREIGN), resource_policy("*"),
                                    resource_policy(ACCOUNT, "arn:aws:iam::%s:role/x" % FOREIGN),
                                    '{"Statement": [{"Effect": "Allow", "Principal": '],  # unparsable: fails closed
                         ids=["foreign-account", "anyone", "one-foreign-among-trusted", "not-json"])
@pytest.mark.parametrize("op", ["PutResourcePolicy", "CreateTable"])
def test_resource_policy_untrusted_accounts_denied(bguard, op, policy):
    body = ({"ResourceArn": table_arn("orders"), "Policy": policy} if op == "PutResourcePolicy"
            else create_table(SCRATCH, ResourcePolicy=policy))
    denied(bguard, op, body, "DenyResourcePolicyUntrustedAccounts")


def test_resource_policy_trusted_accounts_allowed(bguard):
    allowed(bguard, "PutResourcePolicy", {
        "ResourceArn": table_arn("orders"),
        "Policy": resource_policy("arn:aws:iam::%s:root" % ACCOUNT, "111122223333")})


def test_billing_statement_compiled(bguard, tmp_path):
    """dynamodb:PurchaseReservedCapacityOfferings is an IAM-only action (console/billing): no X-Amz-Target
    carries it, so no client call can reach the statement; it is there for policies shared with IAM. The
    compiled policy holds it as a Deny that matches no DynamoDB call (here: a DescribeTable)."""
    doc = json.loads(BASELINE.read_text())
    stmt = [s for s in doc[POLICY]["Statement"] if s["Sid"] == "DenyBilling"]
    assert stmt and stmt[0]["Action"] == "dynamodb:PurchaseReservedCapacityOfferings"
    out = explain_baseline_only(bguard, tmp_path, "DescribeTable", {"TableName": "orders"})
    line = [ln for ln in out.splitlines() if "(Sid DenyBilling) Deny:" in ln]
    assert len(line) == 1 and "action does not match" in line[0], out


def test_billing_target_refused(bguard):
    """A client sending it as a target anyway is refused before any policy, as an unknown operation."""
    resp = bguard.raw(*bguard.request_bytes("PurchaseReservedCapacityOfferings", b"{}"))
    assert resp.status == 400, resp
    assert resp.json()["__type"].endswith("#UnknownOperationException"), resp
    bguard.assert_not_forwarded()
    rec = bguard.record()
    assert rec["guard"]["decision"] == "reject", rec
    assert rec["errorCode"] == "UnknownOperationException"
    assert "upstream" not in rec["guard"]


@pytest.mark.parametrize("op,body", [
    ("ExecuteStatement", {"Statement": "INSERT INTO \"orders\" VALUE {'pk': 'a', 'sk': 'b'}"}),
    ("ExecuteStatement", {"Statement": "UPDATE \"orders\" SET v = 1 WHERE pk = 'a' AND sk = 'b'"}),
    ("BatchExecuteStatement", {"Statements": [
        {"Statement": "SELECT * FROM \"orders\" WHERE pk = 'a'"},
        {"Statement": "DELETE FROM \"orders\" WHERE pk = 'a' AND sk = 'b'"}]}),
    ("ExecuteTransaction", {"TransactStatements": [
        {"Statement": "DELETE FROM \"orders\" WHERE pk = 'a' AND sk = 'b'"}]}),
], ids=["insert", "update", "batch-select-delete", "transaction-delete"])
def test_partiql_writes_denied(bguard, op, body):
    denied(bguard, op, body, "DenyPartiQLExceptSelect")


def test_partiql_select_outside_tables_denied(bguard):
    denied(bguard, "ExecuteStatement", {"Statement": "SELECT * FROM \"secrets\""}, "DenyPartiQLOutsideSelectTables")
    denied(bguard, "BatchExecuteStatement", {"Statements": [
        {"Statement": "SELECT * FROM \"orders\" WHERE pk = 'a'"},
        {"Statement": "SELECT * FROM \"secrets\" WHERE pk = 's1'"}]}, "DenyPartiQLOutsideSelectTables")


def test_partiql_select_on_listed_table_allowed(bguard):
    allowed(bguard, "ExecuteStatement", {"Statement": "SELECT * FROM \"orders\" WHERE pk = 'a'"})


@pytest.mark.parametrize("op,body", [
    ("DeleteTable", {"TableName": "secrets"}),
    ("DeleteBackup", {"BackupArn": BACKUP}),
], ids=["table", "backup"])
def test_delete_outside_list_denied(bguard, op, body):
    denied(bguard, op, body, "DenyDeleteOutsideList")


@pytest.mark.parametrize("op,body", [
    ("DeleteTable", {"TableName": SCRATCH}),
    ("DeleteBackup", {"BackupArn": SCRATCH_BACKUP}),
], ids=["table", "backup"])
def test_delete_listed_allowed(bguard, op, body):
    allowed(bguard, op, body)


@pytest.mark.parametrize("op,body", [
    ("RestoreTableFromBackup", {"TargetTableName": "orders-copy", "BackupArn": BACKUP}),
    ("RestoreTableToPointInTime", {"SourceTableName": SCRATCH, "TargetTableName": "orders-copy"}),
    # The source table is a resource of the call too: it has to be listed as well.
    ("RestoreTableToPointInTime", {"SourceTableName": "orders", "TargetTableName": RESTORED}),
], ids=["from-backup", "pitr-target", "pitr-source"])
def test_restore_outside_list_denied(bguard, op, body):
    denied(bguard, op, body, "DenyRestoreOutsideList")


@pytest.mark.parametrize("op,body", [
    # Any backup may be the source (restoring never overwrites it); the target must be listed.
    ("RestoreTableFromBackup", {"TargetTableName": RESTORED, "BackupArn": BACKUP}),
    ("RestoreTableToPointInTime", {"SourceTableName": SCRATCH, "TargetTableName": RESTORED}),
], ids=["from-backup", "pitr"])
def test_restore_onto_listed_allowed(bguard, op, body):
    allowed(bguard, op, body)
