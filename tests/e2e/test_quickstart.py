"""deploy/quickstart.sh, the README's first command: it comes up, the commands it prints behave as it
says, and Ctrl-C stops everything it started."""
import json
import os
import re
import signal
import subprocess
import time

from guardlib import AWS_BIN, DDBGUARD_BIN, ROOT, free_port, listening


def test_quickstart_serves_and_stops_on_ctrl_c(tmp_path):
    dyn_port, port = free_port(), free_port()
    out_path = tmp_path / "quickstart.out"
    env = dict(os.environ, SKIP_INSTALL="1", BUILD_DIR=str(DDBGUARD_BIN.parent), RUN_DIR=str(tmp_path / "run"),
               DYNALITE_PORT=str(dyn_port), DDBGUARD_PORT=str(port))
    with open(out_path, "wb") as out:
        # Its own session, so that "Ctrl-C" can go to the whole process group as a terminal sends it.
        proc = subprocess.Popen(["bash", str(ROOT / "deploy" / "quickstart.sh")], env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "Press Ctrl-C" not in out_path.read_text(errors="replace"):
            assert proc.poll() is None, "quickstart exited %s:\n%s" % (proc.returncode, out_path.read_text())
            assert time.monotonic() < deadline, "quickstart not ready:\n" + out_path.read_text()
            time.sleep(0.2)
        text = out_path.read_text()
        assert "https://localhost:%d" % port in text
        assert "tail -f %s" % (tmp_path / "run" / "access.log") in text

        # The environment it tells the newcomer to export.
        exports = re.search(r"export (AWS_CA_BUNDLE=\S+ .*)", text).group(1)
        cli_env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_CONFIG_FILE": "/dev/null",
                   "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
                   "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1"}
        for kv in exports.split():
            k, v = kv.split("=", 1)
            cli_env[k] = v.replace("$PWD", str(ROOT))
        assert cli_env["AWS_ACCESS_KEY_ID"] == "AKIAQUICKSTART000001"

        def aws(*args):
            return subprocess.run([AWS_BIN, "dynamodb", *args, "--endpoint-url", "https://localhost:%d" % port],
                                  env=cli_env, capture_output=True, text=True, timeout=60)

        r = aws("get-item", "--table-name", "demo", "--key", '{"pk":{"S":"user#1"},"sk":{"S":"profile"}}')
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["Item"]["name"] == {"S": "Ada"}
        r = aws("export-table-to-point-in-time", "--table-arn",
                "arn:aws:dynamodb:us-east-1:123456789012:table/demo", "--s3-bucket", "any-bucket")
        assert r.returncode == 254 and "AccessDeniedException" in r.stderr, r.stderr
        r = aws("execute-statement", "--statement", 'SELECT * FROM "demo"')
        assert r.returncode == 254 and "AccessDeniedException" in r.stderr, r.stderr
        events = [json.loads(line) for line in (tmp_path / "run" / "access.log").read_text().splitlines()]
        events = [e for e in events if "eventVersion" in e]  # call records, not digest lines
        assert [e["guard"]["decision"] for e in events[-2:]] == ["deny", "deny"]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
            raise AssertionError("quickstart did not stop on Ctrl-C:\n" + out_path.read_text())
    assert "stopped." in out_path.read_text(), out_path.read_text()
    assert not listening(port) and not listening(dyn_port)
