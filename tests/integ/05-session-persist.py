#!/usr/bin/python3
"""05 sessions: clean session / clean start, Session Present, Session Expiry
Interval, offline queueing, resend of unacknowledged messages, queue bound."""

import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import pkt, pkt_subscribe, pkt_ack  # noqa: E402

EXP300 = {"SessionExpiryInterval": 300}


def persistent(b, cid, version, clean=False, expiry=300):
    """A client whose session outlives the connection (3.1.x clean 0, 5.0 expiry)."""
    if version == 5:
        return lib.client(b, cid, version=5, clean=clean, props={"SessionExpiryInterval": expiry})
    return lib.client(b, cid, version=version, clean=clean)


def publish(b, topic, payloads, qos=1, version=4):
    p = lib.client(b, "pub-%s-%d" % (topic.replace("/", "_"), int(time.monotonic() * 1000) % 100000),
                   version=version)
    for pl, q in payloads:
        p.pub(topic, pl, qos=q)
    p.disconnect()


def drain(c, n, timeout=3):
    got = []
    for i in range(n):
        got.append(c.expect(timeout=timeout))
    return got


@lib.case
def clean_session_v311():
    with lib.Broker() as b:
        c = lib.client(b, "cs4", version=4, clean=False)
        assert c.session_present == 0, "first connect: Session Present 1"
        c.sub("cs4/t", qos=1)
        c.disconnect()
        c = lib.client(b, "cs4", version=4, clean=False)
        assert c.session_present == 1, "clean 0 reconnect: Session Present 0, expected 1"
        publish(b, "cs4/t", [(b"kept", 1)])
        m = c.expect()
        assert m.payload == b"kept", "subscription kept across reconnect: got %r" % m.payload
        c.disconnect()
        # clean session 1 discards the session
        c = lib.client(b, "cs4", version=4, clean=True)
        assert c.session_present == 0, "clean session 1: Session Present must be 0"
        publish(b, "cs4/t", [(b"gone", 1)])
        c.expect_none(0.5)
        c.disconnect()
        # and a clean session 1 session is not kept after it ends
        c = lib.client(b, "cs4", version=4, clean=False)
        assert c.session_present == 0, "after a clean-session-1 connection: Session Present 1"


@lib.case
def clean_start_v5_session_present():
    with lib.Broker() as b:
        c = persistent(b, "cs5", 5, clean=True)
        assert c.session_present == 0
        c.sub("cs5/t", qos=1)
        c.disconnect()
        c = persistent(b, "cs5", 5, clean=False)
        assert c.session_present == 1, "5.0 clean start 0 within expiry: Session Present 0"
        publish(b, "cs5/t", [(b"kept5", 1)], version=5)
        assert c.expect().payload == b"kept5"
        c.disconnect()
        c = persistent(b, "cs5", 5, clean=True)
        assert c.session_present == 0, "5.0 clean start 1: Session Present 1"
        publish(b, "cs5/t", [(b"gone5", 1)])
        c.expect_none(0.5)


@lib.case
def session_expiry_zero_ends_at_disconnect():
    with lib.Broker() as b:
        c = lib.client(b, "se0", version=5, clean=False)   # no Session Expiry Interval = 0
        c.sub("se0/t", qos=1)
        c.disconnect()
        publish(b, "se0/t", [(b"lost", 1)])
        c = lib.client(b, "se0", version=5, clean=False)
        assert c.session_present == 0, "expiry 0: session must end at disconnect, Session Present 1"
        c.expect_none(0.5)
        # also on a dropped connection
        c.sub("se0/t", qos=1)
        c.close()
        time.sleep(0.2)
        c = lib.client(b, "se0", version=5, clean=False)
        assert c.session_present == 0, "expiry 0, dropped connection: Session Present 1"


@lib.case
def session_expiry_interval():
    with lib.Broker() as b:
        c = persistent(b, "se1", 5, clean=True, expiry=1)
        c.sub("se1/t", qos=1)
        c.disconnect()
        publish(b, "se1/t", [(b"early", 1)])
        time.sleep(0.2)
        c = persistent(b, "se1", 5, clean=False, expiry=1)
        assert c.session_present == 1, "reconnect 0.2 s into a 1 s expiry: Session Present 0"
        m = c.expect()
        assert m.payload == b"early", "queued message within expiry: got %r" % m.payload
        c.disconnect()
        time.sleep(2.5)
        publish(b, "se1/t", [(b"late", 1)])
        c = persistent(b, "se1", 5, clean=False, expiry=1)
        assert c.session_present == 0, "reconnect 2.5 s after a 1 s expiry: Session Present 1"
        c.expect_none(0.5)


@lib.case
def disconnect_changes_session_expiry():
    with lib.Broker() as b:
        c = persistent(b, "sed", 5, clean=True, expiry=300)
        c.sub("sed/t", qos=1)
        c.disconnect(props={"SessionExpiryInterval": 0})
        time.sleep(0.2)
        c = persistent(b, "sed", 5, clean=False, expiry=300)
        assert c.session_present == 0, "DISCONNECT set expiry 0: session must be gone, Session Present 1"


@lib.case
def disconnect_expiry_from_zero_is_protocol_error():
    with lib.Broker() as b:
        w = lib.client(b, "sez-w", version=5)
        w.sub("sez/will", qos=1)
        r = lib.Raw(b)
        r.connect("sez", version=5, clean=True, will={"topic": "sez/will", "payload": b"w"})
        r.send(lib.pkt_disconnect(0, props=lib.prop(lib.P_SESSION_EXPIRY, 60), version=5))
        p = r.recv_packet(3)
        if p is not None:
            assert p[0] == lib.DISCONNECT and p[2][:1] == b"\x82", \
                "DISCONNECT expiry 0 -> 60: expected DISCONNECT 0x82 or close, got %s" % lib.describe(p)
            r.expect_closed(3)
        # a protocol error is not a normal disconnect: the will is published
        m = w.expect(3)
        assert m.payload == b"w", "will after protocol-error DISCONNECT: got %r" % m.payload
        c = persistent(b, "sez", 5, clean=False, expiry=300)
        assert c.session_present == 0, "session with expiry 0 survived: Session Present 1"


def _offline_queue(version):
    with lib.Broker() as b:
        cid = "oq%d" % version
        c = persistent(b, cid, version, clean=(version == 5))
        c.sub("oq/#", qos=2)
        c.disconnect()
        publish(b, "oq/t", [(b"m0", 0), (b"m1", 1), (b"m2", 2), (b"m0b", 0), (b"m3", 1)])
        c = persistent(b, cid, version, clean=False)
        assert c.session_present == 1
        got = []
        for i in range(3):
            m = c.expect(3)
            got.append((m.payload, m.qos))
        want = [(b"m1", 1), (b"m2", 2), (b"m3", 1)]
        # the spec orders messages per QoS level only; m1 must precede m3
        assert sorted(got) == sorted(want) and got.index((b"m1", 1)) < got.index((b"m3", 1)), \
            "offline queue (v%d): expected %r (any order across QoS), got %r" % (version, want, got)
        c.expect_none(0.5)


@lib.case
def offline_queue_qos12_not_qos0_v311():
    _offline_queue(4)


@lib.case
def offline_queue_qos12_not_qos0_v5():
    _offline_queue(5)


@lib.case
def offline_queue_downgrades_to_sub_qos():
    with lib.Broker() as b:
        c = persistent(b, "oqd", 4)
        c.sub("oqd/t", qos=1)
        c.disconnect()
        publish(b, "oqd/t", [(b"q2", 2)])
        c = persistent(b, "oqd", 4)
        m = c.expect()
        assert (m.payload, m.qos) == (b"q2", 1), "expected q2 at QoS 1, got %r QoS %d" % (m.payload, m.qos)


def _raw_persistent(b, cid, version, clean):
    r = lib.Raw(b)
    props = lib.prop(lib.P_SESSION_EXPIRY, 300) if version == 5 else b""
    flags, rc, _ = r.connect(cid, version=version, clean=clean, props=props)
    return r, flags & 1


def _expect_publish(r, version, what):
    p = r.recv_packet(3)
    assert p is not None and p[0] == lib.PUBLISH, "%s: expected PUBLISH, got %s" % (what, lib.describe(p))
    return lib.parse_publish(p[1], p[2], version)


def _unacked_resend(version):
    with lib.Broker() as b:
        cid = "dup%d" % version
        r, sp = _raw_persistent(b, cid, version, version == 5)
        r.send(pkt_subscribe(1, [("dup/#", 2)], version=version))
        r.expect_packet(lib.SUBACK)
        publish(b, "dup/1", [(b"one", 1)])
        first = _expect_publish(r, version, "first delivery")
        assert first["dup"] == 0 and first["qos"] == 1 and first["payload"] == b"one", first
        r.close()   # no PUBACK
        time.sleep(0.1)
        r, sp = _raw_persistent(b, cid, version, False)
        assert sp == 1, "reconnect: Session Present 0"
        again = _expect_publish(r, version, "redelivery after reconnect")
        assert again["payload"] == b"one" and again["dup"] == 1 and again["pid"] == first["pid"], \
            "expected the unacknowledged message again with DUP=1 and pid %d, got %r" % (first["pid"], again)
        r.send(pkt_ack(lib.PUBACK, again["pid"]))
        # QoS 2: PUBREC sent, PUBCOMP not: PUBREL is resent after reconnect
        publish(b, "dup/2", [(b"two", 2)])
        q2 = _expect_publish(r, version, "QoS 2 delivery")
        assert q2["qos"] == 2 and q2["payload"] == b"two"
        r.send(pkt_ack(lib.PUBREC, q2["pid"]))
        p = r.recv_packet(3)
        assert p and p[0] == lib.PUBREL, "expected PUBREL, got %s" % lib.describe(p)
        r.close()
        time.sleep(0.1)
        r, sp = _raw_persistent(b, cid, version, False)
        p = r.recv_packet(3)
        assert p is not None and p[0] == lib.PUBREL and struct.unpack("!H", p[2][:2])[0] == q2["pid"], \
            "after reconnect: expected PUBREL for pid %d, got %s" % (q2["pid"], lib.describe(p))
        r.send(pkt_ack(lib.PUBCOMP, q2["pid"]))
        # QoS 2 without PUBREC: the PUBLISH is resent with DUP=1
        publish(b, "dup/3", [(b"three", 2)])
        q3 = _expect_publish(r, version, "QoS 2 delivery")
        r.close()
        time.sleep(0.1)
        r, sp = _raw_persistent(b, cid, version, False)
        q3b = _expect_publish(r, version, "QoS 2 redelivery")
        assert q3b["payload"] == b"three" and q3b["dup"] == 1 and q3b["pid"] == q3["pid"] and q3b["qos"] == 2, \
            "expected QoS 2 'three' again with DUP=1 pid %d, got %r" % (q3["pid"], q3b)
        r.send(pkt_ack(lib.PUBREC, q3b["pid"]))
        r.expect_packet(lib.PUBREL)
        r.send(pkt_ack(lib.PUBCOMP, q3b["pid"]))
        # nothing else pending
        r.send(pkt(lib.PINGREQ, 0, b""))
        p = r.recv_packet(3)
        assert p and p[0] == lib.PINGRESP, "expected only PINGRESP, got %s" % lib.describe(p)


@lib.case
def unacked_resent_with_dup_v311():
    _unacked_resend(4)


@lib.case
def unacked_resent_with_dup_v5():
    _unacked_resend(5)


@lib.case
def offline_queue_bound():
    with lib.Broker(extra="max_queued_messages 5\n") as b:
        c = persistent(b, "qb", 4)
        c.sub("qb/t", qos=1)
        c.disconnect()
        publish(b, "qb/t", [(b"m%d" % i, 1) for i in range(8)])
        c = persistent(b, "qb", 4)
        got = []
        for i in range(8):
            try:
                got.append(c.expect(2 if i < 5 else 1).payload)
            except AssertionError:
                break
        want = [b"m%d" % i for i in range(5)]
        assert got == want, "max_queued_messages 5, 8 queued offline: expected %r, got %r" % (want, got)


@lib.case
def session_subscriptions_per_client_id():
    with lib.Broker() as b:
        a = persistent(b, "sa", 4)
        a.sub("sx/a", qos=1)
        a.disconnect()
        z = persistent(b, "sz", 4)
        z.sub("sx/z", qos=1)
        z.disconnect()
        publish(b, "sx/a", [(b"for-a", 1)])
        z = persistent(b, "sz", 4)
        z.expect_none(0.5)
        a = persistent(b, "sa", 4)
        assert a.expect().payload == b"for-a"


lib.run()
