#!/usr/bin/python3
"""QoS 0/1/2 flows: end to end with paho in both directions (3.1.1 and 5.0),
the min(publish QoS, granted QoS) downgrade, exactly-once for QoS 2 with a DUP
resend, the outbound QoS 2 handshake, inbound Receive Maximum (0x93) and PUBREL
for an unknown packet id (0x92)."""
import lib

import pubsub_util as u


def _matrix(pub_ver, sub_ver):
    with lib.Broker() as b:
        subs = {}
        for sq in (0, 1, 2):
            c = lib.client(b, "s%d" % sq, version=sub_ver)
            rc = u.codes(c.sub("qm/t", qos=sq))
            assert rc == [sq], "expected granted [%d], got %r" % (sq, rc)
            subs[sq] = c
        p = lib.client(b, "p", version=pub_ver)
        for pq in (0, 1, 2):
            payload = b"pub-qos-%d" % pq
            rc = p.pub("qm/t", payload, qos=pq)
            if pq:
                assert rc in (0, 0x10), "expected PUBACK/PUBREC success, got 0x%02x" % rc
            for sq, c in subs.items():
                m = c.expect(timeout=3)
                want = min(pq, sq)
                assert (m.payload, m.qos) == (payload, want), (
                    "pub v%d QoS %d -> sub v%d QoS %d: expected %r at QoS %d, got %r at QoS %d"
                    % (pub_ver, pq, sub_ver, sq, payload, want, m.payload, m.qos))
                assert not m.retain, "expected RETAIN=0 on a live message, got 1"
        for c in subs.values():
            c.expect_none(timeout=0.3)


@lib.case
def qos_matrix_v311_to_v311():
    _matrix(4, 4)


@lib.case
def qos_matrix_v5_to_v5():
    _matrix(5, 5)


@lib.case
def qos_matrix_v311_to_v5():
    _matrix(4, 5)


@lib.case
def qos_matrix_v5_to_v311():
    _matrix(5, 4)


@lib.case
def qos_matrix_v31():
    _matrix(3, 4)


@lib.case
def both_directions_request_reply():
    """Two clients each subscribe and publish to the other, at every QoS."""
    with lib.Broker() as b:
        a = lib.client(b, "a", version=5)
        z = lib.client(b, "z", version=4)
        a.sub("to/a", qos=2)
        z.sub("to/z", qos=2)
        for q in (0, 1, 2):
            for i in range(10):
                a.pub("to/z", b"a%d-%d" % (q, i), qos=q)
                z.pub("to/a", b"z%d-%d" % (q, i), qos=q)
            got_z = [(m.payload, m.qos) for m in u.collect(z, 10)]
            got_a = [(m.payload, m.qos) for m in u.collect(a, 10)]
            assert got_z == [(b"a%d-%d" % (q, i), q) for i in range(10)], (
                "QoS %d: expected a->z 0..9 in order, got %r" % (q, got_z))
            assert got_a == [(b"z%d-%d" % (q, i), q) for i in range(10)], (
                "QoS %d: expected z->a 0..9 in order, got %r" % (q, got_a))


def _exactly_once(version):
    with lib.Broker() as b:
        s = lib.client(b, "eo-sub", version=5)
        s.sub("eo/t", qos=2)
        p = u.RawClient(b, "eo-pub", version=version)
        p.send(u.publish("eo/t", b"once", qos=2, pid=42, version=version))
        pk = p.expect(u.PUBREC)
        pid, rc, _ = u.parse_ack(pk[2], version)
        assert (pid, rc) == (42, 0), "expected PUBREC pid 42 rc 0, got pid %d rc 0x%02x" % (pid, rc)
        # resend before PUBREL, with DUP: must not be delivered again
        p.send(u.publish("eo/t", b"once", qos=2, pid=42, dup=True, version=version))
        pk = p.expect(u.PUBREC)
        pid, rc, _ = u.parse_ack(pk[2], version)
        assert pid == 42, "expected second PUBREC for pid 42, got %d" % pid
        p.send(u.ack(u.PUBREL, 42, version=version))
        pk = p.expect(u.PUBCOMP)
        pid, rc, _ = u.parse_ack(pk[2], version)
        assert (pid, rc) == (42, 0), "expected PUBCOMP pid 42 rc 0, got pid %d rc 0x%02x" % (pid, rc)
        m = s.expect(timeout=3)
        assert (m.payload, m.qos) == (b"once", 2), "expected 'once' at QoS 2, got %r at %d" % (
            m.payload, m.qos)
        s.expect_none(timeout=1)
        # after PUBCOMP the id is free: the same id carries a new message
        p.send(u.publish("eo/t", b"again", qos=2, pid=42, version=version))
        p.expect(u.PUBREC)
        p.send(u.ack(u.PUBREL, 42, version=version))
        p.expect(u.PUBCOMP)
        m = s.expect(timeout=3)
        assert m.payload == b"again", "expected 'again' for reused pid 42, got %r" % m.payload
        s.expect_none(timeout=0.5)
        p.close()


@lib.case
def qos2_exactly_once_dup_resend_v311():
    _exactly_once(4)


@lib.case
def qos2_exactly_once_dup_resend_v5():
    _exactly_once(5)


@lib.case
def qos1_puback_ids():
    with lib.Broker() as b:
        s = lib.client(b, "q1s", version=4)
        s.sub("q1/t", qos=1)
        for ver in (4, 5):
            p = u.RawClient(b, "q1p%d" % ver, version=ver)
            for pid in (1, 300, 65535):
                p.send(u.publish("q1/t", b"%d" % pid, qos=1, pid=pid, version=ver))
                pk = p.expect(u.PUBACK)
                got, rc, _ = u.parse_ack(pk[2], ver)
                assert (got, rc) == (pid, 0), "v%d: expected PUBACK pid %d rc 0, got pid %d rc 0x%02x" % (
                    ver, pid, got, rc)
                m = s.expect(timeout=3)
                assert m.payload == b"%d" % pid, "expected %d, got %r" % (pid, m.payload)
            p.close()


@lib.case
def outbound_qos2_handshake():
    with lib.Broker() as b:
        for ver in (4, 5):
            s = u.RawClient(b, "oq2-%d" % ver, version=ver)
            s.sub([("oq/t", 2)])
            p = lib.client(b, "oq2p-%d" % ver, version=5)
            p.pub("oq/t", b"two", qos=2)
            m = s.expect_pub()
            assert (m.payload, m.qos, m.dup) == (b"two", 2, False), "v%d: expected 'two' QoS 2 DUP 0, got %r" % (ver, m)
            assert m.pid and m.pid > 0, "expected a non-zero packet id, got %r" % m.pid
            s.send(u.ack(u.PUBREC, m.pid, version=ver))
            pk = s.expect(u.PUBREL)
            assert pk[1] == 2, "expected PUBREL fixed-header flags 2, got %d" % pk[1]
            pid, rc, _ = u.parse_ack(pk[2], ver)
            assert (pid, rc) == (m.pid, 0), "expected PUBREL pid %d rc 0, got pid %d rc 0x%02x" % (
                m.pid, pid, rc)
            s.send(u.ack(u.PUBCOMP, m.pid, version=ver))
            s.expect_no_pub(timeout=0.5)
            # the connection still works for the next message
            p.pub("oq/t", b"next", qos=1)
            m = s.expect_pub()
            assert (m.payload, m.qos) == (b"next", 1), "expected 'next' at QoS 1, got %r" % m
            s.send(u.ack(u.PUBACK, m.pid, version=ver))
            s.close()
            p.disconnect()


@lib.case
def inbound_qos2_beyond_receive_maximum():
    u.warden_only("mosquitto 2.0.11 answers PUBREC instead of DISCONNECT 0x93")
    with lib.Broker(extra="max_inflight_messages 2\n") as b:
        p = u.RawClient(b, "rmx")
        rm = u.getprop(p.connack_props, u.RECEIVE_MAX)
        assert rm == 2, "expected CONNACK Receive Maximum 2, got %r" % rm
        for pid in (1, 2):
            p.send(u.publish("rmx/t", b"x", qos=2, pid=pid))
            pk = p.expect(u.PUBREC)
            assert u.parse_ack(pk[2])[0] == pid, "expected PUBREC for pid %d" % pid
        p.send(u.publish("rmx/t", b"x", qos=2, pid=3))
        p.expect_disconnect(0x93)


@lib.case
def inbound_qos2_within_receive_maximum_after_release():
    with lib.Broker(extra="max_inflight_messages 2\n") as b:
        s = lib.client(b, "rmw-s", version=5)
        s.sub("rmw/t", qos=2)
        p = u.RawClient(b, "rmw")
        for pid in range(1, 7):   # 6 messages, never more than 2 unreleased
            p.send(u.publish("rmw/t", b"%d" % pid, qos=2, pid=pid))
            p.expect(u.PUBREC)
            if pid >= 2:
                p.send(u.ack(u.PUBREL, pid - 1))
                p.expect(u.PUBCOMP)
        p.send(u.ack(u.PUBREL, 6))
        p.expect(u.PUBCOMP)
        got = [m.payload for m in u.collect(s, 6)]
        assert got == [b"%d" % i for i in range(1, 7)], "expected 1..6, got %r" % got


@lib.case
def pubrel_unknown_id():
    u.warden_only("mosquitto 2.0.11 answers PUBCOMP 0x00")
    with lib.Broker() as b:
        p = u.RawClient(b, "pru5")
        p.send(u.ack(u.PUBREL, 999))
        pk = p.expect(u.PUBCOMP)
        pid, rc, _ = u.parse_ack(pk[2])
        assert (pid, rc) == (999, 0x92), "expected PUBCOMP pid 999 rc 0x92, got pid %d rc 0x%02x" % (pid, rc)
        # still connected
        assert p.sub([("pru/t", 0)]) == [0], "expected SUBACK [0] after PUBCOMP 0x92"
        p4 = u.RawClient(b, "pru4", version=4)
        p4.send(u.ack(u.PUBREL, 998, version=4))
        pk = p4.expect(u.PUBCOMP)
        pid, _, _ = u.parse_ack(pk[2], 4)
        assert pid == 998, "expected 3.1.1 PUBCOMP pid 998, got %d" % pid
        p.close()
        p4.close()


@lib.case
def qos0_no_packet_id_on_the_wire():
    with lib.Broker() as b:
        s = u.RawClient(b, "q0s", version=4)
        s.sub([("q0/t", 2)])
        p = lib.client(b, "q0p", version=5)
        p.pub("q0/t", b"zero", qos=0)
        m = s.expect_pub()
        assert (m.qos, m.pid, m.payload) == (0, None, b"zero"), "expected QoS 0 'zero', got %r" % m
        s.close()


@lib.case
def redelivery_on_reconnect_qos1_qos2():
    """Unacknowledged outbound messages are resent with DUP=1 on reconnect;
    PUBREL is resent for a message awaiting PUBCOMP (contract.md, Offline queue)."""
    with lib.Broker() as b:
        for ver in (4, 5):
            cid = "rd%d" % ver
            props = [(u.SESSION_EXPIRY, 300)] if ver == 5 else ()
            s = u.RawClient(b, cid, version=ver, clean=(ver == 5), props=props)
            if ver == 4:
                s.close()
                s = u.RawClient(b, cid, version=4, clean=False)
            s.sub([("rd/#", 2)])
            p = lib.client(b, "rdp%d" % ver, version=5)
            p.pub("rd/one", b"q1", qos=1)
            p.pub("rd/two", b"q2", qos=2)
            m1 = s.expect_pub()
            m2 = s.expect_pub()
            assert (m1.payload, m1.qos, m2.payload, m2.qos) == (b"q1", 1, b"q2", 2), (
                "expected q1@1 and q2@2, got %r %r" % (m1, m2))
            s.send(u.ack(u.PUBREC, m2.pid, version=ver))    # q1 not acked, q2 half done
            s.expect(u.PUBREL)
            s.close()
            s = u.RawClient(b, cid, version=ver, clean=False, props=props)
            assert s.sp == 1, "v%d: expected Session Present 1, got %d" % (ver, s.sp)
            r = s.expect_pub()
            assert (r.payload, r.pid, r.dup, r.qos) == (b"q1", m1.pid, True, 1), (
                "v%d: expected q1 resent with pid %d DUP=1, got %r" % (ver, m1.pid, r))
            pk = s.expect(u.PUBREL)
            assert u.parse_ack(pk[2], ver)[0] == m2.pid, "v%d: expected PUBREL for pid %d resent" % (ver, m2.pid)
            s.send(u.ack(u.PUBACK, m1.pid, version=ver))
            s.send(u.ack(u.PUBCOMP, m2.pid, version=ver))
            s.expect_no_pub(timeout=0.7)
            s.close()
            p.disconnect()


@lib.case
def publish_qos_above_max_qos_v5():
    with lib.Broker(extra="max_qos 1\n") as b:
        p = u.RawClient(b, "aboveq")
        p.send(u.publish("mq/t", b"x", qos=2, pid=3))
        p.expect_disconnect(0x9B)


@lib.case
def publish_qos3_is_malformed():
    with lib.Broker() as b:
        p = u.RawClient(b, "q3-5")
        p.send(u.packet(u.PUBLISH, 0x6, u.utf8("t") + b"\x00\x01\x00x"))
        pk = p.expect(u.DISCONNECT)
        rc, _ = u.parse_disconnect(pk[2])
        assert rc == 0x81, "expected DISCONNECT 0x81 for QoS 3, got 0x%02x" % rc
        p4 = u.RawClient(b, "q3-4", version=4)
        p4.send(u.packet(u.PUBLISH, 0x6, u.utf8("t") + b"\x00\x01x"))
        p4.r.expect_closed(timeout=3)


@lib.case
def packet_id_zero_is_an_error():
    with lib.Broker() as b:
        p = u.RawClient(b, "pid0")
        p.send(u.publish("t", b"x", qos=1, pid=0))
        pk = p.expect(u.DISCONNECT)
        rc, _ = u.parse_disconnect(pk[2])
        assert rc in (0x81, 0x82), "expected DISCONNECT 0x81/0x82 for packet id 0, got 0x%02x" % rc


@lib.case
def unknown_puback_is_ignored():
    with lib.Broker() as b:
        s = u.RawClient(b, "unk")
        s.sub([("uk/t", 1)])
        s.send(u.ack(u.PUBACK, 4321))
        s.send(u.ack(u.PUBCOMP, 4322))
        p = lib.client(b, "unkp", version=5)
        p.pub("uk/t", b"still", qos=1)
        m = s.expect_pub()
        assert m.payload == b"still", "expected the connection to keep working, got %r" % m


@lib.case
def many_inbound_qos2_in_one_write():
    """Batches of 20 (= the default Receive Maximum) QoS 2 PUBLISHes in one
    write each, then their PUBRELs in one write."""
    with lib.Broker() as b:
        s = lib.client(b, "mq2s", version=4)
        s.sub("mq2/t", qos=2)
        for ver in (4, 5):
            p = u.RawClient(b, "mq2p%d" % ver, version=ver)
            for batch in range(5):
                ids = [batch * 20 + i + 1 for i in range(20)]
                p.send(b"".join(u.publish("mq2/t", b"%d" % i, qos=2, pid=i, version=ver) for i in ids))
                recs = [u.parse_ack(p.expect(u.PUBREC, 5)[2], ver)[0] for _ in ids]
                assert recs == ids, "v%d: expected PUBREC for %r in order, got %r" % (ver, ids, recs)
                p.send(b"".join(u.ack(u.PUBREL, i, version=ver) for i in ids))
                comps = [u.parse_ack(p.expect(u.PUBCOMP, 5)[2], ver)[0] for _ in ids]
                assert comps == ids, "v%d: expected PUBCOMP for %r in order, got %r" % (ver, ids, comps)
            got = [int(m.payload) for m in u.collect(s, 100, timeout=15)]
            assert got == list(range(1, 101)), "v%d: expected 1..100 once each in order, got %r..." % (
                ver, got[:10])
            s.expect_none(timeout=0.3)
            p.close()

def _drain_acking(s, limit=100):
    """Read PUBLISHes, acking each (QoS 1), until quiet; returns payloads."""
    got = []
    for _ in range(limit):
        try:
            m = s.expect_pub(timeout=0.7)
        except AssertionError:
            break
        got.append(m.payload)
        if m.qos == 1:
            s.send(u.ack(u.PUBACK, m.pid))
    return got


@lib.case
def slow_consumer_queue_limit_drops_new():
    """Connected consumer with a full window: at most max_queued_messages wait;
    when full, the new message is dropped (no QoS 0 to drop first)."""
    with lib.Broker(extra="max_queued_messages 5\n") as b:
        s = u.RawClient(b, "slow", props=[(u.RECEIVE_MAX, 1)])
        s.sub([("sl/t", 1)])
        p = lib.client(b, "slowp", version=5)
        for i in range(10):
            p.pub("sl/t", b"%d" % i, qos=1)
        first = s.expect_pub()
        assert first.payload == b"0", "expected '0' in flight, got %r" % first
        s.send(u.ack(u.PUBACK, first.pid))
        got = _drain_acking(s)
        assert got == [b"1", b"2", b"3", b"4", b"5"], (
            "expected the 5 queued messages 1..5 (6..9 dropped), got %r" % got)
        p.pub("sl/t", b"after", qos=1)
        got = _drain_acking(s)
        assert got == [b"after"], "expected delivery to resume, got %r" % got


@lib.case
def slow_consumer_queue_limit_drops_oldest_qos0_first():
    with lib.Broker(extra="max_queued_messages 3\n") as b:
        s = u.RawClient(b, "slow0", props=[(u.RECEIVE_MAX, 1)])
        s.sub([("s0/t", 1)])
        p = lib.client(b, "slow0p", version=5)
        p.pub("s0/t", b"inflight", qos=1)
        first = s.expect_pub()
        p.pub("s0/t", b"b1", qos=1)     # queued behind the full window
        p.pub("s0/t", b"a0", qos=0)
        p.pub("s0/t", b"c0", qos=0)
        p.pub("s0/t", b"d1", qos=1)     # queue full: the oldest QoS 0 (a0) goes
        p.pub("s0/t", b"e1", qos=1)     # full again: c0 goes
        p.pub("s0/t", b"f1", qos=1)     # full, no QoS 0 left: f1 is dropped
        s.send(u.ack(u.PUBACK, first.pid))
        got = _drain_acking(s)
        # QoS 0 may also be sent while the window is full (MQTT 5.0 4.9), so
        # a0/c0 may arrive; what counts is that no QoS 1 message was dropped
        # while a QoS 0 one was queued, and f1 (queue full of QoS 1) was.
        q1 = [x for x in got if x.endswith(b"1")]
        assert q1 == [b"b1", b"d1", b"e1"], "expected QoS 1 [b1, d1, e1] (f1 dropped), got %r" % got
        q0 = [x for x in got if x.endswith(b"0")]
        assert q0 in ([], [b"a0"], [b"c0"], [b"a0", b"c0"]), "expected QoS 0 in order, got %r" % got


@lib.case
def slow_consumer_new_qos0_replaces_oldest_qos0():
    u.warden_only('mosquitto sends QoS 0 past a full window')
    """Queue full and the new message is QoS 0: the oldest queued QoS 0 is
    dropped first (contract.md: 'the oldest QoS 0 is dropped first, else the
    new message')."""
    with lib.Broker(extra="max_queued_messages 3\n") as b:
        s = u.RawClient(b, "slowq0", props=[(u.RECEIVE_MAX, 1)])
        s.sub([("sq0/t", 1)])
        p = lib.client(b, "slowq0p", version=5)
        p.pub("sq0/t", b"inflight", qos=1)
        first = s.expect_pub()
        p.pub("sq0/t", b"b1", qos=1)     # queued behind the full window
        p.pub("sq0/t", b"a0", qos=0)
        p.pub("sq0/t", b"c0", qos=0)     # queue now full: b1 a0 c0
        p.pub("sq0/t", b"d0", qos=0)     # full: a0 (oldest QoS 0) goes, d0 is kept
        p.pub("sync/none", b"", qos=1)   # its PUBACK means d0 has been routed
        s.send(u.ack(u.PUBACK, first.pid))
        got = _drain_acking(s)
        assert got == [b"b1", b"c0", b"d0"], (
            "expected [b1, c0, d0] (a0 dropped as the oldest QoS 0), got %r" % got)


@lib.case
def outbound_window_is_min_of_client_and_broker():
    u.warden_only('mosquitto 2.0.11 sends one message beyond the window')
    """contract.md: outbound window = min(client's Receive Maximum,
    max_inflight_messages); 3.1.1 clients get max_inflight_messages."""
    with lib.Broker(extra="max_inflight_messages 3\n") as b:
        for ver, props in ((5, [(u.RECEIVE_MAX, 100)]), (4, ())):
            s = u.RawClient(b, "win%d" % ver, version=ver, props=props)
            s.sub([("win/t", 1)])
            p = lib.client(b, "winp%d" % ver, version=5)
            for i in range(6):
                p.pub("win/t", b"%d" % i, qos=1)
            got = [s.expect_pub() for _ in range(3)]
            s.expect_no_pub(timeout=0.7)
            s.send(u.ack(u.PUBACK, got[0].pid, version=ver))
            m = s.expect_pub()
            assert m.payload == b"3", "v%d: expected '3' after one PUBACK, got %r" % (ver, m)
            s.expect_no_pub(timeout=0.5)
            s.close()
            p.disconnect()


@lib.case
def client_error_ack_frees_window_v5():
    """A 5.0 subscriber answering PUBACK/PUBREC with a failure reason ends the
    flow: no PUBREL follows a failed PUBREC and the window slot is free."""
    with lib.Broker() as b:
        s = u.RawClient(b, "eack", props=[(u.RECEIVE_MAX, 1)])
        s.sub([("ea/t", 2)])
        p = lib.client(b, "eackp", version=5)
        p.pub("ea/t", b"two", qos=2)
        p.pub("ea/t", b"one", qos=1)
        p.pub("ea/t", b"last", qos=1)
        m = s.expect_pub()
        assert (m.payload, m.qos) == (b"two", 2), "expected 'two' at QoS 2 first, got %r" % m
        s.send(u.ack(u.PUBREC, m.pid, rc=0x80))
        m = s.expect_pub()
        assert m.payload == b"one", "expected 'one' after PUBREC 0x80 (no PUBREL), got %r" % m
        assert not [q for q in s.pending if q[0] == u.PUBREL], "expected no PUBREL after PUBREC 0x80"
        s.send(u.ack(u.PUBACK, m.pid, rc=0x83))
        m = s.expect_pub()
        assert m.payload == b"last", "expected 'last' after PUBACK 0x83, got %r" % m
        s.send(u.ack(u.PUBACK, m.pid))
        s.expect_no_pub(timeout=0.5)
        assert not [q for q in s.pending if q[0] == u.PUBREL], "expected no PUBREL at all, got one"


lib.run()
