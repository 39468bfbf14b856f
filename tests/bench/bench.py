#!/usr/bin/python3
"""bench.py - run Warden and Mosquitto side by side under mqbench (`make bench`).

Every run starts a fresh broker on a free 127.0.0.1 port (equivalent
settings: anonymous, no persistence, 20 in flight, 20000 queued, no $SYS,
logging off; a user with a password, rules or TLS where the scenario says),
runs one mqbench scenario against it, and stops it again.
Scenarios alternate Warden, Mosquitto, Warden, Mosquitto ... (PAIRS pairs,
5 for fan-out). Prints one Markdown table of medians and min-max ranges and
writes tests/bench/results.json. Standard library only; kills only the PIDs
it started; every wait has a deadline.

usage: tests/bench/bench.py [--duration S] [--pairs N] [--only a,b] [--out FILE]
"""
import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GEN = os.path.join(ROOT, "build", "bench", "mqbench")
RELAY = os.path.join(ROOT, "build", "bench", "relay")
WARDEN = os.environ.get("WARDEN") or os.path.join(ROOT, "warden")
MOSQUITTO = os.environ.get("MOSQUITTO") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"

INFLIGHT = 20
QUEUED = 20000
BENCH_USER = "bench"
BENCH_PASS = "bench-password-0123456789"
STORM = 500
RULES = 100
PW_ARGS = ["--user", BENCH_USER, "--pass", BENCH_PASS]

# id, label, mode, mqbench args, metric, unit, better ("hi"/"lo"), target ratio,
# broker setup {"pw": a user with a password (Warden: `warden user add` with the
# default Argon2id cost; Mosquitto: mosquitto_passwd), "cache": Warden's
# auth_cache_seconds, "tls": server certificate, "kinds": brokers to alternate}
SCENARIOS = [
    ("q0_1to1", "1. QoS 0, 1 -> 1", "thru", ["--window", "4000"], "rate", "msgs/s", "hi", 10),
    ("q0_fanin", "2. QoS 0 fan-in, 50 -> 1 (wildcard)", "thru",
     ["--pubs", "50", "--window", "200"], "rate", "msgs/s", "hi", 10),
    ("q0_fanout", "3. QoS 0 fan-out, 1 -> 100", "thru",
     ["--subs", "100", "--window", "1000"], "rate", "deliveries/s", "hi", 10),
    ("q1_1to1", "4a. QoS 1, 1 -> 1, window 20", "thru",
     ["--qos", "1", "--inflight", "20", "--window", "4000"], "rate", "msgs/s", "hi", 5),
    ("q2_1to1", "4b. QoS 2, 1 -> 1, window 20", "thru",
     ["--qos", "2", "--inflight", "20", "--window", "4000"], "rate", "msgs/s", "hi", 5),
    ("lat_q0", "5a. latency QoS 0 @ 5k/s", "lat", ["--qos", "0", "--rate", "5000"],
     "lat", "us", "lo", 0.5),
    ("lat_q1", "5b. latency QoS 1 @ 5k/s", "lat", ["--qos", "1", "--rate", "5000"],
     "lat", "us", "lo", 0.5),
    ("idle_1k", "6a. idle RSS / conn, 1000 conns", "idle", ["--conns", "1000"],
     "bytes_per_conn", "bytes", "lo", 0.7),
    ("idle_10k", "6b. idle RSS / conn, 10000 conns", "idle", ["--conns", "10000"],
     "bytes_per_conn", "bytes", "lo", 0.7),
    ("connect_anon", "7a. connect rate, anonymous, 16 parallel", "connect",
     ["--par", "16"], "rate", "conn/s", "hi", 2),
    ("connect_pw", "7b. connect rate, password, warm cache, 16 parallel", "connect",
     ["--par", "16"] + PW_ARGS, "rate", "conn/s", "hi", 1, {"pw": True}),
    ("connect_pw_cold", "7c. connect rate, password, cold (no cache), 16 parallel", "connect",
     ["--par", "16"] + PW_ARGS, "rate", "conn/s", "hi", None, {"pw": True, "cache": 0}),
    ("auth_storm", "8. auth storm: QoS 0 stream @ 5k/s, %d password connects" % STORM, "lat",
     ["--qos", "0", "--rate", "5000", "--storm", str(STORM)] + PW_ARGS, "storm", "us", "lo",
     1.5, {"pw": True, "cache": 0}),
    ("rules100", "9. QoS 0, 1 -> 1, %d rules (Mosquitto column: Warden, no rules)" % RULES,
     "thru", ["--window", "4000"], "rate", "msgs/s", "hi", 0.9,
     {"kinds": ("warden_rules", "warden")}),
    ("tls_connect", "10. TLS handshake + CONNECT/CONNACK, 16 parallel", "connect",
     ["--par", "16"], "rate", "conn/s", "hi", 1, {"tls": True}),
    ("console_fanout", "11. QoS 0 fan-out 1 -> 100, console attached polling a sessions page "
     "+ stats "
     "every second (Mosquitto column: Warden, no console)", "thru",
     ["--subs", "100", "--window", "1000"], "rate", "deliveries/s", "hi", 0.95,
     {"kinds": ("warden_console", "warden")}),
]
SCENARIOS = [s if len(s) == 9 else s + ({},) for s in SCENARIOS]
FANOUT_PAIRS = 5


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, secs=5.0):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def vm_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def sys_busy_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]) - idle, sum(v[:8])


def cli(argv, stdin=None):
    r = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv[:4]), r.stderr.strip()[-300:]))


_templates = {}


def template(tmp, what):
    """A store or file made once per bench run and copied into each broker's directory:
    'store_pw' (Warden store with the bench user), 'store_rules' (RULES rules in the
    default role), 'passwd' (Mosquitto password file), 'pki' (make-test-pki.sh)."""
    if what in _templates:
        return _templates[what]
    path = os.path.join(tmp, "tpl-" + what)
    if what == "store_pw":
        cli([WARDEN, "user", "add", BENCH_USER, "--password-stdin", "--store", path],
            BENCH_PASS + "\n")
    elif what == "store_rules":
        # RULES - 1 allow rules that never match the benchmark's topics, then '#':
        # every PUBLISH, SUBSCRIBE and delivery is decided by the last rule.
        for i in range(RULES - 1):
            cli([WARDEN, "role", "rule", "add", "default", "allow",
                 "publish,subscribe,receive", "nomatch/%d/#" % i, "--store", path])
        cli([WARDEN, "role", "rule", "add", "default", "allow", "publish,subscribe,receive",
             "#", "--store", path])
    elif what == "passwd":
        cli(["mosquitto_passwd", "-c", "-b", path, BENCH_USER, BENCH_PASS])
    elif what == "pki":
        cli(["sh", os.path.join(ROOT, "share", "make-test-pki.sh"), path])
    # Mosquitto drops to its own user before it reads these: make them readable.
    os.chmod(tmp, 0o755)
    for d, _, files in os.walk(path) if os.path.isdir(path) else [(tmp, [], [path])]:
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    _templates[what] = path
    return path


class Broker:
    def __init__(self, kind, tmp, setup=None):
        setup = setup or {}
        self.kind = kind
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=kind + "-", dir=tmp)
        pki = template(tmp, "pki") if setup.get("tls") else None
        conf = os.path.join(self.dir, kind + ".conf")
        if kind.startswith("warden"):
            data = os.path.join(self.dir, "data")
            if setup.get("pw"):
                shutil.copytree(template(tmp, "store_pw"), data)
            elif kind == "warden_rules":
                shutil.copytree(template(tmp, "store_rules"), data)
            text = ("listener %d 127.0.0.1\nallow_anonymous true\nanonymous_default allow\n"
                    "sys_interval 0\nmax_connections 0\nmax_inflight_messages %d\n"
                    "max_queued_messages %d\nmax_queued_bytes 0\nlog_level error\n"
                    % (self.port, INFLIGHT, QUEUED))
            if "cache" in setup:
                text += "auth_cache_seconds %d\n" % setup["cache"]
            if pki:
                text += "certfile %s/server.pem\nkeyfile %s/server.key\n" % (pki, pki)
            argv = [WARDEN, "-c", conf, "--no-console", "--store", data]
        else:
            text = ("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "log_dest none\nmax_connections -1\nmax_inflight_messages %d\n"
                    "max_queued_messages %d\nsys_interval 0\n" % (self.port, INFLIGHT, QUEUED))
            # Warden sets TCP_NODELAY on every client socket; Mosquitto only when asked
            # (without it a small reply after a TLS handshake waits ~40 ms for an ACK).
            text += "set_tcp_nodelay true\n"
            if setup.get("pw"):
                text += "password_file %s\n" % template(tmp, "passwd")
            if pki:
                text += "certfile %s/server.pem\nkeyfile %s/server.key\n" % (pki, pki)
            argv = [MOSQUITTO, "-c", conf]
        with open(conf, "w") as f:
            f.write(text)
        self.err = open(os.path.join(self.dir, "stderr"), "w+")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.err,
                                     stderr=self.err, cwd=self.dir)
        if not wait_port(self.port, self.proc):
            tail = self.log_tail()
            self.stop()
            raise RuntimeError("%s did not start: %s" % (kind, tail))
        time.sleep(0.1)  # let the probe connection go away
        self.poller = None
        if kind == "warden_console":
            self.poller = ConsolePoller(os.path.join(data, "admin.sock"))

    def log_tail(self):
        self.err.seek(0)
        return self.err.read()[-500:]

    def stop(self):
        if self.poller:
            self.poller.stop()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.err.close()


class ConsolePoller:
    """What an attached console asks every second (tui.c's refresh on the sessions
    screen): `stats` and a `page` of sessions (a 36-line terminal's window: 93 rows,
    sorted by client id) over the admin socket, replies read whole."""

    def __init__(self, path):
        self.path = path
        self.polls = 0
        self.error = None
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def request(self, s, f, verb):
        s.sendall(verb.encode() + b"\n")
        head = f.readline().decode()
        if not head.startswith("ok "):
            raise RuntimeError("admin socket: %s -> %r" % (verb, head))
        for _ in range(int(head.split()[1])):
            f.readline()

    def run(self):
        try:
            deadline = time.monotonic() + 5
            while not os.path.exists(self.path) and time.monotonic() < deadline:
                time.sleep(0.02)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect(self.path)
                f = s.makefile("rb")
                while not self.stop_ev.is_set():
                    self.request(s, f, "stats")
                    self.request(s, f, "page 0\t0\t0\t93\t\t%")
                    self.polls += 1
                    self.stop_ev.wait(1.0)
        except (OSError, RuntimeError, ValueError) as e:
            self.error = str(e)

    def stop(self):
        self.stop_ev.set()
        self.thread.join(15)


def run_gen(args, timeout):
    r = subprocess.run([GEN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if r.returncode != 0 or not lines:
        raise RuntimeError("mqbench %s failed (%d): %s" % (" ".join(args), r.returncode,
                                                           r.stderr.strip()[-300:]))
    res = json.loads(lines[-1])
    if r.stderr.strip():
        res["stderr"] = r.stderr.strip()[-300:]
    return res


def timed_args(opt):
    return ["--warmup", str(opt.warmup), "--duration", str(opt.duration), "--drain", "3"]


def run_one(kind, scen, opt, tmp):
    sid, _, mode, args, _, _, _, _, setup = scen
    b = Broker(kind, tmp, setup)
    try:
        busy0, tot0 = sys_busy_ticks()
        base = ["--port", str(b.port), "--broker-pid", str(b.proc.pid)]
        if setup.get("tls"):
            base += ["--tls", os.path.join(template(tmp, "pki"), "ca.pem")]
        limit = opt.warmup + opt.duration + (90 if "--storm" in args else 30)
        if mode in ("thru", "lat", "connect"):
            res = run_gen([mode] + base + args + timed_args(opt), limit)
        else:  # idle
            n = int(args[args.index("--conns") + 1])
            n = min(n, opt.max_conns)
            time.sleep(0.3)
            rss0 = vm_rss_kib(b.proc.pid)
            p = subprocess.Popen([GEN, "idle"] + base + ["--conns", str(n), "--hold", "60"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 60
            ready = False
            while time.monotonic() < deadline:
                line = p.stderr.readline()
                if not line:
                    break
                if line.startswith("READY"):
                    ready = True
                    break
            if not ready:
                p.kill()
                p.wait(5)
                raise RuntimeError("idle: connections not ready (%d)" % n)
            time.sleep(0.5)
            rss1 = vm_rss_kib(b.proc.pid)
            p.kill()  # our own generator: closes every connection at once
            p.wait(5)
            res = {"mode": "idle", "conns": n, "rss0_kib": rss0, "rss1_kib": rss1,
                   "bytes_per_conn": (rss1 - rss0) * 1024.0 / n, "lost": 0}
        busy1, tot1 = sys_busy_ticks()
        res["machine_busy_pct"] = 100.0 * (busy1 - busy0) / max(1, tot1 - tot0)
        if b.poller:
            res["console_polls"] = b.poller.polls
            if b.poller.error or not b.poller.polls:
                raise RuntimeError("console poller: %s" % (b.poller.error or "no poll made"))
        if b.proc.poll() is not None:
            raise RuntimeError("%s exited during the run: %s" % (kind, b.log_tail()))
        return res
    finally:
        b.stop()


def metric(res, scen, key="p99_us"):
    m = scen[4]
    if m == "lat":
        return res[key]
    if m == "storm":
        return res["storm_ratio"]
    return res[m]


def fmt(v, unit):
    if v is None:
        return "n/a"
    if unit == "ratio":
        return "%.2f" % v
    if unit == "us":
        return "%.0f" % v if v >= 100 else "%.1f" % v
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e4:
        return "%.1fk" % (v / 1e3)
    return "%.0f" % v


def summarize(vals):
    return statistics.median(vals), min(vals), max(vals)


def machine_info():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    def out(argv):
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=10)
            return r.stdout.strip().splitlines()[0] if r.stdout.strip() else "?"
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    mem = "?"
    with open("/proc/meminfo") as f:
        mem = f.readline().split(":", 1)[1].strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "mem_total": mem,
        "os": out(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "warden_version": out([WARDEN, "--version"]),
        "warden_commit": out(["git", "-C", ROOT, "describe", "--always", "--dirty"]),
        "mosquitto_version": out([MOSQUITTO, "-h"]),
        "cc": out(["cc", "--version"]),
        "rlimit_nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "loadavg_at_start": open("/proc/loadavg").read().split()[:3],
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", 3)))
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--pairs", type=int, default=int(os.environ.get("BENCH_PAIRS", 3)))
    ap.add_argument("--only", default=os.environ.get("BENCH_ONLY", ""))
    ap.add_argument("--no-relay", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "bench", "results.json"))
    opt = ap.parse_args()
    for exe in (GEN, RELAY, WARDEN, MOSQUITTO):
        if not os.access(exe, os.X_OK):
            sys.exit("bench: %s is missing (run `make bench`)" % exe)

    # As many descriptors as allowed, for us and (inherited) both brokers.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        hard = soft
    opt.max_conns = max(100, min(10000, hard - 200))

    info = machine_info()
    only = set(x for x in opt.only.split(",") if x)
    scens = [s for s in SCENARIOS if not only or s[0] in only]
    t_begin = time.monotonic()
    print("bench: %s, %d cores, kernel %s; RLIMIT_NOFILE %d; %s vs %s" %
          (info["cpu_model"], info["nproc"], info["kernel"], hard, info["warden_version"],
           info["mosquitto_version"]), flush=True)
    if opt.max_conns < 10000:
        print("bench: the open-file limit allows only %d idle connections" % opt.max_conns)

    tmp = tempfile.mkdtemp(prefix="wdbench-")
    results = {"machine": info, "settings": {
        "duration_s": opt.duration, "warmup_s": opt.warmup, "pairs": opt.pairs,
        "fanout_pairs": FANOUT_PAIRS, "payload_bytes": 64, "max_inflight_messages": INFLIGHT,
        "max_queued_messages": QUEUED, "idle_conns_max": opt.max_conns},
        "scenarios": {}, "relay": {}}
    try:
        for scen in scens:
            sid, label, mode = scen[0], scen[1], scen[2]
            kinds = scen[8].get("kinds", ("warden", "mosquitto"))
            entry = {"label": label, "unit": scen[5], "better": scen[6],
                     "target_ratio": scen[7], "kinds": list(kinds),
                     "runs": {"warden": [], "mosquitto": []}}
            results["scenarios"][sid] = entry
            pairs = FANOUT_PAIRS if sid == "q0_fanout" else opt.pairs
            for i in range(pairs):
                for kind, col in zip(kinds, ("warden", "mosquitto")):
                    try:
                        r = run_one(kind, scen, opt, tmp)
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        r = {"error": str(e)}
                        print("bench: %s %s run %d: %s" % (sid, kind, i + 1, e), flush=True)
                    entry["runs"][col].append(r)
            print("bench: %-10s done (%.0f s)" % (sid, time.monotonic() - t_begin), flush=True)
        if not opt.no_relay:
            for scen in SCENARIOS[:3] + SCENARIOS[5:6]:
                if only and scen[0] not in only:
                    continue
                runs = []
                for i in range(3):
                    port = free_port()
                    rp = subprocess.Popen([RELAY, str(port)])
                    try:
                        if not wait_port(port, rp):
                            raise RuntimeError("relay did not start")
                        runs.append(run_gen([scen[2], "--port", str(port), "--broker-pid",
                                             str(rp.pid)] + scen[3] + timed_args(opt),
                                            opt.warmup + opt.duration + 30))
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        print("bench: relay %s: %s" % (scen[0], e))
                    finally:
                        rp.send_signal(signal.SIGTERM)
                        try:
                            rp.wait(5)
                        except subprocess.TimeoutExpired:
                            rp.kill()
                            rp.wait(5)
                results["relay"][scen[0]] = {"label": scen[1], "runs": runs}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["elapsed_s"] = round(time.monotonic() - t_begin, 1)
    print_table(results)
    with open(opt.out, "w") as f:
        json.dump(results, f, indent=1)
    print("\nwrote %s (%.0f s)" % (os.path.relpath(opt.out), results["elapsed_s"]))


def rows_for(sid, entry):
    """(label, metric key) rows a scenario prints; latency gives three."""
    if sid.startswith("lat_"):
        return [(entry["label"] + " p50", "p50_us"), (entry["label"] + " p99", "p99_us"),
                (entry["label"] + " p99.9", "p999_us")]
    if sid == "auth_storm":
        return [(entry["label"] + ": stream p99 without", "p99_us"),
                (entry["label"] + ": stream p99 during", "p99_storm_us"),
                (entry["label"] + ": p99 during / without (each broker's own)", "storm_ratio")]
    return [(entry["label"], None)]


def print_table(results):
    print()
    print("| scenario | unit | Warden median [min-max] | Mosquitto median [min-max] "
          "| W/M | target | Warden CPU% | Mosquitto CPU% | gen CPU% (W/M) | other CPU% (W/M) "
          "| lost (W/M) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    busy = []
    for sid, e in results["scenarios"].items():
        scen = next(s for s in SCENARIOS if s[0] == sid)
        if "note" in e:
            print("| %s | %s | %s | %s | | %s%s | | | | | |" % (
                e["label"], e["unit"] or "-", e["note"], e["note"],
                ">=" if e["better"] == "hi" else "<=", e["target_ratio"]))
            continue
        for label, key in rows_for(sid, e):
            cell, med, cpu, gen, lost, other = {}, {}, {}, {}, {}, {}
            for kind in ("warden", "mosquitto"):
                ok = [r for r in e["runs"][kind] if "error" not in r]
                busy += [r.get("machine_busy_pct", 0) for r in ok]
                if not ok:
                    cell[kind], med[kind] = "failed", None
                    cpu[kind] = gen[kind] = lost[kind] = other[kind] = "-"
                    continue
                vals = [r[key] if key else metric(r, scen) for r in ok]
                m, lo, hi = summarize(vals)
                med[kind] = m
                nerr = len(e["runs"][kind]) - len(ok)
                u = "ratio" if key == "storm_ratio" else e["unit"]
                cell[kind] = "%s [%s-%s]%s" % (fmt(m, u), fmt(lo, u), fmt(hi, u),
                                               " (%d failed)" % nerr if nerr else "")
                bc = [r["broker_cpu"] for r in ok if "broker_cpu" in r]
                gc = [r["gen_cpu"] for r in ok if "gen_cpu" in r]
                cpu[kind] = "%.0f" % statistics.median(bc) if bc else "-"
                gen[kind] = "%.0f" % statistics.median(gc) if gc else "-"
                oc = [max(0.0, r["machine_cpu"] - r["broker_cpu"] - r["gen_cpu"])
                      for r in ok if "machine_cpu" in r]
                other[kind] = "%.0f" % statistics.median(oc) if oc else "-"
                lost[kind] = str(sum(r.get("lost", 0) + r.get("dups", 0)
                                     + r.get("closed_by_broker", 0) for r in ok))
            ratio = ("%.2f" % (med["warden"] / med["mosquitto"])
                     if med["warden"] is not None and med["mosquitto"] else "-")
            tgt = "%s%s" % (">=" if e["better"] == "hi" else "<=", e["target_ratio"])
            if key in ("p50_us", "p99_storm_us") or e["target_ratio"] is None:
                tgt = "-"
            elif sid == "auth_storm":
                tgt = "-" if key == "p99_us" else "Warden's own <= %s" % e["target_ratio"]
            unit = "ratio" if key == "storm_ratio" else e["unit"]
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s/%s | %s/%s | %s/%s |" % (
                label, unit, cell["warden"], cell["mosquitto"], ratio, tgt,
                cpu["warden"], cpu["mosquitto"], gen["warden"], gen["mosquitto"],
                other["warden"], other["mosquitto"], lost["warden"], lost["mosquitto"]))
    if results["relay"]:
        print("\nGenerator ceiling against tests/bench/relay.c (a trivial relay: no topic "
              "matching, forwards raw frames):")
        for sid, r in results["relay"].items():
            if not r["runs"]:
                print("  %-38s failed" % r["label"])
                continue
            if sid.startswith("lat_"):
                m, lo, hi = summarize([x["p99_us"] for x in r["runs"]])
                what = "p50 %s us, p99 %s [%s-%s] us, p99.9 %s us" % (
                    fmt(statistics.median([x["p50_us"] for x in r["runs"]]), "us"),
                    fmt(m, "us"), fmt(lo, "us"), fmt(hi, "us"),
                    fmt(statistics.median([x["p999_us"] for x in r["runs"]]), "us"))
            else:
                m, lo, hi = summarize([x["rate"] for x in r["runs"]])
                what = "%s [%s-%s] msgs/s" % (fmt(m, ""), fmt(lo, ""), fmt(hi, ""))
            print("  %-38s %s, relay CPU %.0f%%, gen CPU %.0f%%" % (
                r["label"], what,
                statistics.median([x["broker_cpu"] for x in r["runs"]]),
                statistics.median([x["gen_cpu"] for x in r["runs"]])))
    print("\nCPU% is of one core over the measuring window; \"other\" is what the rest of "
          "the machine used meanwhile (noise: should be near 0).")
    if busy:
        print("Whole-machine CPU busy over whole runs (both cores = 100%%): median %.0f%%, "
              "max %.0f%%" % (statistics.median(busy), max(busy)))
    m = results["machine"]
    print("Machine: %s, %d cores, %s, kernel %s; %s; %s; RLIMIT_NOFILE %s" % (
        m["cpu_model"], m["nproc"], m["os"], m["kernel"], m["warden_version"],
        m["mosquitto_version"], m["rlimit_nofile"][0]))


if __name__ == "__main__":
    main()
