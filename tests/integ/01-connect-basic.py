#!/usr/bin/python3
"""01 connect: protocol versions, CONNACK, client ids, credentials, keepalive,
takeover, connect_timeout, max_connections."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

# mosquitto checks keepalives lazily (several seconds late); Warden is held to 1.5x + slack
KA_SLACK = 8.5 if lib.is_mosquitto() else 4.0
from lib import P_RECEIVE_MAXIMUM, P_MAXIMUM_PACKET_SIZE, P_TOPIC_ALIAS_MAXIMUM, \
    P_RETAIN_AVAILABLE, P_WILDCARD_SUB_AVAILABLE, P_SUB_ID_AVAILABLE, \
    P_SHARED_SUB_AVAILABLE, P_MAXIMUM_QOS, P_ASSIGNED_CLIENT_ID, P_SERVER_KEEP_ALIVE, \
    P_SESSION_EXPIRY  # noqa: E402


def connack_of(r, client_id, version, **kw):
    """Send CONNECT on raw socket r and return (flags, rc, props dict)."""
    flags, rc, props = r.connect(client_id, version=version, expect_rc=None, **kw)
    return flags, rc, lib.props_dict(props)


@lib.case
def versions_31_311_5_on_one_listener():
    with lib.Broker() as b:
        subs = {v: lib.client(b, "sub-v%d" % v, version=v) for v in (3, 4, 5)}
        for v, c in subs.items():
            assert c.connack.rc == 0, "v%d CONNACK rc %d" % (v, c.connack.rc)
            c.sub("vers/+", qos=1)
        # each version publishes, every version receives
        for v in (3, 4, 5):
            p = lib.client(b, "pub-v%d" % v, version=v)
            p.pub("vers/%d" % v, b"from v%d" % v, qos=1)
            p.disconnect()
            for sv, c in subs.items():
                m = c.expect(timeout=3)
                assert (m.topic, m.payload) == ("vers/%d" % v, b"from v%d" % v), \
                    "v%d subscriber: expected vers/%d 'from v%d', got %r %r" % (sv, v, v, m.topic, m.payload)
        # command line clients, 3.1.1 and 5.0
        for ver in ("mqttv311", "mqttv5"):
            r = lib.mosq_pub(b, "-V", ver, "-q", "1", "-t", "vers/cli", "-m", ver)
            assert r.returncode == 0, "mosquitto_pub -V %s exit %d: %s" % (ver, r.returncode, r.stderr)
            m = subs[5].expect(timeout=3)
            assert m.payload == ver.encode(), "expected %r from mosquitto_pub, got %r" % (ver, m.payload)
            # retained message read back by mosquitto_sub of the same version
            r = lib.mosq_pub(b, "-V", ver, "-r", "-t", "ret/vers", "-m", "R" + ver)
            assert r.returncode == 0, r.stderr
            r = lib.mosq_sub(b, "-V", ver, "-t", "ret/vers", "-C", "1", "-W", "5", timeout=8)
            assert r.returncode == 0 and r.stdout.strip() == ("R" + ver).encode(), \
                "mosquitto_sub -V %s: expected R%s, got rc=%d out=%r err=%r" % (
                    ver, ver, r.returncode, r.stdout, r.stderr)


@lib.case
def connack_properties_default():
    if lib.is_mosquitto():
        lib.skip("Warden CONNACK property set")
    with lib.Broker() as b:
        r = lib.Raw(b)
        flags, rc, p = connack_of(r, "props1", 5)
        assert rc == 0, "CONNACK rc 0x%02x" % rc
        want = {P_RECEIVE_MAXIMUM: 20, P_MAXIMUM_PACKET_SIZE: 1048576, P_TOPIC_ALIAS_MAXIMUM: 10,
                P_RETAIN_AVAILABLE: 1, P_WILDCARD_SUB_AVAILABLE: 1, P_SUB_ID_AVAILABLE: 1,
                P_SHARED_SUB_AVAILABLE: 1}
        for k, v in want.items():
            assert p.get(k) == v, "CONNACK property 0x%02x: expected %r, got %r (all: %r)" % (k, v, p.get(k), p)
        assert P_MAXIMUM_QOS not in p, "Maximum QoS sent although max_qos is 2: %r" % p
        assert P_ASSIGNED_CLIENT_ID not in p, "Assigned Client Identifier for a non-empty id: %r" % p
        assert flags == 0, "session present set on a clean start: flags 0x%02x" % flags


@lib.case
def connack_properties_configured():
    if lib.is_mosquitto():
        lib.skip("Warden CONNACK property set")
    extra = ("max_inflight_messages 7\nmax_packet_size 5000\ntopic_alias_maximum 3\n"
             "retain_available false\nmax_qos 1\n")
    with lib.Broker(extra=extra) as b:
        r = lib.Raw(b)
        flags, rc, p = connack_of(r, "props2", 5)
        assert rc == 0, "CONNACK rc 0x%02x" % rc
        want = {P_RECEIVE_MAXIMUM: 7, P_MAXIMUM_PACKET_SIZE: 5000, P_TOPIC_ALIAS_MAXIMUM: 3,
                P_RETAIN_AVAILABLE: 0, P_MAXIMUM_QOS: 1}
        for k, v in want.items():
            assert p.get(k) == v, "CONNACK property 0x%02x: expected %r, got %r (all: %r)" % (k, v, p.get(k), p)


@lib.case
def empty_client_id_v5_assigned():
    with lib.Broker() as b:
        ids = []
        for i in range(2):
            r = lib.Raw(b)
            flags, rc, p = connack_of(r, "", 5)
            assert rc == 0, "empty id (5.0): CONNACK rc 0x%02x, expected 0" % rc
            aid = p.get(P_ASSIGNED_CLIENT_ID)
            assert aid, "empty id (5.0): no Assigned Client Identifier in CONNACK: %r" % p
            ids.append(aid)
        assert ids[0] != ids[1], "two empty-id clients got the same assigned id %r" % ids[0]
        # the client works under its assigned id: subscribe and receive
        c = lib.client(b, "", version=5)
        assert c.connack_props and lib.props_dict(c.connack_props).get(P_ASSIGNED_CLIENT_ID)
        c.sub("e/id", qos=0)
        lib.client(b, "epub", version=5).pub("e/id", b"hi")
        assert c.expect().payload == b"hi"


@lib.case
def empty_client_id_311_clean_accepted():
    with lib.Broker() as b:
        r = lib.Raw(b)
        flags, rc, p = connack_of(r, "", 4, clean=True)
        assert rc == 0, "3.1.1 empty id + clean session: CONNACK rc %d, expected 0" % rc
        r.send(lib.pkt(lib.PINGREQ, 0, b""))
        pr = r.recv_packet()
        assert pr and pr[0] == lib.PINGRESP, "expected PINGRESP, got %s" % lib.describe(pr)


@lib.case
def empty_client_id_311_persistent_refused():
    with lib.Broker() as b:
        r = lib.Raw(b)
        flags, rc, p = connack_of(r, "", 4, clean=False)
        assert rc == 2, "3.1.1 empty id + clean session 0: CONNACK rc %d, expected 2" % rc
        r.expect_closed(timeout=3)


@lib.case
def empty_client_id_31_refused():
    with lib.Broker() as b:
        r = lib.Raw(b)
        flags, rc, p = connack_of(r, "", 3, clean=True)
        assert rc == 2, "3.1 empty id: CONNACK rc %d, expected 2" % rc
        r.expect_closed(timeout=3)


@lib.case
def credentials_refused():
    if lib.is_mosquitto():
        lib.skip("mosquitto accepts usernames without a password file")
    with lib.Broker() as b:
        c5 = lib.client(b, "cred5", version=5, username="alice", password="s3cret-pw", expect_rc=None)
        assert c5.connack.rc == 0x86, "5.0 with username: CONNACK 0x%02x, expected 0x86" % c5.connack.rc
        c5.wait_disconnected(3)
        c4 = lib.client(b, "cred4", version=4, username="alice", password="s3cret-pw", expect_rc=None)
        assert c4.connack.rc == 4, "3.1.1 with username: CONNACK rc %d, expected 4" % c4.connack.rc
        r = lib.Raw(b)
        flags, rc, p = connack_of(r, "cred4b", 4, username="bob")
        assert rc == 4, "3.1.1 username without password: rc %d, expected 4" % rc
        r.expect_closed(3)
        res = lib.mosq_pub(b, "-V", "mqttv5", "-u", "alice", "-P", "x", "-t", "a", "-m", "b")
        assert res.returncode != 0, "mosquitto_pub with a username succeeded (exit 0)"
        # the password never reaches the log; the refused connection is logged
        b.wait_log(r"connect client=cred5 .*user=alice")
        assert "s3cret-pw" not in b.log(), "password appears in the broker log"
        # an anonymous client still works
        a = lib.client(b, "anon", version=5)
        assert a.connack.rc == 0


@lib.case
def connect_log_line():
    if lib.is_mosquitto():
        lib.skip("Warden log format")
    with lib.Broker() as b:
        c = lib.client(b, "logme", version=5)
        b.wait_log(r"connect client=logme addr=127\.0\.0\.1:\d+ proto=5 (\S+ )*auth=anonymous result=success")
        c4 = lib.client(b, "logme4", version=4)
        b.wait_log(r"connect client=logme4 addr=127\.0\.0\.1:\d+ proto=4 (\S+ )*auth=anonymous result=success")
        c.disconnect()
        b.wait_log(r"disconnect client=logme\b.* reason=")
        c4.pub("t", b"PAYLOAD-NOT-LOGGED", qos=1)
        assert "PAYLOAD-NOT-LOGGED" not in b.log(), "payload appears in the log"


@lib.case
def unsupported_protocol_level():
    with lib.Broker() as b:
        for level in (6, 2, 0):
            r = lib.Raw(b)
            body = lib.mqtt_str("MQTT") + bytes([level, 0x02, 0, 60]) + lib.mqtt_str("badlvl")
            r.send(lib.pkt(lib.CONNECT, 0, body))
            p = r.recv_packet(3)
            assert p is not None and p[0] == lib.CONNACK, \
                "level %d: expected CONNACK rc 1, got %s" % (level, lib.describe(p))
            assert p[2] == b"\x00\x01", "level %d: expected CONNACK 00 01, got %r" % (level, p[2])
            r.expect_closed(3)
        # bad protocol name: CONNACK rc 1 or plain close, never success
        r = lib.Raw(b)
        body = lib.mqtt_str("MQTX") + bytes([4, 0x02, 0, 60]) + lib.mqtt_str("badname")
        r.send(lib.pkt(lib.CONNECT, 0, body))
        p = r.recv_packet(3)
        if p is not None:
            assert p[0] == lib.CONNACK and p[2][1] != 0, \
                "bad protocol name: expected close or refusing CONNACK, got %s" % lib.describe(p)
            r.expect_closed(3)
        # a normal client is unaffected
        lib.client(b, "afterbad", version=4)


def _keepalive_timeout(version):
    with lib.Broker() as b:
        w = lib.client(b, "watch", version=5)
        w.sub("will/ka%d" % version, qos=1)
        r = lib.Raw(b)
        t0 = time.monotonic()
        r.connect("ka%d" % version, version=version, keepalive=1,
                  will={"topic": "will/ka%d" % version, "payload": b"gone", "qos": 1})
        p = r.recv_packet(timeout=KA_SLACK + 1)
        elapsed = time.monotonic() - t0
        if version == 5:
            if not (lib.is_mosquitto() and p is None):   # mosquitto 2.0.11: plain close
                assert p is not None and p[0] == lib.DISCONNECT, \
                    "5.0 keepalive timeout: expected DISCONNECT 0x8D, got %s" % lib.describe(p)
                assert p[2][:1] == b"\x8d", "keepalive timeout: %s, expected reason 0x8d" % lib.describe(p)
                r.expect_closed(2)
        else:
            assert p is None, "3.1.1 keepalive timeout: expected plain close, got %s" % lib.describe(p)
        assert 1.0 <= elapsed <= KA_SLACK, \
            "keepalive 1 s: closed after %.2f s, expected about 1.5 s" % elapsed
        m = w.expect(timeout=3)
        assert m.payload == b"gone", "will after keepalive timeout: got %r" % m.payload


@lib.case
def keepalive_timeout_v5():
    _keepalive_timeout(5)


@lib.case
def keepalive_timeout_v311():
    _keepalive_timeout(4)


@lib.case
def keepalive_pings_keep_connection():
    with lib.Broker() as b:
        r = lib.Raw(b)
        r.connect("pinger", version=4, keepalive=1)
        t_end = time.monotonic() + 2.5
        n = 0
        while time.monotonic() < t_end and n < 10:
            r.send(lib.pkt(lib.PINGREQ, 0, b""))
            p = r.recv_packet(1)
            assert p is not None and p[0] == lib.PINGRESP, \
                "ping %d within keepalive: expected PINGRESP, got %s" % (n, lib.describe(p))
            n += 1
            time.sleep(0.5)
        assert n >= 4


@lib.case
def server_keep_alive_v5():
    with lib.Broker(extra="max_keepalive 10\n") as b:
        for ka in (60, 0):
            r = lib.Raw(b)
            flags, rc, p = connack_of(r, "ska%d" % ka, 5, keepalive=ka)
            assert rc == 0, "keepalive %d > max: 5.0 CONNACK 0x%02x, expected 0" % (ka, rc)
            assert p.get(P_SERVER_KEEP_ALIVE) == 10, \
                "keepalive %d, max_keepalive 10: Server Keep Alive %r, expected 10" % (ka, p.get(P_SERVER_KEEP_ALIVE))
        r = lib.Raw(b)
        flags, rc, p = connack_of(r, "ska5", 5, keepalive=5)
        assert rc == 0 and P_SERVER_KEEP_ALIVE not in p or p.get(P_SERVER_KEEP_ALIVE) == 5, \
            "keepalive 5 <= max: unexpected Server Keep Alive %r" % p.get(P_SERVER_KEEP_ALIVE)


@lib.case
def server_keep_alive_enforced():
    # max_keepalive has a floor of 10 (as in mosquitto): this case waits ~15 s
    with lib.Broker(extra="max_keepalive 10\n") as b:
        w = lib.client(b, "ska-watch", version=5)
        w.sub("will/ska", qos=1)
        r = lib.Raw(b)
        t0 = time.monotonic()
        flags, rc, p = connack_of(r, "skaenf", 5, keepalive=0,
                                  will={"topic": "will/ska", "payload": b"ska"})
        assert rc == 0 and p.get(P_SERVER_KEEP_ALIVE) == 10, "expected Server Keep Alive 10, got %r" % p
        pk = r.recv_packet(timeout=KA_SLACK + 16)
        elapsed = time.monotonic() - t0
        if not (lib.is_mosquitto() and pk is None):
            assert pk is not None and pk[0] == lib.DISCONNECT and pk[2][:1] == b"\x8d", \
                "server keepalive 10 (client asked 0): expected DISCONNECT 0x8D, got %s" % lib.describe(pk)
        assert 14.0 <= elapsed <= 13.0 + KA_SLACK, \
            "Server Keep Alive 10 enforced after %.2f s, expected about 15 s" % elapsed
        assert w.expect(3).payload == b"ska", "no will after server keepalive timeout"


@lib.case
def keepalive_over_max_refused_v311():
    if lib.is_mosquitto():
        lib.skip("mosquitto 2.0.11 accepts it")
    with lib.Broker(extra="max_keepalive 10\n") as b:
        r = lib.Raw(b)
        flags, rc, p = connack_of(r, "kamax4", 4, keepalive=60)
        assert rc == 2, "3.1.1 keepalive 60 > max 10: CONNACK rc %d, expected 2" % rc
        r.expect_closed(3)
        r = lib.Raw(b)
        flags, rc, p = connack_of(r, "kaok4", 4, keepalive=10)
        assert rc == 0, "3.1.1 keepalive 10 == max: CONNACK rc %d, expected 0" % rc


@lib.case
def takeover_v5_session_continues():
    with lib.Broker() as b:
        a = lib.client(b, "dup", version=5, props={"SessionExpiryInterval": 300})
        a.sub("take/t", qos=1)
        c = lib.client(b, "dup", version=5, clean=False, props={"SessionExpiryInterval": 300})
        reason = a.wait_disconnected(3)
        if not lib.is_mosquitto():   # mosquitto 2.0.11 closes without DISCONNECT
            assert a.server_reason == 0x8E, \
                "old connection: expected DISCONNECT 0x8E, got %r (paho rc %r)" % (a.server_reason, reason)
        assert c.session_present == 1, "takeover with clean start 0: Session Present 0, expected 1"
        p = lib.client(b, "tpub", version=5)
        p.pub("take/t", b"after", qos=1)
        m = c.expect(timeout=3)
        assert m.payload == b"after", "subscription did not survive takeover: got %r" % m.payload
        a.expect_none(0.3)


@lib.case
def takeover_v311_and_clean_start():
    with lib.Broker() as b:
        a = lib.client(b, "dup4", version=4, clean=False)
        a.sub("take4/t", qos=1)
        c = lib.client(b, "dup4", version=4, clean=False)
        a.wait_disconnected(3)
        assert a.server_reason is None, "3.1.1 client got a DISCONNECT packet"
        assert c.session_present == 1, "3.1.1 takeover clean 0: Session Present 0"
        # takeover with clean start: session discarded
        d = lib.client(b, "dup4", version=4, clean=True)
        c.wait_disconnected(3)
        assert d.session_present == 0, "takeover with clean session 1: Session Present 1"
        lib.client(b, "tp4", version=4).pub("take4/t", b"x", qos=1)
        d.expect_none(0.5)


@lib.case
def connect_timeout_closes():
    if lib.is_mosquitto():
        lib.skip("connect_timeout is a Warden key")
    with lib.Broker(extra="connect_timeout 1\n") as b:
        r = lib.Raw(b)
        t0 = time.monotonic()
        r.expect_closed(timeout=5)
        el = time.monotonic() - t0
        assert 0.8 <= el <= 4.0, "connect_timeout 1: closed after %.2f s" % el
        # a partial CONNECT is not enough either
        r = lib.Raw(b)
        r.send(lib.pkt_connect("slow", version=4)[:5])
        t0 = time.monotonic()
        r.expect_closed(timeout=5)
        el = time.monotonic() - t0
        assert el <= 4.0, "partial CONNECT: closed after %.2f s" % el
        # a client that connects in time is not cut off after connect_timeout
        c = lib.client(b, "intime", version=4)
        time.sleep(1.6)
        c.sub("x", qos=0)
        assert not c.disconnected.is_set(), "connected client dropped after connect_timeout"


@lib.case
def max_connections_extra_closed():
    if lib.is_mosquitto():
        lib.skip("mosquitto's max_connections is listener-scoped and counts differently")
    with lib.Broker(extra="max_connections 2\n") as b:
        c1 = lib.client(b, "mc1", version=5)
        c2 = lib.client(b, "mc2", version=4)
        r = lib.Raw(b)
        r.send(lib.pkt_connect("mc3", version=4))
        p = r.recv_packet(3)
        assert p is None, "third connection with max_connections 2: expected close, got %s" % lib.describe(p)
        c1.sub("mc/t", qos=1)
        c2.pub("mc/t", b"still", qos=1)
        assert c1.expect().payload == b"still"
        # a slot frees up when a client leaves
        c2.disconnect()
        c3 = lib.wait_until(lambda: _try_connect(b, "mc4"), 5, msg="no slot after a client left")
        assert c3.connack.rc == 0


def _try_connect(b, cid):
    try:
        return lib.client(b, cid, version=4, timeout=1)
    except AssertionError:
        return None


lib.run()
