#!/usr/bin/python3
"""console_scale.py - is the console instant with 10,000 sessions? (measured, not asserted)

Starts ./warden (release build) on a free 127.0.0.1 port with a temporary store,
opens N idle connections with build/bench/mqbench (default 10000), then
measures: the admin socket's whole-list `sessions` reply and the `page`
window the console asks for instead (records, bytes, round trip, broker CPU
per request), and `warden console` attached in tmux on the
sessions screen: time until each key's effect shows (End, filter, sort,
reverse) and the CPU the broker and the console use per second while it
refreshes. Kills only the processes it started. Needs `make bench` binaries.

usage: tests/bench/console_scale.py [--conns N]
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "tui"))
import tmux  # noqa: E402

WARDEN = os.environ.get("WARDEN") or os.path.join(ROOT, "warden")
GEN = os.path.join(ROOT, "build", "bench", "mqbench")


def cpu_s(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=10000)
    opt = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="wdscale-")
    port = free_port()
    conf = os.path.join(tmp, "w.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\nanonymous_default allow\n"
                "sys_interval 0\nmax_connections 0\nlog_level error\n" % port)
    sock = os.path.join(tmp, "data", "admin.sock")
    broker = subprocess.Popen([WARDEN, "-c", conf, "--no-console", "--store",
                               os.path.join(tmp, "data")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    gen = pane = None
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            if time.monotonic() > deadline:
                sys.exit("console_scale: the broker did not start")
            time.sleep(0.05)
        gen = subprocess.Popen([GEN, "idle", "--port", str(port), "--conns", str(opt.conns),
                                "--hold", "300"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = gen.stderr.readline()
            if not line or line.startswith("READY"):
                break
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        f = s.makefile("rb")

        def measure(req, what):
            c0, t0 = cpu_s(broker.pid), time.monotonic()
            for _ in range(20):
                s.sendall(req)
                head = f.readline()
                n, size = int(head.split()[1]), len(head)
                for _ in range(n):
                    size += len(f.readline())
            t1, c1 = time.monotonic(), cpu_s(broker.pid)
            print("%s: %d records, %.3f MB, round trip %.1f ms (Python reader), "
                  "broker CPU %.2f ms per request" % (what, n, size / 1e6, (t1 - t0) / 20 * 1000,
                                                     (c1 - c0) / 20 * 1000))

        # Before paging the console asked for the whole list every second ("sessions");
        # now it asks for a window: a 36-line screen shows 31 rows, the window is 3x that.
        measure(b"sessions\n", "sessions (whole list, the console before paging)")
        measure(b"page 0\t0\t5000\t93\t\t%\n", "page (93 rows at 5000, by client id)")
        measure(b"page 7\t1\t0\t93\tmqb-i1\t%\n",
                "page (93 rows, by msgs in, descending, filtered)")
        s.close()
        pane = tmux.Pane([WARDEN, "console", "--socket", sock], tmp)
        pane.wait_for(r"attached pid")
        t0 = time.monotonic()
        pane.keys("2")
        pane.wait_for(r"%d sessions" % opt.conns, 30)
        print("console: first sessions screen %.2f s" % (time.monotonic() - t0))
        for keys, want in [(("/",), r"Filter:"),
                           (("-l", "abc"), r"of %d sessions match 'abc'" % opt.conns),
                           (("Escape",), r"%d sessions  \(sorted" % opt.conns),
                           ((">",), r"sorted by Identity"), (("r",), r"descending")]:
            t0 = time.monotonic()
            if keys[0] == "-l":
                pane.text(keys[1])
            else:
                pane.keys(*keys)
            pane.wait_for(want, 10)
            print("console: key %-8s acted in %.3f s" % (" ".join(keys), time.monotonic() - t0))
        con = int(subprocess.run(["tmux", "-L", pane.sock, "list-panes", "-F", "#{pane_pid}"],
                                 capture_output=True, text=True).stdout.split()[0])
        kids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(con)], capture_output=True,
                              text=True).stdout.split()
        con = int(kids[0]) if kids else con
        b0, k0 = cpu_s(broker.pid), cpu_s(con)
        time.sleep(10)
        b1, k1 = cpu_s(broker.pid), cpu_s(con)
        print("over 10 s on the sessions screen (refreshing every second): broker %.0f ms "
              "CPU/s, console %.0f ms CPU/s" % ((b1 - b0) * 100, (k1 - k0) * 100))
    finally:
        if pane:
            pane.kill()
        for p in (gen, broker):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
