"""Running as a service: the installed tree (meson install --destdir), the systemd unit, readiness through
sd_notify, and the privilege drop when started as root."""
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import make_config
from guardlib import DDBGUARD_BIN, ROOT, Guard, listening, stop_process
from test_cli import localize_example

BUILD = DDBGUARD_BIN.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`meson install --destdir` of the build the tests run, into a fresh tree."""
    dest = tmp_path_factory.mktemp("destdir")
    r = subprocess.run(["meson", "install", "-C", str(BUILD), "--no-rebuild", "--quiet", "--destdir", str(dest)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    found = {}
    for rel in ("bin/ddbguard", "bin/ddbguard-log", "lib/systemd/system/ddbguard.service",
                "lib/sysusers.d/ddbguard.conf", "lib/tmpfiles.d/ddbguard.conf", "share/man/man8/ddbguard.8",
                "share/man/man5/ddbguard.json.5", "share/man/man1/ddbguard-log.1",
                "share/doc/ddbguard/examples/service.json", "share/doc/ddbguard/examples/production.json",
                "share/doc/ddbguard/examples/policies/baseline.json", "share/doc/ddbguard/config-reference.md"):
        hits = [p for p in dest.rglob(Path(rel).name) if str(p).endswith(rel)]
        assert len(hits) == 1, "meson install did not install %s: %s" % (rel, sorted(map(str, dest.rglob("*"))))
        found[rel] = hits[0]
    return dest, found


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60, **kw)


def test_installed_binaries_explain_themselves(installed):
    _, f = installed
    r = run(f["bin/ddbguard"], "--version")
    assert r.returncode == 0, r.stderr
    for lib in (r"^ddbguard \d+\.\d+\.\d+$", r"^libevent \d", r"^OpenSSL \d", r"^cJSON \d", r"^libmaxminddb \d"):
        assert re.search(lib, r.stdout, re.M), r.stdout
    r = run(f["bin/ddbguard"], "--help")
    assert r.returncode == 0
    for word in ("explain", "--check", "--version", "--allow-root", "-c, --config", "SIGUSR1"):
        assert word in r.stdout, r.stdout
    r = run(f["bin/ddbguard-log"], "--help")
    assert r.returncode == 0
    for word in ("verify", "summary", "denials", "report", "--pubkey", "--since", "--until", "--json", "--out",
                 "exit:"):
        assert word in r.stdout, r.stdout
    assert not re.search(r"\w+\.[ch]\b", r.stdout), "ddbguard-log --help points at a source file: " + r.stdout


def test_installed_man_pages_render_cleanly(installed):
    _, f = installed
    for page in ("share/man/man8/ddbguard.8", "share/man/man5/ddbguard.json.5", "share/man/man1/ddbguard-log.1"):
        r = run("groff", "-man", "-Tutf8", "-ww", "-z", f[page], env=dict(os.environ, LC_ALL="C.UTF-8"))
        assert r.returncode == 0 and r.stderr == "", (page, r.stderr)
        text = run("man", "-l", f[page], env=dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="100", MANPAGER="cat")).stdout
        text = re.sub(".\x08", "", text)  # overstrike bold/underline
        assert "NAME" in text and "SEE ALSO" in text, (page, text[:500])


def test_installed_check_accepts_the_installed_example(installed, tmp_path, certs):
    _, f = installed
    cfg = localize_example(json.loads(f["share/doc/ddbguard/examples/service.json"].read_text()), tmp_path, certs)
    p = tmp_path / "ddbguard.json"
    p.write_text(json.dumps(cfg))
    r = run(f["bin/ddbguard"], "--check", "-c", p)
    assert r.returncode == 0 and r.stdout.strip() == "%s: valid" % p, r.stdout + r.stderr


def unit_for_verify(installed, tmp_path):
    """The installed unit with its ExecStart paths pointing into the destdir tree (verify checks they exist)."""
    dest, f = installed
    text = f["lib/systemd/system/ddbguard.service"].read_text()
    bindir = str(f["bin/ddbguard"].parent)
    prefix_bindir = bindir[len(str(dest)):]
    unit = tmp_path / "ddbguard.service"
    unit.write_text(text.replace(prefix_bindir + "/", bindir + "/"))
    return unit, text


def test_systemd_analyze_verifies_the_unit(installed, tmp_path):
    sa = shutil.which("systemd-analyze")
    assert sa, "systemd-analyze is missing: apt-get install systemd (tests/run.sh installs it)"
    dest, f = installed
    unit, text = unit_for_verify(installed, tmp_path)
    # The installed man pages answer the unit's Documentation= lines.
    env = dict(os.environ, MANPATH=str(f["share/man/man8/ddbguard.8"].parent.parent))
    r = run(sa, "verify", unit, env=env)
    assert r.returncode == 0 and r.stdout + r.stderr == "", r.stdout + r.stderr
    for line in ("Type=notify", "User=ddbguard", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                 "PrivateTmp=yes", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE", "SystemCallFilter=@system-service",
                 "ExecReload=/bin/kill -HUP $MAINPID", "LogsDirectory=ddbguard"):
        assert re.search("^" + re.escape(line) + "$", text, re.M), line
    # LimitNOFILE: two descriptors per connection of the service example, plus headroom.
    nofile = int(re.search(r"^LimitNOFILE=(\d+)$", text, re.M).group(1))
    example = json.loads(f["share/doc/ddbguard/examples/service.json"].read_text())
    assert nofile >= 2 * example["limits"]["max_connections"] + 64
    # The score the README quotes.
    r = run(sa, "security", "--offline=yes", unit)
    m = re.search(r"Overall exposure level for ddbguard.service: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    readme = (ROOT / "README.md").read_text()
    assert "`systemd-analyze security` scores it %s" % m.group(1) in readme, "README's score is stale: " + m.group(1)


def test_sd_notify_ready_and_stopping(work, certs, dynalite, tmp_path):
    """Type=notify: READY=1 once listening, STOPPING=1 on SIGTERM, through $NOTIFY_SOCKET."""
    sock_path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sock_path)
    s.settimeout(10)
    cfg = make_config(work, certs, "notify", dynalite.url)
    g = Guard(work, "notify", cfg, certs.ca)
    g.config_path.write_text(json.dumps(cfg))
    proc = subprocess.Popen([str(DDBGUARD_BIN), "-c", str(g.config_path)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(g.stderr_path, "ab"),
                            env=dict(os.environ, NOTIFY_SOCKET=sock_path))
    try:
        msg = s.recv(4096).decode()
        assert "READY=1" in msg.splitlines() and "MAINPID=%d" % proc.pid in msg.splitlines(), msg
        assert listening(g.port), "READY=1 before the listener was bound"
        proc.send_signal(signal.SIGTERM)
        msg = s.recv(4096).decode()
        assert "STOPPING=1" in msg.splitlines(), msg
        assert proc.wait(timeout=15) == 0
    finally:
        stop_process(proc)
        s.close()


def proc_status(pid):
    out = {}
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        k, _, v = line.partition(":")
        out[k] = v.split()
    return out


@pytest.fixture
def root_only():
    if os.geteuid() != 0:
        pytest.skip("privilege drop needs the tests to run as root (they do here and in CI)")
    try:
        return pwd.getpwnam("nobody"), grp.getgrnam("nogroup")
    except KeyError:
        pytest.fail("the user nobody / group nogroup is missing")


def test_started_as_root_it_drops_to_the_configured_user(work, certs, dynalite, tables, root_only):
    user, group = root_only
    logdir = Path(tempfile.mkdtemp(prefix="ddbguard-drop-"))
    os.chown(logdir, user.pw_uid, group.gr_gid)
    os.chmod(logdir, 0o750)
    cfg = make_config(work, certs, "drop", dynalite.url)
    cfg.pop("allow_root", None)
    cfg.update(user="nobody", group="nogroup")
    cfg["access_log"]["path"] = str(logdir / "access.log")
    g = Guard(work, "drop", cfg, certs.ca).start()
    try:
        # The port listens from the bind on; the drop follows it: wait for ddbguard to say it is done.
        deadline = time.monotonic() + 10
        while "running as user nobody" not in g.stderr() and time.monotonic() < deadline and g.proc.poll() is None:
            time.sleep(0.02)
        st = proc_status(g.proc.pid)
        assert st["Uid"] == [str(user.pw_uid)] * 4, st["Uid"]       # real, effective, saved, fs
        assert st["Gid"] == [str(group.gr_gid)] * 4, st["Gid"]
        assert "0" not in st.get("Groups", []), st.get("Groups")
        assert int(st["CapEff"][0], 16) == 0 and int(st["CapPrm"][0], 16) == 0, st
        # It still serves, and its log (created as root before the drop) belongs to the user.
        mark = g.log.mark()
        g.boto().get_item(TableName="users", Key={"pk": {"S": "drop"}})
        rec = g.log.one(mark, eventName="GetItem")
        assert rec["guard"]["identity"] == "app" and rec["guard"]["decision"] == "allow", rec
        assert os.stat(logdir / "access.log").st_uid == user.pw_uid
        assert "running as user nobody" in g.stderr(), g.stderr()
    finally:
        g.stop()
        shutil.rmtree(logdir, ignore_errors=True)


def test_started_as_root_without_user_it_refuses(work, certs, dynalite, root_only):
    cfg = make_config(work, certs, "refuse-root", dynalite.url)
    cfg.pop("allow_root", None)
    p = Path(work) / "refuse-root" / "ddbguard.json"
    p.write_text(json.dumps(cfg))
    r = run(DDBGUARD_BIN, "-c", p)
    assert r.returncode == 1, r.stderr
    assert "refusing to run as root" in r.stderr and '"user"' in r.stderr and "--allow-root" in r.stderr, r.stderr
    assert not listening(cfg["listeners"][0]["port"])
    # A configured user that does not exist stops it too, before it serves anything.
    cfg["user"] = "ddbguard-no-such-user"
    p.write_text(json.dumps(cfg))
    r = run(DDBGUARD_BIN, "-c", p)
    assert r.returncode == 1 and 'user "ddbguard-no-such-user" does not exist' in r.stderr, r.stderr


def limits_nofile(pid):
    for line in Path("/proc/%d/limits" % pid).read_text().splitlines():
        if line.startswith("Max open files"):
            return [int(x) for x in line.split()[3:5]]
    raise AssertionError("no Max open files line")


@pytest.mark.parametrize("hard,conns,starts", [(8192, 1000, True), (1024, 4096, False)])
def test_open_file_limit_fits_max_connections(work, certs, dynalite, hard, conns, starts):
    """Issue 9: the soft limit is raised to the hard one; start-up is refused, naming both numbers, when
    max_connections cannot have its descriptors (two per connection, plus pools and a reserve)."""
    import resource
    name = "nofile-%d" % hard
    cfg = make_config(work, certs, name, dynalite.url)
    cfg["limits"]["max_connections"] = conns
    g = Guard(work, name, cfg, certs.ca)
    g.config_path.write_text(json.dumps(cfg))
    g.proc = subprocess.Popen([str(DDBGUARD_BIN), "-c", str(g.config_path)], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=open(g.stderr_path, "ab"),
                              preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)))
    try:
        if not starts:
            assert g.proc.wait(timeout=10) != 0
            assert "limits.max_connections %d" % conns in g.stderr(), g.stderr()
            assert "RLIMIT_NOFILE allows %d" % hard in g.stderr(), g.stderr()
            return
        deadline = time.monotonic() + 10
        while not listening(g.port) and time.monotonic() < deadline and g.proc.poll() is None:
            time.sleep(0.05)
        assert listening(g.port), g.stderr()
        assert limits_nofile(g.proc.pid) == [hard, hard]
    finally:
        g.stop()
