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


lib.run()
