#!/usr/bin/python3
"""10 console: the ncurses console driven in tmux (tests/tui/tmux.py).

The real broker (build/asan/warden) runs with a terminal in tmux on a free
port with a temporary config and store: the overview shows, a mosquitto_sub
client appears in Sessions, the filter finds it, a second console attached
with `warden console --socket` sees the same session, k + y disconnects it,
and q + y stops the broker with exit status 0 and no sanitizer report."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tui"))
import lib  # noqa: E402
import tmux  # noqa: E402


class Embedded:
    """A broker with its console in a tmux pane."""

    def __init__(self):
        if lib.is_mosquitto():
            lib.skip("Warden's console")
        if not shutil.which("tmux"):
            lib.skip("tmux is not installed")
        self.dir = tempfile.mkdtemp(prefix="warden-console-")
        self.store = os.path.join(self.dir, "store")
        os.mkdir(self.store)
        self.port = lib.free_port()
        self.conf = os.path.join(self.dir, "warden.conf")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\nanonymous_default allow\n"
                    "store_dir %s\nsys_interval 0\n" % (self.port, self.store))
        self.err = os.path.join(self.dir, "stderr.log")
        self.sock = os.path.join(self.store, "admin.sock")
        self.panes = []
        self.procs = []
        self.pane = self.open([lib.warden_bin(), "-c", self.conf], stderr=self.err)

    def open(self, argv, stderr=None, height=36):
        p = tmux.Pane(argv, self.dir, stderr=stderr, height=height)
        self.panes.append(p)
        return p

    def log(self):
        try:
            with open(self.err, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def sub(self, client_id):
        p = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-V", "5",
                              "-i", client_id, "-t", "console/#", "-W", "40"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for p in self.panes:
            p.kill()
        if not os.environ.get("KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def assert_clean_exit(self, pane=None):
        rc = (pane or self.pane).wait_exit(20)
        log = self.log()
        assert not lib.SANITIZER_RE.search(log), "sanitizer report:\n" + log[-3000:]
        assert rc == 0, "broker exited %d; log:\n%s" % (rc, log[-2000:])


@lib.case
def console_sessions_filter_kick_attach_quit():
    e = Embedded()
    try:
        p = e.pane
        p.wait_for(r"Listeners\s+127\.0\.0\.1:%d" % e.port)
        p.wait_for(r"\[Overview\]")
        e.sub("console-victim")
        e.sub("other-client")
        p.keys("2")
        p.wait_for(r"console-victim\s+-\s+anonymous\s+127\.0\.0\.1:\d+\s+5\.0")
        p.wait_for(r"other-client")
        # Filter as you type: only the matching row stays.
        p.keys("/")
        p.text("victim")
        s = p.wait_for(r"1 of 2 sessions match 'victim'")
        assert "other-client" not in s, s
        p.keys("Enter")
        # A second console, attached through the admin socket, sees the same session.
        a = e.open([lib.warden_bin(), "console", "--socket", e.sock])
        a.wait_for(r"attached pid \d+")
        a.keys("2")
        a.wait_for(r"console-victim\s+-\s+anonymous")
        assert re.search(r"admin socket: console attached by \S+ \(uid \d+, pid \d+\)", e.log()), \
            e.log()[-2000:]
        # Detail with subscriptions.
        a.keys("/")
        a.text("console-victim")
        a.keys("Enter")
        a.keys("Enter")
        a.wait_for(r"\[Session\]")
        a.wait_for(r"Subscriptions \(1\)")
        a.wait_for(r"console/#\s+QoS 0")
        a.keys("q")
        assert a.wait_exit(10) == 0
        # Kick from the embedded console, with confirmation.
        p.keys("k")
        p.wait_for(r"Disconnect client 'console-victim'\? .*\(y/N\)")
        p.keys("y")
        p.wait_for(r"disconnected client 'console-victim'")
        lib.wait_until(lambda: re.search(r"disconnect client=console-victim \S+ reason=0x98",
                                         e.log()), 10, msg="no 0x98 disconnect in the log")
        # Quit: asks first, then the broker stops cleanly.
        p.keys("q")
        p.wait_for(r"STOP THE BROKER\? \(y/N\)")
        p.keys("n")
        p.wait_for(r"cancelled")
        p.keys("q")
        p.wait_for(r"STOP THE BROKER")
        p.keys("y")
        e.assert_clean_exit()
        assert "console: quit, stopping the broker" in e.log()
        assert not os.path.exists(e.sock), "admin socket left behind"
    finally:
        e.close()


def offline_sessions(port, ids):
    """Leave one offline persistent session per id (3.1.1, clean session 0)."""
    import socket
    for cid in ids:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(lib.pkt_connect(cid, clean=False))
            ack = b""
            while len(ack) < 4:
                chunk = s.recv(4 - len(ack))
                assert chunk, "connection closed before CONNACK"
                ack += chunk
            assert ack[0] == 0x20 and ack[3] == 0, ack
            s.sendall(lib.pkt_disconnect())


def admin_request(path, line):
    """One request on the admin socket: the reply's lines."""
    import socket
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(line.encode() + b"\n")
        f = s.makefile("rb")
        head = f.readline().decode().rstrip("\n")
        if not head.startswith("ok "):
            return [head]
        return [head] + [f.readline().decode().rstrip("\n") for _ in range(int(head[3:]))]


@lib.case
def console_pages_a_long_list():
    """90 sessions on a 24-line terminal: the console holds a window of them (the
    screen and a screenful either side); End, PgDn, sort and filter ask the broker
    for the rows there, and the selection follows its client id."""
    e = Embedded()
    try:
        e.pane.wait_for(r"\[Overview\]")
        ids = ["page-%02d" % i for i in range(90)]
        offline_sessions(e.port, ids)
        # The socket verb: counts, the window's offset and the followed row, then the rows.
        r = admin_request(e.sock, "page 0\t0\t85\t10\tpage-\tpage-42")
        assert r[0] == "ok 11", r[:2]
        assert r[1] == "90\t90\t37\t42", r[1]  # centred on the followed row
        assert r[2].startswith("page-37\t") and r[11].startswith("page-46\t"), r
        r = admin_request(e.sock, "page 0\t1\t0\t3\tpage-1\t%")
        assert r[0] == "ok 4" and r[1] == "90\t10\t0\t-1", r[:2]
        assert [x.split("\t")[0] for x in r[2:]] == ["page-19", "page-18", "page-17"], r
        r = admin_request(e.sock, "session page-42")  # the detail screen's lookup
        assert r[0] == "ok 1" and r[1].startswith("page-42\t"), r
        assert admin_request(e.sock, "session page-4") == ["err WD_ENOTFOUND"]
        assert admin_request(e.sock, "identities") == ["ok 0"]  # offline, anonymous: none
        for bad in ["page 12\t0\t0\t3\t\t%", "page 0\t0\t0\t1001\t\t%", "page 0\t0\t0"]:
            r = admin_request(e.sock, bad)
            assert r == ["err WD_EINVAL"], (bad, r)
        a = e.open([lib.warden_bin(), "console", "--socket", e.sock], height=24)
        a.wait_for(r"attached pid")
        a.keys("2")
        s = a.wait_for(r"90 sessions  \(sorted by Client id\)")
        assert "page-00" in s and "page-18" in s and "page-19" not in s, s
        a.keys("G")
        s = a.wait_for(r"page-89")
        assert "page-00" not in s and "page-70" not in s and "page-71" in s, s
        a.keys("g")
        a.wait_for(r"page-00")
        for _ in range(4):  # 4 pages of 18: row 72, past the first window (rows 0..56)
            a.keys("Space")
        s = a.wait_for(r"page-72")
        # Detail of the selected row: it is page-72, fetched from the new window.
        a.keys("Enter")
        a.wait_for(r"\[Session\]")
        a.wait_for(r"page-72")
        a.keys("Escape")
        a.wait_for(r"\[Sessions\]")
        # Reverse: the selection follows page-72 to its new place.
        a.keys("r")
        a.wait_for(r"descending")
        a.keys("Enter")
        a.wait_for(r"\[Session\][\s\S]*page-72")
        a.keys("Escape")
        a.keys("g")
        s = a.wait_for(r"page-89[\s\S]*page-88")
        # Filter as you type, done by the broker.
        a.keys("/")
        a.text("page-5")
        s = a.wait_for(r"10 of 90 sessions match 'page-5'")
        assert "page-59" in s and "page-50" in s and "page-49" not in s, s
        a.keys("Escape")
        a.wait_for(r"90 sessions  \(sorted")
        a.keys("q")
        assert a.wait_exit(10) == 0
    finally:
        e.close()


@lib.case
def console_help_log_and_sigterm():
    e = Embedded()
    try:
        p = e.pane
        p.wait_for(r"\[Overview\]")
        p.keys("?")
        p.wait_for(r"Disconnect the selected client \(asks first\)")
        p.wait_for(r"2 F2\s+Sessions")
        p.keys("Escape")
        p.wait_for(r"\[Overview\]")
        p.keys("7")
        p.wait_for(r"notice listening on 127\.0\.0\.1:%d" % e.port)
        m = re.search(r"embedded pid (\d+)", p.screen())
        assert m, p.screen()
        # SIGTERM: the broker stops, the console gives the terminal back.
        os.kill(int(m.group(1)), signal.SIGTERM)
        e.assert_clean_exit()
        assert "signal 15: shutting down" in e.log(), e.log()[-1000:]
    finally:
        e.close()


def gone(pid):
    """The process has exited (reaped or a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@lib.case
def console_terminal_gone_stops_the_broker():
    e = Embedded()
    try:
        p = e.pane
        p.wait_for(r"\[Overview\]")
        m = re.search(r"embedded pid (\d+)", p.screen())
        assert m, p.screen()
        pid = int(m.group(1))
        # The terminal goes away (its window closed): the console must not spin on a
        # dead terminal; it stops the broker as SIGTERM would.
        p.kill()
        lib.wait_until(lambda: gone(pid), timeout=15, msg="the broker outlived its terminal")
        assert "the console's terminal went away: stopping the broker" in e.log(), e.log()[-800:]
        assert not lib.SANITIZER_RE.search(e.log()), e.log()[-3000:]
    finally:
        e.close()


@lib.case
def console_attach_without_broker():
    if lib.is_mosquitto():
        lib.skip("Warden's console")
    d = tempfile.mkdtemp(prefix="warden-console-")
    try:
        r = lib.run_warden(["console", "--socket", os.path.join(d, "admin.sock")])
        assert r.returncode == 1, r
        assert "cannot reach the broker's admin socket" in r.stderr, r.stderr
        assert "Is the broker running?" in r.stderr, r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


lib.run()
