#!/usr/bin/python3
"""12 console live views: the attached console (`warden console --socket`, in
tmux via tests/tui/tmux.py) on a broker with restrictive rules.

The flight recorder on the detail screen shows a denied subscribe with its
time stamp; x opens Explain prefilled with that client and shows the verdict
and deciding rule; the overview's auth failure, denial and store counters
move; screen 7 shows the audit entry of a `warden user add` and filters and
pauses; a resize redraws and q gives the terminal back (stty sane again);
with 1,000 connected clients the sessions screen filters and scrolls within
a deadline."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tui"))
import lib  # noqa: E402
import tmux  # noqa: E402

cli = lib.cli
PW = "correct horse battery"


def need_console():
    if lib.is_mosquitto():
        lib.skip("Warden's console")
    if not shutil.which("tmux"):
        lib.skip("tmux is not installed")


class Console:
    """`warden console` attached to broker b, in a tmux pane; or argv run by sh -c."""

    def __init__(self, b, width=120, height=36, shell=None):
        self.sock = os.path.join(b.store_dir, "admin.sock")
        # The broker opens its admin socket just after its listeners.
        lib.wait_until(lambda: os.path.exists(self.sock), 10, msg="no admin socket")
        argv = [lib.warden_bin(), "console", "--socket", self.sock]
        if shell:
            argv = ["sh", "-c", shell % " ".join(argv)]
        self.err = os.path.join(b.dir, "console-%d.err" % time.monotonic_ns())
        self.pane = tmux.Pane(argv, b.dir, width=width, height=height, stderr=self.err)
        self.pane.wait_for(r"attached pid \d+")

    def close(self):
        self.pane.kill()

    def assert_clean(self):
        with open(self.err, errors="replace") as f:
            log = f.read()
        assert not lib.SANITIZER_RE.search(log), "sanitizer report:\n" + log[-3000:]


def sub_proc(b, client_id, *topics, extra=()):
    args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(b.port), "-V", "5", "-i", client_id,
            "-W", "40"] + list(extra)
    for t in topics:
        args += ["-t", t]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(p):
    if p.poll() is None:
        p.kill()
        p.wait()


def restrictive_broker():
    b = lib.Broker(open_rules=False)
    cli(b, "role", "rule", "add", "default", "allow", "subscribe,receive", "public/#")
    # The broker has the rule once it logs the change; if its first read of the
    # store came after the change there is no such line, and nothing to wait for.
    try:
        b.wait_log(r"store changed \(generation \d+\)", timeout=3)
    except AssertionError:
        pass
    return b


@lib.case
def flight_recorder_shows_denied_subscribe_and_explain():
    need_console()
    with restrictive_broker() as b:
        p = sub_proc(b, "fr-client", "public/#", "secret/x")
        c = Console(b)
        try:
            s = c.pane
            s.keys("2")
            s.wait_for(r"fr-client\s+-\s+anonymous")
            s.keys("Enter")
            s.wait_for(r"\[Session\]")
            s.wait_for(r"Effective roles\s+role anonymous, role default")
            s.wait_for(r"Subscriptions \(1\)")
            # The grant and the refusal, each with its time stamp, and the deciding rule.
            s.wait_for(r"\d\d:\d\d:\d\d\.\d\d\d\s+connect\s+CONNECT accepted: MQTT 5 from "
                       r"127\.0\.0\.1:\d+, auth anonymous")
            s.wait_for(r"\d\d:\d\d:\d\d\.\d\d\d\s+subscribe\s+public/# QoS 0: granted QoS 0")
            s.wait_for(r"\d\d:\d\d:\d\d\.\d\d\d\s+subscribe\s+secret/x QoS 0: refused 0x87")
            s.wait_for(r"deny\s+subscribe secret/x QoS 0: denied: no rule")
            # Someone else's CONNECT with this client id and a bad password: refused, recorded.
            r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(b.port), "-V", "5",
                                "-i", "fr-client", "-u", "mallory", "-P", "wrong", "-t", "public/a",
                                "-m", "x"], capture_output=True, timeout=20)
            assert r.returncode != 0, r
            s.wait_for(r"refused\s+CONNECT from 127\.0\.0\.1:\d+ refused: bad user name or pass")
            # x: Explain, prefilled with this client; the topic is what is left to type.
            s.keys("x")
            s.wait_for(r"\[Explain\]")
            s.wait_for(r"Client id\s+fr-client")
            s.wait_for(r">\s+Topic\s+\(type one\)")
            s.keys("Enter")
            s.wait_for(r"(?m)^Topic:")
            s.text("secret/x")
            s.keys("Enter")
            s.wait_for(r"Verdict\s+DENIED")
            s.wait_for(r"Deciding rule\s+none \(the default\)")
            s.wait_for(r"Why\s+no rule matched")
            # Action publish -> subscribe; a topic the default role allows.
            s.keys("Up")
            s.keys("Enter")
            s.wait_for(r"Action\s+subscribe")
            s.keys("Down")
            s.wait_for(r">\s+Topic\s+secret/x")
            s.keys("Enter")
            s.wait_for(r"(?m)^Topic: secret/x")
            s.text("\x15public/a")  # ^U clears the prefilled text
            s.keys("Enter")
            s.wait_for(r"Verdict\s+ALLOWED")
            s.wait_for(r"Deciding rule\s+rule 1 of role default: allow subscribe,receive public/#")
            s.wait_for(r"Granted QoS\s+0")
            # Screen 8 by number, for a client that is not connected.
            s.keys("8")
            s.keys("Up", "Up", "Up")
            s.wait_for(r">\s+Client id\s+fr-client")
            s.keys("Enter")
            s.text("\x15nobody")
            s.keys("Enter")
            s.wait_for(r"client 'nobody' is not connected")
            s.keys("q")
            assert s.wait_exit(10) == 0
            c.assert_clean()
        finally:
            c.close()
            stop(p)


@lib.case
def overview_counters_audit_log_filter_pause():
    need_console()
    with restrictive_broker() as b:
        c = Console(b)
        try:
            s = c.pane
            m = re.search(r"Store\s+generation (\d+), [\d.]+ \S+ in use",
                          s.wait_for(r"Store\s+generation \d+"))
            gen = int(m.group(1))
            s.wait_for(r"Last minute\s+0 auth succeeded, 0 failed; 0 denials")
            # One refused password, one accepted anonymous connect, one denied publish.
            r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(b.port), "-V", "5",
                                "-u", "nobody", "-P", "wrong", "-t", "public/a", "-m", "x"],
                               capture_output=True, timeout=20)
            assert r.returncode != 0, r
            r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(b.port), "-V", "5",
                                "-q", "1", "-t", "secret/x", "-m", "x"],
                               capture_output=True, timeout=20)
            s.wait_for(r"Last minute\s+1 auth succeeded, 1 failed; 1 denials")
            s.wait_for(r"Since start\s+1 auth succeeded, 1 failed; 1 denials")
            # A store change moves the generation on the overview...
            cli(b, "user", "add", "alice", "--password-stdin", input=PW + "\n")
            s.wait_for(r"Store\s+generation %d," % (gen + 1))
            # ... and is in screen 7 as an audit line beside the broker's log lines.
            s.keys("7")
            s.wait_for(r"\[Log\]")
            s.wait_for(r"Z audit \S+: user add alice -> ok")
            s.wait_for(r"notice listening on 127\.0\.0\.1:%d" % b.port)
            # Filter as you type: only matching lines stay.
            s.keys("/")
            s.text("user add")
            scr = s.wait_for(r"1 lines .*matching 'user add'")
            assert "listening on" not in scr, scr
            s.keys("Enter")
            # Source: audit only hides log lines; level: error and above hides info lines.
            s.keys("/")
            s.keys("Escape")
            s.wait_for(r"level: debug and above; log and audit\)")
            s.keys("A")
            s.keys("A")
            scr = s.wait_for(r"audit only\)")
            assert "listening on" not in scr and "user add alice" in scr, scr
            s.keys("A")
            s.keys("v", "v", "v", "v")
            scr = s.wait_for(r"level: error and above; log and audit\)")
            assert "notice listening on" not in scr and "user add alice" in scr, scr
            s.keys("v")
            s.wait_for(r"level: debug and above")
            # Pause: a change made while paused is not shown until resumed.
            s.keys("Z")
            s.wait_for(r"PAUSED")
            cli(b, "user", "add", "bob", "--password-stdin", input=PW + "\n")
            s.keys("/")
            s.text("user add bob")
            s.keys("Enter")
            s.wait_for(r"PAUSED\s+0 lines")
            s.wait_for(r"\(no line matches\)")
            s.keys("Z")
            s.wait_for(r"log resumed")
            s.wait_for(r"Z audit \S+: user add bob -> ok")
            s.keys("q")
            assert s.wait_exit(10) == 0
            c.assert_clean()
        finally:
            c.close()


@lib.case
def resize_then_quit_restores_the_terminal():
    need_console()
    with restrictive_broker() as b:
        # The console under a shell: after it exits the shell shows the tty settings.
        c = Console(b, shell="%s; stty -a; echo AFTER-CONSOLE; exec sleep 60")
        try:
            s = c.pane
            s.keys("2")
            s.wait_for(r"Client id\^\s+Identity")
            s._tmux("resize-window", "-x", "80", "-y", "24")

            def bar_at_bottom():
                rows = s.screen().split("\n")
                return len(rows) >= 24 and rows[23].startswith(" Enter Detail  k Kick")
            # Before the redraw the bar was on row 36, off the smaller window.
            lib.wait_until(bar_at_bottom, 10, msg="no redraw at 80x24:\n" + s.screen())
            assert len(s.screen().split("\n")[0]) <= 80
            s.keys("8")
            s.wait_for(r"\[Explain\]")
            s.keys("q")
            scr = s.wait_for(r"AFTER-CONSOLE")
            words = scr.split()
            assert "icanon" in words and "echo" in words, scr  # not -icanon, -echo
            assert "Warden 0.1" not in scr, scr  # the alternate screen is gone
            c.assert_clean()
        finally:
            c.close()


def connect_many(b, n, prefix, deadline_s=60):
    """n MQTT 3.1.1 connections (client ids PREFIX0000...), each CONNECTed and
    CONNACKed; returns the sockets. Bounded by deadline_s."""
    socks = []
    pending = {}
    deadline = time.monotonic() + deadline_s
    try:
        for i in range(n):
            cid = ("%s%04d" % (prefix, i)).encode()
            body = (b"\x00\x04MQTT\x04\x02\x00\x00" + len(cid).to_bytes(2, "big") + cid)
            s = socket.create_connection(("127.0.0.1", b.port), timeout=10)
            s.sendall(bytes([0x10, len(body)]) + body)
            socks.append(s)
            pending[s] = b""
            # Read CONNACKs as we go, so that the broker's accept queue never backs up.
            for t in [t for t in pending if len(pending[t]) < 4]:
                t.setblocking(False)
                try:
                    pending[t] += t.recv(4 - len(pending[t]))
                except BlockingIOError:
                    pass
                t.setblocking(True)
            assert time.monotonic() < deadline, "connecting %d clients took too long" % n
        for t in socks:
            t.settimeout(max(0.1, deadline - time.monotonic()))
            while len(pending[t]) < 4:
                chunk = t.recv(4 - len(pending[t]))
                assert chunk, "connection closed before CONNACK"
                pending[t] += chunk
            assert pending[t] == b"\x20\x02\x00\x00", pending[t]
        return socks
    except BaseException:
        for t in socks:
            t.close()
        raise


@lib.case
def thousand_clients_console_stays_responsive():
    need_console()
    with lib.Broker(extra="max_connections 0\n") as b:
        socks = connect_many(b, 1000, "load-")
        c = Console(b)
        try:
            s = c.pane
            s.keys("2")
            s.wait_for(r"1000 sessions  \(sorted by Client id\)", timeout=20)
            # Each key acts within the deadline while 1,000 sessions refresh every second.
            steps = [(("G",), r"load-0999"),  # End and Home: G and g (tmux sends its own End)
                     (("g",), r"load-0000"),
                     (("/",), r"(?m)^Filter:"),
                     (("-l", "0777"), r"1 of 1000 sessions match '0777'"),
                     (("Enter",), r"load-0777\s+-\s+anonymous"),
                     (("Escape", "/", "Escape"), r"1000 sessions  \(sorted by Client id\)"),
                     ((">",), r"sorted by Identity"),
                     (("r",), r"descending"),
                     (("Enter",), r"\[Session\]"),
                     (("Escape",), r"\[Sessions\]")]
            for keys, want in steps:
                t0 = time.monotonic()
                if keys[0] == "-l":
                    s.text(keys[1])
                else:
                    s.keys(*keys)
                s.wait_for(want, timeout=5)
                if os.environ.get("VERBOSE"):
                    sys.stderr.write("  %-20s %.2fs\n" % (" ".join(keys),
                                                          time.monotonic() - t0))
            s.keys("q")
            assert s.wait_exit(10) == 0
            c.assert_clean()
            assert b.proc.poll() is None, "the broker stopped"
        finally:
            c.close()
            for t in socks:
                t.close()


lib.run()
