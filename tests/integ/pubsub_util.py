"""Helpers shared by the pub/sub, QoS and retain integration tests.

Raw MQTT packet builders and parsers, written out here so the raw tests do not
depend on how lib.py frames properties; lib.Raw is used only as the transport
(send bytes, receive one packet as (type, flags, body)).  Plus small helpers to
normalise paho's reason codes and to collect messages with a deadline.
"""
import os
import struct
import time

import lib

# Packet types.
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT, AUTH = 12, 13, 14, 15

# Property identifiers (MQTT 5.0 section 2.2.2.2).
PFI = 0x01              # Payload Format Indicator (byte)
EXPIRY = 0x02           # Message Expiry Interval (u32)
CONTENT_TYPE = 0x03     # utf8
RESPONSE_TOPIC = 0x08   # utf8
CORRELATION = 0x09      # binary
SUB_ID = 0x0B           # varint
SESSION_EXPIRY = 0x11   # u32
ASSIGNED_ID = 0x12      # utf8
SERVER_KEEPALIVE = 0x13  # u16
REQ_PROBLEM = 0x17      # byte
REASON_STRING = 0x1F    # utf8
RECEIVE_MAX = 0x21      # u16
TOPIC_ALIAS_MAX = 0x22  # u16
TOPIC_ALIAS = 0x23      # u16
MAX_QOS = 0x24          # byte
RETAIN_AVAIL = 0x25     # byte
USER_PROP = 0x26        # utf8 pair
MAX_PACKET = 0x27       # u32
WILDCARD_AVAIL = 0x28   # byte
SUBID_AVAIL = 0x29      # byte
SHARED_AVAIL = 0x2A     # byte

_BYTE = {PFI, REQ_PROBLEM, MAX_QOS, RETAIN_AVAIL, WILDCARD_AVAIL, SUBID_AVAIL,
         SHARED_AVAIL, 0x19, 0x24}
_U16 = {SERVER_KEEPALIVE, RECEIVE_MAX, TOPIC_ALIAS_MAX, TOPIC_ALIAS}
_U32 = {EXPIRY, SESSION_EXPIRY, MAX_PACKET, 0x18}
_VARINT = {SUB_ID}
_BINARY = {CORRELATION, 0x16}
_PAIR = {USER_PROP}
# everything else is a UTF-8 string


def is_mosquitto():
    return os.environ.get("BROKER") == "mosquitto"


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


def utf8(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">H", len(s)) + s


def prop(pid, value):
    """Encode one property (identifier + value)."""
    if pid in _BYTE:
        v = struct.pack("B", value)
    elif pid in _U16:
        v = struct.pack(">H", value)
    elif pid in _U32:
        v = struct.pack(">I", value)
    elif pid in _VARINT:
        v = varint(value)
    elif pid in _PAIR:
        v = utf8(value[0]) + utf8(value[1])
    else:  # UTF-8 string or binary data: both are 2-byte length + bytes
        v = utf8(value)
    return varint(pid) + v


def props_block(props):
    """props: bytes (already encoded properties) or list of (id, value)."""
    if not isinstance(props, (bytes, bytearray)):
        props = b"".join(prop(i, v) for i, v in props)
    return varint(len(props)) + bytes(props)


def packet(ptype, flags, body):
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + body


def decode_varint(buf, pos):
    mult, val = 1, 0
    for _ in range(4):
        b = buf[pos]
        pos += 1
        val += (b & 0x7F) * mult
        if not b & 0x80:
            return val, pos
        mult *= 128
    raise ValueError("malformed varint")


def parse_props(buf, pos):
    """Parse a property block at buf[pos:] -> (list of (id, value), new pos)."""
    plen, pos = decode_varint(buf, pos)
    end = pos + plen
    out = []
    while pos < end:
        pid, pos = decode_varint(buf, pos)
        if pid in _BYTE:
            v = buf[pos]
            pos += 1
        elif pid in _U16:
            v = struct.unpack_from(">H", buf, pos)[0]
            pos += 2
        elif pid in _U32:
            v = struct.unpack_from(">I", buf, pos)[0]
            pos += 4
        elif pid in _VARINT:
            v, pos = decode_varint(buf, pos)
        elif pid in _PAIR:
            n = struct.unpack_from(">H", buf, pos)[0]
            k = bytes(buf[pos + 2:pos + 2 + n])
            pos += 2 + n
            n = struct.unpack_from(">H", buf, pos)[0]
            v = (k, bytes(buf[pos + 2:pos + 2 + n]))
            pos += 2 + n
        else:
            n = struct.unpack_from(">H", buf, pos)[0]
            v = bytes(buf[pos + 2:pos + 2 + n])
            pos += 2 + n
        out.append((pid, v))
    if pos != end:
        raise ValueError("property block overran its length")
    return out, end


def getprop(props, pid, default=None):
    for i, v in props:
        if i == pid:
            return v
    return default


# ---- builders -------------------------------------------------------------

def connect(client_id, version=5, clean=True, keepalive=60, props=()):
    name = b"MQIsdp" if version == 3 else b"MQTT"
    flags = 0x02 if clean else 0
    body = utf8(name) + bytes([version, flags]) + struct.pack(">H", keepalive)
    if version == 5:
        body += props_block(props)
    body += utf8(client_id)
    return packet(CONNECT, 0, body)


def publish(topic, payload, qos=0, pid=None, retain=False, dup=False,
            props=(), version=5):
    flags = (qos << 1) | (1 if retain else 0) | (8 if dup else 0)
    body = utf8(topic)
    if qos:
        body += struct.pack(">H", pid)
    if version == 5:
        body += props_block(props)
    if isinstance(payload, str):
        payload = payload.encode()
    return packet(PUBLISH, flags, body + payload)


def ack(ptype, pid, rc=None, props=(), version=5):
    """PUBACK/PUBREC/PUBREL/PUBCOMP."""
    body = struct.pack(">H", pid)
    if version == 5 and (rc is not None or props):
        body += bytes([rc or 0])
        if props:
            body += props_block(props)
    return packet(ptype, 2 if ptype == PUBREL else 0, body)


def subscribe(pid, entries, props=(), version=5):
    """entries: list of (filter, options byte)."""
    body = struct.pack(">H", pid)
    if version == 5:
        body += props_block(props)
    for f, opts in entries:
        body += utf8(f) + bytes([opts])
    return packet(SUBSCRIBE, 2, body)


def unsubscribe(pid, filters, props=(), version=5):
    body = struct.pack(">H", pid)
    if version == 5:
        body += props_block(props)
    for f in filters:
        body += utf8(f)
    return packet(UNSUBSCRIBE, 2, body)


def disconnect(rc=0, props=()):
    return packet(DISCONNECT, 0, bytes([rc]) + props_block(props))


def subopts(qos=0, no_local=False, rap=False, rh=0):
    return qos | (4 if no_local else 0) | (8 if rap else 0) | (rh << 4)


# ---- parsers --------------------------------------------------------------

class Pub:
    """A parsed PUBLISH."""

    def __init__(self, flags, body, version=5):
        self.qos = (flags >> 1) & 3
        self.retain = bool(flags & 1)
        self.dup = bool(flags & 8)
        n = struct.unpack_from(">H", body, 0)[0]
        self.topic = bytes(body[2:2 + n]).decode("utf-8", "replace")
        pos = 2 + n
        self.pid = None
        if self.qos:
            self.pid = struct.unpack_from(">H", body, pos)[0]
            pos += 2
        self.props = []
        if version == 5:
            self.props, pos = parse_props(body, pos)
        self.payload = bytes(body[pos:])

    def prop(self, pid, default=None):
        return getprop(self.props, pid, default)

    def __repr__(self):
        return "Pub(topic=%r qos=%d retain=%s dup=%s pid=%s props=%r payload=%r)" % (
            self.topic, self.qos, self.retain, self.dup, self.pid, self.props,
            self.payload[:40])


def parse_ack(body, version=5):
    """PUBACK..PUBCOMP / DISCONNECT-less acks -> (pid, reason code, props)."""
    pid = struct.unpack_from(">H", body, 0)[0]
    rc, props = 0, []
    if version == 5 and len(body) > 2:
        rc = body[2]
        if len(body) > 3:
            props, _ = parse_props(body, 3)
    return pid, rc, props


def parse_suback(body, version=5):
    """SUBACK / UNSUBACK -> (pid, [codes], props)."""
    pid = struct.unpack_from(">H", body, 0)[0]
    pos, props = 2, []
    if version == 5:
        props, pos = parse_props(body, 2)
    return pid, list(body[pos:]), props


def parse_disconnect(body):
    rc = body[0] if body else 0
    props = []
    if len(body) > 1:
        props, _ = parse_props(body, 1)
    return rc, props


def parse_connack(body, version=5):
    sp, rc = body[0], body[1]
    props = []
    if version == 5:
        props, _ = parse_props(body, 2)
    return sp, rc, props


# ---- raw client -----------------------------------------------------------

class RawClient:
    """A raw MQTT client on top of lib.Raw, connected (CONNACK read)."""

    def __init__(self, b, client_id, version=5, clean=True, keepalive=60,
                 props=()):
        self.version = version
        self.r = lib.Raw(b)
        self.r.send(connect(client_id, version, clean, keepalive, props))
        p = self.r.recv_packet(timeout=5)
        assert p is not None, "expected CONNACK, got connection closed"
        assert p[0] == CONNACK, "expected CONNACK, got packet type %d" % p[0]
        self.sp, self.rc, self.connack_props = parse_connack(p[2], version)
        assert self.rc == 0, "expected CONNACK rc 0, got 0x%02x" % self.rc
        self.pending = []   # packets read while waiting for another type
        self._pid = 0

    def next_pid(self):
        self._pid = self._pid % 65535 + 1
        return self._pid

    def send(self, data):
        self.r.send(data)

    def recv(self, timeout=3):
        """Next packet (type, flags, body) or None if the connection closed.
        Raises AssertionError on timeout (as lib.Raw does) -- we check None."""
        if self.pending:
            return self.pending.pop(0)
        return self.r.recv_packet(timeout=timeout)

    def expect(self, ptype, timeout=3, what=""):
        """Read until a packet of ptype; other packets are kept for later."""
        deadline = time.monotonic() + timeout
        skipped = []
        try:
            while True:
                left = deadline - time.monotonic()
                assert left > 0, "expected packet type %d%s, got %s before the deadline" % (
                    ptype, what, [s[0] for s in skipped] or "nothing")
                p = self.recv_any(left)
                if p is False:
                    continue
                assert p is not None, "expected packet type %d%s, got connection closed (after %s)" % (
                    ptype, what, [s[0] for s in skipped])
                if p[0] == ptype:
                    return p
                skipped.append(p)
        finally:
            self.pending[:0] = skipped

    def recv_any(self, timeout):
        """Next packet, None if closed, False on timeout."""
        if self.pending:
            return self.pending.pop(0)
        try:
            p = self.r.recv_packet(timeout=timeout)
        except (AssertionError, TimeoutError, OSError) as e:
            if isinstance(e, OSError) and not isinstance(e, TimeoutError):
                return None
            return False
        return p

    def expect_pub(self, timeout=3):
        p = self.expect(PUBLISH, timeout, " (PUBLISH)")
        return Pub(p[1], p[2], self.version)

    def expect_no_pub(self, timeout=1):
        """Assert no PUBLISH arrives within timeout; other packets are kept."""
        deadline = time.monotonic() + timeout
        kept = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                p = self.recv_any(left)
                if p is False:
                    return
                assert p is not None, "expected no PUBLISH, got connection closed"
                if p[0] == PUBLISH:
                    raise AssertionError("expected no PUBLISH, got %r" % Pub(p[1], p[2], self.version))
                kept.append(p)
        finally:
            self.pending.extend(kept)

    def expect_disconnect(self, rc, timeout=3):
        """Expect a 5.0 DISCONNECT with reason rc, then the close."""
        p = self.expect(DISCONNECT, timeout, " (DISCONNECT 0x%02x)" % rc)
        got, props = parse_disconnect(p[2])
        assert got == rc, "expected DISCONNECT 0x%02x, got 0x%02x" % (rc, got)
        self.r.expect_closed(timeout=timeout)
        return props

    def sub(self, entries, props=(), timeout=3):
        """entries: list of (filter, opts) or one filter string -> reason codes."""
        if isinstance(entries, str):
            entries = [(entries, 0)]
        pid = self.next_pid()
        self.send(subscribe(pid, entries, props, self.version))
        p = self.expect(SUBACK, timeout, " (SUBACK)")
        gpid, codes, _ = parse_suback(p[2], self.version)
        assert gpid == pid, "expected SUBACK for pid %d, got %d" % (pid, gpid)
        return codes

    def pub(self, topic, payload, qos=0, retain=False, props=()):
        """Publish and finish the flow; returns the PUBACK/PUBREC reason code."""
        pid = self.next_pid() if qos else None
        self.send(publish(topic, payload, qos, pid, retain, props=props,
                          version=self.version))
        if qos == 0:
            return 0
        if qos == 1:
            p = self.expect(PUBACK, 3, " (PUBACK)")
            return parse_ack(p[2], self.version)[1]
        p = self.expect(PUBREC, 3, " (PUBREC)")
        rc = parse_ack(p[2], self.version)[1]
        if rc < 0x80:
            self.send(ack(PUBREL, pid, version=self.version))
            self.expect(PUBCOMP, 3, " (PUBCOMP)")
        return rc

    def close(self):
        try:
            self.r.close()
        except Exception:
            pass


# ---- paho helpers ---------------------------------------------------------

def codes(x):
    """paho reason codes / granted QoS (int, ReasonCodes, list) -> list of ints."""
    if not isinstance(x, (list, tuple)):
        x = [x]
    out = []
    for c in x:
        out.append(c if isinstance(c, int) else getattr(c, "value", c))
    return out


def collect(c, n, timeout=5):
    """Exactly the next n messages of a lib client (each within the deadline)."""
    deadline = time.monotonic() + timeout
    got = []
    for i in range(n):
        left = max(0.05, deadline - time.monotonic())
        try:
            got.append(c.expect(timeout=left))
        except AssertionError:
            raise AssertionError("expected %d messages, got %d: %r" % (
                n, len(got), [(m.topic, m.payload) for m in got]))
    return got


def drain(c, quiet=0.5, limit=1000):
    """All messages until none arrives for `quiet` seconds (bounded)."""
    got = []
    for _ in range(limit):
        try:
            got.append(c.expect(timeout=quiet))
        except AssertionError:
            break
    return got


def subids(m):
    """Subscription identifiers on a paho message, as a sorted list."""
    p = getattr(m, "properties", None)
    v = getattr(p, "SubscriptionIdentifier", None) if p is not None else None
    if v is None:
        return []
    if not isinstance(v, list):
        v = [v]
    return sorted(v)


def mprop(m, name, default=None):
    p = getattr(m, "properties", None)
    if p is None:
        return default
    return getattr(p, name, default)


def publish_props(**kw):
    from paho.mqtt.properties import Properties
    from paho.mqtt.packettypes import PacketTypes
    p = Properties(PacketTypes.PUBLISH)
    for k, v in kw.items():
        setattr(p, k, v)
    return p


def props_for(ptype_name, **kw):
    from paho.mqtt.properties import Properties
    from paho.mqtt.packettypes import PacketTypes
    p = Properties(getattr(PacketTypes, ptype_name))
    for k, v in kw.items():
        setattr(p, k, v)
    return p


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.monotonic() < deadline, "timed out waiting for %s" % what
        time.sleep(0.05)


def warden_only(reason):
    """Skip a case under BROKER=mosquitto where Mosquitto 2.0.11 is known to
    behave differently from contract.md (the reason says how)."""
    if is_mosquitto():
        lib.skip("Warden-only (" + reason + ")")
