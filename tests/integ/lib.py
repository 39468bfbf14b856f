"""Integration test harness for Warden (tests/integ/*.py).

Run test files with /usr/bin/python3 (Debian's python3-paho-mqtt 1.6.x, 1.x API).
Each file defines cases with @lib.case and ends with lib.run(). Output: one line
per case, `PASS name` or `FAIL name: reason` (and `SKIP name: reason` only when
a case calls lib.skip(), e.g. for Warden-only behaviour under BROKER=mosquitto);
exit status 1 if any case failed. `file.py NAME...` runs only the named cases.

Environment:
    WARDEN   broker binary (default <repo>/build/asan/warden)
    BROKER   "mosquitto" runs Debian's mosquitto instead (dev aid only; keys
             mosquitto lacks are dropped from the conf)
    VERBOSE  1 -> print tracebacks and broker logs of failed cases to stderr

Documented API (see libapi.md) plus these additions:
    lib.client(..., expect_rc=0, timeout=5): with connect=True waits for the
        CONNACK and asserts its reason code == expect_rc (None: don't check).
        Client.connack is Connack(rc, flags, props): rc int (raw byte from the
        wire), flags {'session present': 0|1}, props paho Properties (5.0) or
        None. Client.connack_props: [(id, value)] parsed from the wire.
        Client.session_present: 0|1.
        Client.pub() returns the PUBACK/PUBREC reason code (int) for QoS>0
        (0 for 3.1.x), None for QoS 0.
        Client.disconnect_rc: int (paho rc or 5.0 reason code) once
        .disconnected is set; Client.server_reason: reason code of a DISCONNECT
        packet received from the server (int) or None; .disconnect_props.
        Client.wait_disconnected(timeout) -> server_reason or disconnect_rc.
        Client.connect() for connect=False clients.
        Note: paho 1.6.1 ignores short DISCONNECT packets and the CONNACK
        Server Keep Alive; this lib patches both, so server_reason is reliable
        and clients ping at the server's keepalive.
    lib.Raw(b, timeout=3): .connect(client_id, version=4, expect_rc=0, **kw)
        sends CONNECT and returns the parsed CONNACK (rc, flags, props list).
        .recv_packet() returns (type, flags, body) with type the packet type
        number (1..15); None when the server closed the connection.
        .expect_packet(type, timeout) -> (type, flags, body) or AssertionError.
        .expect_closed(timeout) fails if a packet arrives first (use
        recv_packet to read the packets you expect before it).
    lib.parse_props(data): data starts with the property length varint (as on
        the wire); returns [(id, value)]. lib.read_props(data, off) ->
        (list, new_off). lib.props_dict(list) -> {id: value} (last wins;
        user properties as list of pairs under 0x26).
    lib.parse_connack(body) -> (flags, rc, props list or []) (props parsed
        when the body is longer than 2 bytes), lib.parse_publish(flags, body,
        version) -> dict(topic, payload, qos, retain, dup, pid, props),
        lib.parse_disconnect(body) -> (reason, props), lib.describe(pkt).
    Packet type constants CONNECT..AUTH; property id constants P_* .
    Broker: .rss_kb(), .pid, .is_mosquitto; Broker(conf=TEXT) may contain
        {port} and {store_dir} placeholders; Broker(expect_exit=N).
        .stop(sig, timeout, expect_exit=0): asserts exit code (None: any).
        Broker(argv=[...]) runs `warden ARGV` ({port} replaced) instead of
        `warden -c CONF --no-console`.
    lib.is_mosquitto(), lib.skip(reason), lib.warden_bin(),
    lib.run_warden(args, timeout=10, input=None) -> CompletedProcess (text).
"""

import atexit
import os
import queue
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import collections
import shutil

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCodes
from paho.mqtt.subscribeoptions import SubscribeOptions  # noqa: F401 (re-export)

HOST = "127.0.0.1"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASE_TIMEOUT = 50   # seconds; safety net per case (every wait has its own deadline)

SANITIZER_RE = re.compile(r"ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|"
                          r"ERROR: UndefinedBehaviorSanitizer|WARNING: ThreadSanitizer")

# packet types
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, \
    UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = range(1, 16)
PACKET_NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
                6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE",
                11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH"}

# property ids
P_PAYLOAD_FORMAT = 0x01
P_MESSAGE_EXPIRY = 0x02
P_CONTENT_TYPE = 0x03
P_RESPONSE_TOPIC = 0x08
P_CORRELATION_DATA = 0x09
P_SUBSCRIPTION_ID = 0x0B
P_SESSION_EXPIRY = 0x11
P_ASSIGNED_CLIENT_ID = 0x12
P_SERVER_KEEP_ALIVE = 0x13
P_AUTH_METHOD = 0x15
P_AUTH_DATA = 0x16
P_REQUEST_PROBLEM_INFO = 0x17
P_WILL_DELAY = 0x18
P_REQUEST_RESPONSE_INFO = 0x19
P_RESPONSE_INFO = 0x1A
P_SERVER_REFERENCE = 0x1C
P_REASON_STRING = 0x1F
P_RECEIVE_MAXIMUM = 0x21
P_TOPIC_ALIAS_MAXIMUM = 0x22
P_TOPIC_ALIAS = 0x23
P_MAXIMUM_QOS = 0x24
P_RETAIN_AVAILABLE = 0x25
P_USER_PROPERTY = 0x26
P_MAXIMUM_PACKET_SIZE = 0x27
P_WILDCARD_SUB_AVAILABLE = 0x28
P_SUB_ID_AVAILABLE = 0x29
P_SHARED_SUB_AVAILABLE = 0x2A

_PROP_TYPES = {
    0x01: "byte", 0x17: "byte", 0x19: "byte", 0x24: "byte", 0x25: "byte", 0x28: "byte",
    0x29: "byte", 0x2A: "byte",
    0x13: "u16", 0x21: "u16", 0x22: "u16", 0x23: "u16",
    0x02: "u32", 0x11: "u32", 0x18: "u32", 0x27: "u32",
    0x0B: "varint",
    0x03: "str", 0x08: "str", 0x12: "str", 0x15: "str", 0x1A: "str", 0x1C: "str", 0x1F: "str",
    0x09: "bin", 0x16: "bin",
    0x26: "pair",
}


class Skip(Exception):
    pass


def skip(reason):
    raise Skip(reason)


def is_mosquitto():
    return os.environ.get("BROKER", "") == "mosquitto"


def warden_bin():
    return os.environ.get("WARDEN") or os.path.join(REPO, "build", "asan", "warden")


def run_warden(args, timeout=10, input=None, env=None):
    """Run the warden binary with args (list), return CompletedProcess (text mode)."""
    return subprocess.run([warden_bin()] + list(args), capture_output=True, text=True,
                          timeout=timeout, input=input if input is not None else "",
                          env=env)


# ---------------------------------------------------------------- cases

_cases = []


def case(fn):
    _cases.append(fn)
    return fn


class _CaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise _CaseTimeout("case exceeded %d s (safety net)" % CASE_TIMEOUT)


def _where(tb):
    """file:line of the innermost frame in a test file (not lib.py)."""
    here = os.path.abspath(__file__)
    loc = None
    for fs in traceback.extract_tb(tb):
        if os.path.abspath(fs.filename) != here and "/paho/" not in fs.filename:
            loc = "%s:%d" % (os.path.basename(fs.filename), fs.lineno)
    return loc


def run():
    names = sys.argv[1:]
    selected = [c for c in _cases if not names or c.__name__ in names]
    failed = 0
    signal.signal(signal.SIGALRM, _alarm)
    for fn in selected:
        t0 = time.monotonic()
        signal.alarm(CASE_TIMEOUT)
        try:
            fn()
            signal.alarm(0)
            print("PASS %s" % fn.__name__, flush=True)
        except Skip as e:
            signal.alarm(0)
            print("SKIP %s: %s" % (fn.__name__, e), flush=True)
        except BaseException as e:  # noqa: B902 - report everything, keep going
            signal.alarm(0)
            if isinstance(e, KeyboardInterrupt):
                raise
            failed += 1
            msg = str(e) if isinstance(e, AssertionError) else "%s: %s" % (type(e).__name__, e)
            msg = " ".join(msg.split()) or "assertion failed"
            loc = _where(e.__traceback__)
            if loc:
                msg += " (%s)" % loc
            print("FAIL %s: %s" % (fn.__name__, msg), flush=True)
            if os.environ.get("VERBOSE"):
                traceback.print_exc()
        finally:
            signal.alarm(0)
            if os.environ.get("VERBOSE"):
                sys.stderr.write("  [%s took %.2fs]\n" % (fn.__name__, time.monotonic() - t0))
    sys.exit(1 if failed else 0)


# ---------------------------------------------------------------- utilities

def cli(b, *args, input=None, ok=True, timeout=30):
    """Run `warden ARGS --store DIR` on broker b's store (while it runs); with ok,
    assert it succeeded. Returns the CompletedProcess."""
    r = run_warden(list(args) + ["--store", b.store_dir], input=input, timeout=timeout)
    if ok:
        assert r.returncode == 0, "warden %s: exit %d: %s%s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr)
    return r


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=5, interval=0.02, msg=None):
    """Poll pred() until it returns a true value (returned) or timeout -> AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(msg or "condition not met within %.1fs" % timeout)
        time.sleep(interval)


# ---------------------------------------------------------------- broker

_MOSQ_DROP = {"store_dir", "log_level", "log_dest", "connect_timeout", "max_topic_length",
              "max_topic_levels", "max_subscriptions_per_client", "anonymous_default"}
_MOSQ_RENAME = {"topic_alias_maximum": "max_topic_alias"}


def _mosquitto_conf(text):
    out = []
    for line in text.splitlines():
        w = line.split(None, 1)
        if not w or w[0].startswith("#"):
            out.append(line)
            continue
        if w[0] in _MOSQ_DROP:
            out.append("# (dropped for mosquitto) " + line)
            continue
        if w[0] in _MOSQ_RENAME:
            line = _MOSQ_RENAME[w[0]] + " " + (w[1] if len(w) > 1 else "")
        out.append(line)
    out.append("log_dest stderr")
    out.append("log_type all")
    return "\n".join(out) + "\n"


_seed_dir = None


def _seed_store(store_dir):
    """Give a test broker's store rules that allow every client everything
    (role default: all on '#' and subscribe/receive on '$SYS/#'), so that tests
    of other features are not about permissions. Made once per process with
    the real CLI, then copied."""
    global _seed_dir
    if _seed_dir is None:
        d = tempfile.mkdtemp(prefix="warden-seed-")
        for rule in (["allow", "all", "#"], ["allow", "subscribe,receive", "$SYS/#"]):
            r = run_warden(["role", "rule", "add", "default"] + rule + ["--store", d])
            assert r.returncode == 0, "seeding the store: %s" % r.stderr
        atexit.register(shutil.rmtree, d, True)
        _seed_dir = d
    shutil.copy(os.path.join(_seed_dir, "data.mdb"), os.path.join(store_dir, "data.mdb"))


class Broker:
    def __init__(self, extra="", conf=None, args=(), anonymous=True, expect_exit=0,
                 port=None, wait=True, timeout=10, argv=None, open_rules=True):
        self.host = HOST
        self.port = port or free_port()
        self.is_mosquitto = is_mosquitto()
        self.dir = tempfile.mkdtemp(prefix="warden-integ-")
        self.store_dir = os.path.join(self.dir, "store")
        os.mkdir(self.store_dir)
        self.conf_path = os.path.join(self.dir, "warden.conf")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.expect_exit = expect_exit
        self.exit_code = None
        self.clients = []
        self._stopped = False
        if conf is None:
            conf = ("listener {port} 127.0.0.1\n"
                    "allow_anonymous %s\n"
                    "store_dir {store_dir}\n" % ("true" if anonymous else "false"))
            if anonymous and open_rules:
                conf += "anonymous_default allow\n"
            conf += extra
        if open_rules and not self.is_mosquitto:
            _seed_store(self.store_dir)
        # A free port can be taken by someone else before the broker binds it:
        # when that happens and the port was ours to choose, try another.
        for attempt in range(3):
            try:
                self._start(conf, args, argv, wait, timeout)
                return
            except AssertionError:
                if port or attempt == 2 or "Address already in use" not in self.log():
                    if not os.environ.get("KEEP_TMP"):
                        shutil.rmtree(self.dir, ignore_errors=True)
                    raise
                self.port = free_port()

    def _start(self, conf, args, argv, wait, timeout):
        conf = conf.replace("{port}", str(self.port)).replace("{store_dir}", self.store_dir)
        self.write_conf(conf)
        env = dict(os.environ)
        if self.is_mosquitto:
            cmd = ["mosquitto", "-c", self.conf_path] + list(args)
        else:
            cmd = [warden_bin(), "-c", self.conf_path, "--no-console"] + list(args)
            if argv is not None:   # replaces "-c CONF --no-console ARGS"
                cmd = [warden_bin()] + [a.replace("{port}", str(self.port)) for a in argv]
            if not os.path.exists(cmd[0]):
                raise AssertionError("broker binary %s does not exist" % cmd[0])
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._err,
                                     stderr=self._err, env=env, cwd=self.dir)
        self.pid = self.proc.pid
        if wait:
            try:
                self.wait_ready(timeout)
            except BaseException:
                self._kill()
                raise

    def write_conf(self, text):
        if self.is_mosquitto:
            text = _mosquitto_conf(text)
        with open(self.conf_path, "w") as f:
            f.write(text)

    def wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        pat = re.compile(r"listening on 127\.0\.0\.1:%d\b" % self.port)
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("broker exited with %s before listening; log: %s"
                                     % (self.proc.returncode, self._tail()))
            if self.is_mosquitto:
                try:
                    socket.create_connection((HOST, self.port), timeout=0.5).close()
                    return
                except OSError:
                    pass
            elif pat.search(self.log()):
                return
            if time.monotonic() >= deadline:
                raise AssertionError("broker not listening on port %d within %ds; log: %s"
                                     % (self.port, timeout, self._tail()))
            time.sleep(0.02)

    def log(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _tail(self, n=600):
        t = self.log()
        return t[-n:]

    def wait_log(self, regex, timeout=5):
        r = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            m = r.search(self.log())
            if m:
                return m
            if time.monotonic() >= deadline:
                raise AssertionError("log line /%s/ not seen within %ss; log tail: %s"
                                     % (regex, timeout, self._tail()))
            time.sleep(0.02)

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def sanitizer_report(self):
        m = SANITIZER_RE.search(self.log())
        if not m:
            return None
        t = self.log()
        return t[max(0, m.start() - 100):m.start() + 700]

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._err.close()

    def stop(self, sig=signal.SIGTERM, timeout=10, expect_exit="default"):
        if expect_exit == "default":
            expect_exit = self.expect_exit
        if not self._stopped:
            self._stopped = True
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._kill()
                    self._err.close()
                    raise AssertionError("broker did not exit within %ss after signal %d"
                                         % (timeout, sig))
            self.exit_code = self.proc.returncode
            self._err.close()
            rep = self.sanitizer_report()
            if rep:
                raise AssertionError("sanitizer report in broker stderr: %s" % rep)
            if expect_exit is not None and self.exit_code != expect_exit:
                raise AssertionError("broker exit code %s, expected %s; log: %s"
                                     % (self.exit_code, expect_exit, self._tail()))
        return self.exit_code

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        err = None
        try:
            self.stop()
        except AssertionError as e:
            err = e
        finally:
            for c in self.clients:
                try:
                    c._stop_loop()
                except Exception:
                    pass
            if os.environ.get("VERBOSE") and (et or err):
                sys.stderr.write("---- broker log (%s) ----\n%s\n" % (self.conf_path, self._tail(4000)))
            if not os.environ.get("KEEP_TMP"):
                shutil.rmtree(self.dir, ignore_errors=True)
        if err is not None:
            if ev is not None:
                raise AssertionError("%s; and at shutdown: %s" % (ev, err))
            raise err
        return False


# ---------------------------------------------------------------- paho client

Connack = collections.namedtuple("Connack", "rc flags props")
_VERSIONS = {5: mqtt.MQTTv5, 4: mqtt.MQTTv311, 3: mqtt.MQTTv31}


class _Paho(mqtt.Client):
    """paho Client with fixes: short DISCONNECT packets, raw CONNACK and ack reason codes."""
    _w = None

    def _handle_connack(self):
        if self._w is not None:
            self._w._raw_connack(bytes(self._in_packet['packet']))
        return super()._handle_connack()

    def _handle_disconnect(self):
        pkt = bytes(self._in_packet['packet'])
        reason = pkt[0] if pkt else 0
        props = None
        if len(pkt) > 1:
            props = Properties(PacketTypes.DISCONNECT)
            try:
                props.unpack(pkt[1:])
            except Exception:
                props = None
        if self._w is not None:
            self._w.server_reason = reason
            self._w.disconnect_props = props
        try:
            rc = ReasonCodes(PacketTypes.DISCONNECT, identifier=reason)
        except Exception:
            rc = ReasonCodes(PacketTypes.DISCONNECT, identifier=0x80)
        self._loop_rc_handle(rc, props)
        return mqtt.MQTT_ERR_SUCCESS

    def _record_ack(self):
        pkt = bytes(self._in_packet['packet'])
        if self._w is not None and len(pkt) >= 2:
            mid = struct.unpack("!H", pkt[:2])[0]
            self._w._acks[mid] = pkt[2] if len(pkt) > 2 else 0

    def _handle_pubackcomp(self, cmd):
        if cmd == "PUBACK":
            self._record_ack()
        return super()._handle_pubackcomp(cmd)

    def _handle_pubrec(self):
        self._record_ack()
        return super()._handle_pubrec()


class Client:
    def __init__(self, b, client_id, version=5, clean=True, keepalive=60, props=None,
                 will=None, username=None, password=None):
        self.broker = b
        self.client_id = client_id
        self.version = version
        self.clean = clean
        self.keepalive = keepalive
        self.connect_props = props
        self.msgs = queue.Queue()
        self.connack = None
        self.connack_props = []
        self.session_present = None
        self.disconnected = threading.Event()
        self.disconnect_rc = None
        self.server_reason = None
        self.disconnect_props = None
        self._connacked = threading.Event()
        self._acks = {}
        self._subacks = {}
        self._unsubacks = {}
        self._stop = threading.Event()
        self._thread = None
        proto = _VERSIONS[version]
        if version == 5:
            c = _Paho(client_id=client_id, protocol=proto, reconnect_on_failure=False)
        else:
            c = _Paho(client_id=client_id, clean_session=clean, protocol=proto,
                      reconnect_on_failure=False)
        c._w = self
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_disconnect = self._on_disconnect
        c.on_subscribe = self._on_subscribe
        c.on_unsubscribe = self._on_unsubscribe
        if will:
            wp = will.get("props")
            if isinstance(wp, dict):
                wp = make_props(PacketTypes.WILLMESSAGE, wp)
            c.will_set(will["topic"], will.get("payload", b""), will.get("qos", 0),
                       will.get("retain", False), properties=wp)
        if username is not None:
            c.username_pw_set(username, password)
        self.c = c
        b.clients.append(self)

    # callbacks
    def _raw_connack(self, pkt):
        flags, rc, props = parse_connack(pkt)
        self.connack_props = props
        self.session_present = flags & 1
        ska = props_dict(props).get(P_SERVER_KEEP_ALIVE) if props else None
        if ska is not None:   # paho 1.6.1 ignores Server Keep Alive; honour it
            self.c._keepalive = ska
        self._raw = (flags, rc)

    def _on_connect(self, client, userdata, flags, rc, props=None):
        raw_flags, raw_rc = self._raw
        self.connack = Connack(raw_rc, {"session present": raw_flags & 1}, props)
        self._connacked.set()

    def _on_message(self, client, userdata, msg):
        self.msgs.put(msg)

    def _on_disconnect(self, client, userdata, rc, props=None):
        self.disconnect_rc = rc.value if hasattr(rc, "value") else int(rc)
        if props is not None and self.disconnect_props is None:
            self.disconnect_props = props
        self.disconnected.set()
        self._stop.set()

    def _on_subscribe(self, client, userdata, mid, granted, props=None):
        self._subacks[mid] = [g.value if hasattr(g, "value") else int(g) for g in granted]

    def _on_unsubscribe(self, client, userdata, mid, props=None, codes=None):
        if codes is None:
            codes = []
        elif not isinstance(codes, list):
            codes = [codes]
        self._unsubacks[mid] = [g.value if hasattr(g, "value") else int(g) for g in codes]

    # loop
    def _loop(self):
        try:
            while not self._stop.is_set():
                rc = self.c.loop(0.05)
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    break
        finally:
            if not self.disconnected.is_set() and not self._stop.is_set():
                self.disconnect_rc = -1
                self.disconnected.set()

    def _stop_loop(self):
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2)

    def connect(self, expect_rc=0, timeout=5):
        self._connacked.clear()
        self._raw = (0, None)
        kw = {}
        if self.version == 5:
            kw["clean_start"] = self.clean
            p = self.connect_props
            if isinstance(p, dict):
                p = make_props(PacketTypes.CONNECT, p)
            if p is not None:
                kw["properties"] = p
        self.c.connect(HOST, self.broker.port, self.keepalive, **kw)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.c._thread = self._thread   # paho: queue writes for our loop thread
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._connacked.is_set():
            if self._raw[1] is not None and self.disconnected.is_set():
                break   # refused CONNACK (paho skips on_connect for some codes)
            if self.disconnected.is_set() and self._raw[1] is None:
                raise AssertionError("%s: connection closed without CONNACK" % self.client_id)
            if time.monotonic() >= deadline:
                raise AssertionError("%s: no CONNACK within %ss" % (self.client_id, timeout))
            time.sleep(0.01)
        if self.connack is None or not self._connacked.is_set():
            flags, rc = self._raw
            self.connack = Connack(rc, {"session present": flags & 1}, None)
        if expect_rc is not None and self.connack.rc != expect_rc:
            raise AssertionError("%s: CONNACK reason 0x%02x, expected 0x%02x"
                                 % (self.client_id, self.connack.rc, expect_rc))
        return self.connack

    def sub(self, filt, qos=0, props=None, options=None, timeout=5):
        if isinstance(props, dict):
            props = make_props(PacketTypes.SUBSCRIBE, props)
        if isinstance(filt, (list, tuple)):
            rc, mid = self.c.subscribe(list(filt), properties=props)
        elif options is not None:
            rc, mid = self.c.subscribe(filt, options=options, properties=props)
        else:
            rc, mid = self.c.subscribe(filt, qos, properties=props)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise AssertionError("%s: subscribe(%r) failed locally rc=%s" % (self.client_id, filt, rc))
        wait_until(lambda: mid in self._subacks or self.disconnected.is_set(), timeout,
                   msg="%s: no SUBACK for %r within %ss" % (self.client_id, filt, timeout))
        if mid not in self._subacks:
            raise AssertionError("%s: disconnected (rc %s) instead of SUBACK for %r"
                                 % (self.client_id, self.server_reason or self.disconnect_rc, filt))
        return self._subacks.pop(mid)

    def unsub(self, filt, props=None, timeout=5):
        if isinstance(props, dict):
            props = make_props(PacketTypes.UNSUBSCRIBE, props)
        rc, mid = self.c.unsubscribe(filt, properties=props)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise AssertionError("%s: unsubscribe failed locally rc=%s" % (self.client_id, rc))
        wait_until(lambda: mid in self._unsubacks or self.disconnected.is_set(), timeout,
                   msg="%s: no UNSUBACK within %ss" % (self.client_id, timeout))
        if mid not in self._unsubacks:
            raise AssertionError("%s: disconnected instead of UNSUBACK" % self.client_id)
        return self._unsubacks.pop(mid)

    def pub(self, topic, payload, qos=0, retain=False, props=None, timeout=5):
        if isinstance(props, dict):
            props = make_props(PacketTypes.PUBLISH, props)
        info = self.c.publish(topic, payload, qos, retain, properties=props)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise AssertionError("%s: publish to %r failed locally rc=%s"
                                 % (self.client_id, topic, info.rc))
        if qos == 0:
            # wait until paho has written it to the socket
            wait_until(lambda: not self.c._out_packet or self.disconnected.is_set(), timeout,
                       msg="%s: QoS 0 publish not sent within %ss" % (self.client_id, timeout))
            return None
        wait_until(lambda: info.is_published() or self.disconnected.is_set(), timeout,
                   msg="%s: QoS %d publish to %r not acknowledged within %ss"
                   % (self.client_id, qos, topic, timeout))
        if not info.is_published():
            raise AssertionError("%s: disconnected (reason %s) before QoS %d publish completed"
                                 % (self.client_id, self.server_reason or self.disconnect_rc, qos))
        return self._acks.get(info.mid, 0)

    def expect(self, timeout=3):
        try:
            return self.msgs.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("%s: expected a message within %ss, none came"
                                 % (self.client_id, timeout)) from None

    def expect_none(self, timeout=1):
        try:
            m = self.msgs.get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError("%s: expected no message, got topic=%r payload=%r qos=%d retain=%d"
                             % (self.client_id, m.topic, m.payload[:60], m.qos, m.retain))

    def wait_disconnected(self, timeout=5):
        if not self.disconnected.wait(timeout):
            raise AssertionError("%s: still connected after %ss" % (self.client_id, timeout))
        return self.server_reason if self.server_reason is not None else self.disconnect_rc

    def disconnect(self, reason=None, props=None, timeout=5):
        rc = None
        if reason is not None:
            rc = ReasonCodes(PacketTypes.DISCONNECT, identifier=reason)
        if isinstance(props, dict):
            props = make_props(PacketTypes.DISCONNECT, props)
        self.c.disconnect(reasoncode=rc, properties=props)
        self.disconnected.wait(timeout)
        self._stop_loop()

    def close(self):
        """Drop the TCP connection without DISCONNECT."""
        self._stop_loop()
        s = self.c.socket()
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
            self.c._sock = None


def client(b, client_id, version=5, clean=True, keepalive=60, props=None, will=None,
           username=None, password=None, connect=True, expect_rc=0, timeout=5):
    c = Client(b, client_id, version=version, clean=clean, keepalive=keepalive, props=props,
               will=will, username=username, password=password)
    if connect:
        c.connect(expect_rc=expect_rc, timeout=timeout)
    return c


_PAHO_PROP_NAMES = {
    P_SESSION_EXPIRY: "SessionExpiryInterval", P_WILL_DELAY: "WillDelayInterval",
    P_MESSAGE_EXPIRY: "MessageExpiryInterval", P_RECEIVE_MAXIMUM: "ReceiveMaximum",
    P_TOPIC_ALIAS_MAXIMUM: "TopicAliasMaximum", P_MAXIMUM_PACKET_SIZE: "MaximumPacketSize",
    P_PAYLOAD_FORMAT: "PayloadFormatIndicator", P_CONTENT_TYPE: "ContentType",
    P_RESPONSE_TOPIC: "ResponseTopic", P_CORRELATION_DATA: "CorrelationData",
    P_SUBSCRIPTION_ID: "SubscriptionIdentifier", P_TOPIC_ALIAS: "TopicAlias",
    P_USER_PROPERTY: "UserProperty", P_REQUEST_PROBLEM_INFO: "RequestProblemInformation",
    P_REQUEST_RESPONSE_INFO: "RequestResponseInformation", P_REASON_STRING: "ReasonString",
}


def make_props(ptype, d):
    """paho Properties from {name_or_id: value} (e.g. {"SessionExpiryInterval": 10})."""
    p = Properties(ptype)
    for k, v in d.items():
        if isinstance(k, int):
            k = _PAHO_PROP_NAMES[k]
        setattr(p, k, v)
    return p


# ---------------------------------------------------------------- raw packets

def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(data, off=0):
    mult, val = 1, 0
    for i in range(4):
        if off >= len(data):
            raise ValueError("truncated varint")
        b = data[off]
        off += 1
        val += (b & 0x7F) * mult
        if not b & 0x80:
            return val, off
        mult *= 128
    raise ValueError("varint longer than 4 bytes")


def mqtt_str(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return struct.pack("!H", len(s)) + s


def pkt(ptype, flags, body):
    return bytes([(ptype << 4) | (flags & 0x0F)]) + varint(len(body)) + bytes(body)


def prop(pid, value):
    t = _PROP_TYPES[pid]
    head = varint(pid)
    if t == "byte":
        return head + bytes([value])
    if t == "u16":
        return head + struct.pack("!H", value)
    if t == "u32":
        return head + struct.pack("!I", value)
    if t == "varint":
        return head + varint(value)
    if t in ("str", "bin"):
        return head + mqtt_str(value)
    if t == "pair":
        return head + mqtt_str(value[0]) + mqtt_str(value[1])
    raise ValueError(pid)


def _props_section(props):
    props = bytes(props)
    return varint(len(props)) + props


def read_props(data, off=0):
    n, off = read_varint(data, off)
    end = off + n
    out = []
    while off < end:
        pid, off = read_varint(data, off)
        t = _PROP_TYPES.get(pid)
        if t == "byte":
            out.append((pid, data[off])); off += 1
        elif t == "u16":
            out.append((pid, struct.unpack("!H", data[off:off + 2])[0])); off += 2
        elif t == "u32":
            out.append((pid, struct.unpack("!I", data[off:off + 4])[0])); off += 4
        elif t == "varint":
            v, off = read_varint(data, off); out.append((pid, v))
        elif t in ("str", "bin"):
            ln = struct.unpack("!H", data[off:off + 2])[0]
            v = bytes(data[off + 2:off + 2 + ln]); off += 2 + ln
            out.append((pid, v.decode("utf-8", "replace") if t == "str" else v))
        elif t == "pair":
            ln = struct.unpack("!H", data[off:off + 2])[0]
            k = bytes(data[off + 2:off + 2 + ln]).decode("utf-8", "replace"); off += 2 + ln
            ln = struct.unpack("!H", data[off:off + 2])[0]
            v = bytes(data[off + 2:off + 2 + ln]).decode("utf-8", "replace"); off += 2 + ln
            out.append((pid, (k, v)))
        else:
            raise ValueError("unknown property id 0x%02x" % pid)
    if off != end:
        raise ValueError("property section overrun")
    return out, end


def parse_props(data):
    return read_props(data, 0)[0]


def props_dict(plist):
    d = {}
    for k, v in plist:
        if k == P_USER_PROPERTY:
            d.setdefault(k, []).append(v)
        else:
            d[k] = v
    return d


def pkt_connect(client_id, version=4, keepalive=60, clean=True, props=b"", will=None,
                username=None, password=None):
    name = b"MQIsdp" if version == 3 else b"MQTT"
    flags = 0x02 if clean else 0
    payload = mqtt_str(client_id)
    if will:
        flags |= 0x04 | ((will.get("qos", 0) & 3) << 3) | (0x20 if will.get("retain") else 0)
        if version == 5:
            payload += _props_section(will.get("props", b""))
        payload += mqtt_str(will["topic"]) + mqtt_str(will.get("payload", b""))
    if username is not None:
        flags |= 0x80
        payload += mqtt_str(username)
    if password is not None:
        flags |= 0x40
        payload += mqtt_str(password)
    vh = mqtt_str(name) + bytes([version, flags]) + struct.pack("!H", keepalive)
    if version == 5:
        vh += _props_section(props)
    return pkt(CONNECT, 0, vh + payload)


def pkt_publish(topic, payload, qos=0, pid=None, retain=False, dup=False, props=b"", version=4):
    flags = (qos << 1) | (1 if retain else 0) | (8 if dup else 0)
    body = mqtt_str(topic)
    if qos > 0:
        body += struct.pack("!H", 1 if pid is None else pid)
    if version == 5:
        body += _props_section(props)
    if isinstance(payload, str):
        payload = payload.encode()
    return pkt(PUBLISH, flags, body + payload)


def pkt_subscribe(pid, subs, props=b"", version=4):
    body = struct.pack("!H", pid)
    if version == 5:
        body += _props_section(props)
    for filt, opts in subs:
        body += mqtt_str(filt) + bytes([opts])
    return pkt(SUBSCRIBE, 2, body)


def pkt_ack(ptype, pid, reason=None, version=4):
    """PUBACK/PUBREC/PUBREL/PUBCOMP (PUBREL gets flags 2)."""
    body = struct.pack("!H", pid)
    if version == 5 and reason is not None:
        body += bytes([reason])
    return pkt(ptype, 2 if ptype == PUBREL else 0, body)


def pkt_disconnect(reason=None, props=b"", version=4):
    body = b""
    if version == 5 and (reason is not None or props):
        body = bytes([reason or 0])
        if props:
            body += _props_section(props)
    return pkt(DISCONNECT, 0, body)


def parse_connack(body):
    flags, rc = body[0], body[1]
    props = parse_props(body[2:]) if len(body) > 2 else []
    return flags, rc, props


def parse_publish(flags, body, version=4):
    qos = (flags >> 1) & 3
    tl = struct.unpack("!H", body[:2])[0]
    topic = bytes(body[2:2 + tl]).decode("utf-8", "replace")
    off = 2 + tl
    pid = None
    if qos > 0:
        pid = struct.unpack("!H", body[off:off + 2])[0]
        off += 2
    props = []
    if version == 5:
        props, off = read_props(body, off)
    return {"topic": topic, "payload": bytes(body[off:]), "qos": qos, "retain": flags & 1,
            "dup": (flags >> 3) & 1, "pid": pid, "props": props}


def parse_disconnect(body):
    reason = body[0] if body else 0
    props = parse_props(body[1:]) if len(body) > 1 else []
    return reason, props


def describe(p):
    if p is None:
        return "connection closed"
    t, f, body = p
    name = PACKET_NAMES.get(t, "type%d" % t)
    if t in (CONNACK,) and len(body) >= 2:
        return "%s flags=0x%02x rc=0x%02x" % (name, body[0], body[1])
    if t in (DISCONNECT, AUTH):
        return "%s reason=0x%02x" % (name, body[0] if body else 0)
    if t in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        return "%s pid=%d reason=0x%02x" % (name, struct.unpack("!H", body[:2])[0],
                                             body[2] if len(body) > 2 else 0)
    return "%s flags=0x%x len=%d body=%r" % (name, f, len(body), bytes(body[:40]))


class Raw:
    def __init__(self, b, timeout=3):
        self.broker = b
        self.sock = socket.create_connection((HOST, b.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False

    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False   # server may already have closed; the test checks what it saw

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        r, _, _ = select.select([self.sock], [], [], remaining)
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, OSError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _try_parse(self):
        if len(self.buf) < 2:
            return None
        try:
            n, off = read_varint(self.buf, 1)
        except ValueError as e:
            if "truncated" in str(e):
                return None
            raise AssertionError("server sent a malformed remaining length: %r" % self.buf[:8])
        if len(self.buf) < off + n:
            return None
        h = self.buf[0]
        body = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return (h >> 4, h & 0x0F, body)

    def recv_packet(self, timeout=3):
        """Next packet (type, flags, body); None if the server closed; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            p = self._try_parse()
            if p is not None:
                return p
            if self.eof:
                return None
            if not self._fill(deadline) and not self.eof:
                raise AssertionError("no packet and no close within %ss" % timeout)

    def expect_packet(self, ptype, timeout=3):
        p = self.recv_packet(timeout)
        if p is None or p[0] != ptype:
            raise AssertionError("expected %s, got %s" % (PACKET_NAMES[ptype], describe(p)))
        return p

    def expect_closed(self, timeout=3):
        deadline = time.monotonic() + timeout
        while True:
            p = self._try_parse()
            if p is not None:
                raise AssertionError("expected the connection to be closed, got %s" % describe(p))
            if self.eof:
                return True
            if not self._fill(deadline) and not self.eof:
                raise AssertionError("connection still open after %ss" % timeout)

    def connect(self, client_id, version=4, expect_rc=0, timeout=3, **kw):
        self.version = version
        self.send(pkt_connect(client_id, version=version, **kw))
        p = self.recv_packet(timeout)
        if p is None or p[0] != CONNACK:
            raise AssertionError("%s: expected CONNACK, got %s" % (client_id, describe(p)))
        flags, rc, props = parse_connack(p[2])
        if expect_rc is not None and rc != expect_rc:
            raise AssertionError("%s: CONNACK rc 0x%02x, expected 0x%02x" % (client_id, rc, expect_rc))
        return flags, rc, props

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- mosquitto clients

def _mosq(prog, b, args, timeout):
    cmd = [prog, "-h", b.host, "-p", str(b.port)] + [str(a) for a in args]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s did not finish within %ss" % (" ".join(cmd), timeout)) from e


def mosq_pub(b, *args, timeout=10):
    return _mosq("mosquitto_pub", b, args, timeout)


def mosq_sub(b, *args, timeout=10):
    args = [str(a) for a in args]
    if "-W" not in args:
        args = ["-W", str(max(1, int(timeout) - 1))] + args
    return _mosq("mosquitto_sub", b, args, timeout)


def mosq_sub_bg(b, *args):
    """Start mosquitto_sub in the background (must include -C and/or -W). Returns Popen;
    caller collects it with .communicate(timeout=...)."""
    args = [str(a) for a in args]
    if "-W" not in args:
        args = ["-W", "10"] + args
    return subprocess.Popen(["mosquitto_sub", "-h", b.host, "-p", str(b.port)] + args,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
