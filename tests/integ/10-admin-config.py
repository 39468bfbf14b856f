#!/usr/bin/python3
"""10 admin: `warden check`, bad configs, -p PORT, --help/--version, SIGTERM,
SIGINT and SIGHUP reload."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402


def warden_only():
    if lib.is_mosquitto():
        lib.skip("Warden command line")


def write_conf(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


GOOD = """# test config
listener {port} 127.0.0.1
allow_anonymous true
store_dir {store}
max_connections 100
max_packet_size 65536
max_inflight_messages 10
max_queued_messages 50
max_keepalive 300
topic_alias_maximum 5
max_qos 1
retain_available false
connect_timeout 5
sys_interval 2
log_level debug
"""

# (name, bad line placed at line 4, words the message must contain)
BAD = [
    ("unknown key", "no_such_key 1", ["no_such_key"]),
    ("max_qos 3", "max_qos 3", ["max_qos"]),
    ("non-numeric", "max_connections lots", ["max_connections"]),
    ("port out of range", "listener 70000 127.0.0.1", ["listener"]),
    ("missing value", "max_packet_size", ["max_packet_size"]),
    ("bad boolean", "retain_available maybe", ["retain_available"]),
    ("negative", "max_inflight_messages -1", ["max_inflight_messages"]),
]


def bad_conf_text(store, line, port=1883):
    return "listener %d 127.0.0.1\nallow_anonymous true\nstore_dir %s\n%s\nmax_qos 2\n" % (port, store, line)


@lib.case
def check_good_config():
    warden_only()
    with tempfile.TemporaryDirectory() as d:
        path = write_conf(d, "good.conf", GOOD.format(port=lib.free_port(), store=d))
        r = lib.run_warden(["check", "-c", path])
        assert r.returncode == 0, "check of a good file: exit %d, stderr %r" % (r.returncode, r.stderr)


@lib.case
def check_bad_configs():
    warden_only()
    with tempfile.TemporaryDirectory() as d:
        for name, line, words in BAD:
            path = write_conf(d, "bad.conf", bad_conf_text(d, line))
            r = lib.run_warden(["check", "-c", path])
            out = r.stdout + r.stderr
            assert r.returncode != 0, "check with %s: exit 0, expected non-zero (output %r)" % (name, out)
            assert re.search(re.escape(path) + r":4\b", out), \
                "check with %s: output does not name %s:4: %r" % (name, path, out)
            for wd in words:
                assert wd in out, "check with %s: output does not mention %r: %r" % (name, wd, out)
        # a missing file
        r = lib.run_warden(["check", "-c", os.path.join(d, "missing.conf")])
        assert r.returncode != 0, "check of a missing file: exit 0"
        assert "missing.conf" in r.stdout + r.stderr, "missing file not named: %r" % (r.stdout + r.stderr)


@lib.case
def bad_config_broker_exits():
    warden_only()
    with tempfile.TemporaryDirectory() as d:
        for name, line, words in BAD[:3]:
            path = write_conf(d, "bad.conf", bad_conf_text(d, line, lib.free_port()))
            try:
                r = lib.run_warden(["-c", path, "--no-console"], timeout=10)
            except subprocess.TimeoutExpired:
                raise AssertionError("warden -c with %s kept running" % name)
            assert r.returncode != 0, "warden -c with %s: exit 0" % name
            assert re.search(re.escape(path) + r":4\b", r.stderr) and words[0] in r.stderr, \
                "warden -c with %s: stderr does not name %s:4 and %r: %r" % (name, path, words[0], r.stderr)
            assert not lib.SANITIZER_RE.search(r.stderr), "sanitizer report: %s" % r.stderr


@lib.case
def port_flag_serves_anonymous():
    warden_only()
    with lib.Broker(argv=["-p", "{port}", "--no-console"]) as b:
        s = lib.client(b, "pf-sub", version=5)
        s.sub("pf/#", qos=1)
        p = lib.client(b, "pf-pub", version=4)
        p.pub("pf/x", b"hello", qos=1)
        assert s.expect().payload == b"hello"
        r = lib.mosq_sub(b, "-t", "pf/none", "-C", "1", "-W", "1", timeout=5)
        assert b"Error" not in r.stderr and b"refused" not in r.stderr.lower(), \
            "mosquitto_sub on -p port: %r" % r.stderr
        # only on loopback
        out = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout \
            if os.path.exists("/usr/bin/ss") or os.path.exists("/bin/ss") else ""
        for line in out.splitlines():
            if ":%d " % b.port in line:
                assert "127.0.0.1:%d" % b.port in line, "listening beyond loopback: %s" % line


@lib.case
def help_and_version():
    warden_only()
    r = lib.run_warden(["--help"])
    assert r.returncode == 0, "--help exit %d" % r.returncode
    assert "usage" in (r.stdout + r.stderr).lower(), "--help prints no usage: %r" % r.stdout
    r = lib.run_warden(["--version"])
    assert r.returncode == 0, "--version exit %d" % r.returncode
    assert re.search(r"warden \d+\.\d+\.\d+", r.stdout + r.stderr), "--version output %r" % r.stdout
    r = lib.run_warden(["--no-such-option"])
    assert r.returncode != 0, "unknown option: exit 0"


@lib.case
def sigterm_disconnects_v5_and_exits_0():
    with lib.Broker() as b:
        c5 = lib.client(b, "term5", version=5)
        c4 = lib.client(b, "term4", version=4)
        code = b.stop(signal.SIGTERM, timeout=10)
        assert code == 0, "exit code %d after SIGTERM" % code
        c5.wait_disconnected(3)
        if not lib.is_mosquitto():   # mosquitto 2.0.11 closes without DISCONNECT
            assert c5.server_reason == 0x8B, \
                "5.0 client on SIGTERM: expected DISCONNECT 0x8B, got %r" % c5.server_reason
        c4.wait_disconnected(3)
        assert c4.server_reason is None, "3.1.1 client got a DISCONNECT packet"


@lib.case
def sigint_exits_0():
    with lib.Broker() as b:
        c5 = lib.client(b, "int5", version=5)
        code = b.stop(signal.SIGINT, timeout=10)
        assert code == 0, "exit code %d after SIGINT" % code
        c5.wait_disconnected(3)


@lib.case
def sighup_reloads_config():
    warden_only()
    with lib.Broker(extra="max_queued_messages 100\n") as b:
        c = lib.client(b, "hup", version=5)
        c.sub("hup/t", qos=1)
        with open(b.conf_path) as f:
            text = f.read()
        b.write_conf(text.replace("max_queued_messages 100", "max_queued_messages 50"))
        b.hup()
        b.wait_log(r"config reloaded", timeout=5)
        # existing clients keep working; new ones connect
        p = lib.client(b, "hup-pub", version=4)
        p.pub("hup/t", b"after-hup", qos=1)
        assert c.expect().payload == b"after-hup"
        assert not c.disconnected.is_set(), "client dropped by SIGHUP"
        # a second reload is logged again
        n = len(re.findall("config reloaded", b.log()))
        b.hup()
        lib.wait_until(lambda: len(re.findall("config reloaded", b.log())) > n, 5,
                       msg="second SIGHUP not logged")


lib.run()
