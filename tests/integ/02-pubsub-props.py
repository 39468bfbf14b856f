#!/usr/bin/python3
"""MQTT 5.0 PUBLISH properties end to end: Message Expiry, Topic Alias in and
out, Maximum Packet Size in and out, User Properties, Content Type, Response
Topic, Correlation Data, Payload Format Indicator, Reason String and the
client's Receive Maximum (contract.md)."""
import time

import lib

import pubsub_util as u


@lib.case
def message_expiry_forwarded_decremented():
    with lib.Broker() as b:
        s = u.RawClient(b, "mes")
        s.sub([("me/#", 1)])
        p = u.RawClient(b, "mep")
        p.pub("me/a", b"x", qos=1, props=[(u.EXPIRY, 100)])
        m = s.expect_pub()
        e = m.prop(u.EXPIRY)
        assert e is not None and 98 <= e <= 100, "expected Message Expiry 98..100, got %r" % e
        p.pub("me/b", b"y", qos=0)
        m = s.expect_pub()
        assert m.prop(u.EXPIRY) is None, "expected no Message Expiry when none was sent, got %r" % m.props
        s.close()
        p.close()


@lib.case
def message_expiry_offline_queue():
    with lib.Broker() as b:
        s = u.RawClient(b, "meq", clean=True, props=[(u.SESSION_EXPIRY, 300)])
        s.sub([("mq/#", 1)])
        s.send(u.disconnect(0))
        s.r.expect_closed(timeout=3)
        p = u.RawClient(b, "meqp")
        p.pub("mq/short", b"short", qos=1, props=[(u.EXPIRY, 1)])
        p.pub("mq/long", b"long", qos=1, props=[(u.EXPIRY, 100)])
        p.pub("mq/none", b"none", qos=1)
        time.sleep(2.2)     # let the 1-second expiry pass while queued
        s = u.RawClient(b, "meq", clean=False, props=[(u.SESSION_EXPIRY, 300)])
        assert s.sp == 1, "expected Session Present 1, got %d" % s.sp
        got = []
        for _ in range(2):
            m = s.expect_pub()
            got.append(m)
            s.send(u.ack(u.PUBACK, m.pid))
        s.expect_no_pub(timeout=1)
        topics = [m.topic for m in got]
        assert topics == ["mq/long", "mq/none"], "expected [mq/long, mq/none] (mq/short expired), got %r" % topics
        e = got[0].prop(u.EXPIRY)
        assert e is not None and 95 <= e <= 98, "expected remaining expiry 95..98 after >2 s queued, got %r" % e
        s.close()
        p.close()


@lib.case
def topic_alias_inbound_valid():
    with lib.Broker() as b:
        s = lib.client(b, "tas", version=5)
        s.sub("ta/#", qos=1)
        p = u.RawClient(b, "tap")
        tam = u.getprop(p.connack_props, u.TOPIC_ALIAS_MAX)
        assert tam == 10, "expected CONNACK Topic Alias Maximum 10, got %r" % tam
        p.pub("ta/one", b"1", qos=1, props=[(u.TOPIC_ALIAS, 3)])
        p.pub("", b"2", qos=1, props=[(u.TOPIC_ALIAS, 3)])
        p.pub("ta/two", b"3", qos=1, props=[(u.TOPIC_ALIAS, 3)])   # re-map alias 3
        p.pub("", b"4", qos=0, props=[(u.TOPIC_ALIAS, 3)])
        p.pub("ta/three", b"5", qos=1, props=[(u.TOPIC_ALIAS, 10)])
        p.pub("", b"6", qos=1, props=[(u.TOPIC_ALIAS, 10)])
        got = [(m.topic, m.payload) for m in u.collect(s, 6)]
        want = [("ta/one", b"1"), ("ta/one", b"2"), ("ta/two", b"3"), ("ta/two", b"4"),
                ("ta/three", b"5"), ("ta/three", b"6")]
        assert got == want, "expected %r, got %r" % (want, got)
        p.close()


@lib.case
def topic_alias_inbound_too_big():
    with lib.Broker() as b:
        p = u.RawClient(b, "tabig")
        p.send(u.publish("ta/x", b"x", props=[(u.TOPIC_ALIAS, 11)]))
        p.expect_disconnect(0x94)
    with lib.Broker(extra="topic_alias_maximum 2\n") as b:
        p = u.RawClient(b, "tabig2")
        tam = u.getprop(p.connack_props, u.TOPIC_ALIAS_MAX)
        assert tam == 2, "expected CONNACK Topic Alias Maximum 2, got %r" % tam
        p.pub("ta/x", b"x", qos=1, props=[(u.TOPIC_ALIAS, 2)])
        p.send(u.publish("ta/x", b"x", props=[(u.TOPIC_ALIAS, 3)]))
        p.expect_disconnect(0x94)


@lib.case
def topic_alias_inbound_zero():
    u.warden_only("mosquitto answers alias 0 with DISCONNECT 0x81")
    with lib.Broker() as b:
        p = u.RawClient(b, "tazero")
        p.send(u.publish("ta/x", b"x", props=[(u.TOPIC_ALIAS, 0)]))
        p.expect_disconnect(0x94)


@lib.case
def topic_alias_inbound_unknown():
    with lib.Broker() as b:
        p = u.RawClient(b, "taunk")
        p.send(u.publish("", b"x", props=[(u.TOPIC_ALIAS, 5)]))
        p.expect_disconnect(0x82)


@lib.case
def topic_alias_outbound():
    u.warden_only('mosquitto 2.0 assigns no outbound topic aliases')
    with lib.Broker() as b:
        s = u.RawClient(b, "tao", props=[(u.TOPIC_ALIAS_MAX, 2)])
        s.sub([("to/#", 0)])
        p = lib.client(b, "taop", version=5)
        seq = ["to/1", "to/1", "to/2", "to/3", "to/1", "to/2", "to/3"]
        for i, t in enumerate(seq):
            p.pub(t, b"%d" % i, qos=1)
        got = []
        for i in range(len(seq)):
            m = s.expect_pub()
            got.append((m.topic, m.prop(u.TOPIC_ALIAS), m.payload))
        want = [("to/1", 1, b"0"), ("", 1, b"1"), ("to/2", 2, b"2"), ("to/3", None, b"3"),
                ("", 1, b"4"), ("", 2, b"5"), ("to/3", None, b"6")]
        assert got == want, "expected %r, got %r" % (want, got)
        # a client without Topic Alias Maximum never gets an alias
        s2 = u.RawClient(b, "tao0")
        s2.sub([("to/#", 0)])
        p.pub("to/1", b"a", qos=1)
        p.pub("to/1", b"b", qos=1)
        for _ in range(2):
            m = s2.expect_pub()
            assert m.topic == "to/1" and m.prop(u.TOPIC_ALIAS) is None, (
                "expected to/1 without alias, got %r" % m)
        s.close()
        s2.close()


@lib.case
def client_maximum_packet_size():
    with lib.Broker() as b:
        s = u.RawClient(b, "mps", props=[(u.MAX_PACKET, 200)])
        s.sub([("mp/#", 1)])
        p = lib.client(b, "mpp", version=5)
        p.pub("mp/big", b"B" * 500, qos=1)
        p.pub("mp/small", b"s", qos=1)
        m = s.expect_pub()
        assert m.topic == "mp/small", "expected only mp/small (mp/big exceeds 200 bytes), got %r" % m
        s.send(u.ack(u.PUBACK, m.pid))
        s.expect_no_pub(timeout=1)
        # the connection is still fine
        p.pub("mp/small2", b"s2", qos=0)
        m = s.expect_pub()
        assert m.topic == "mp/small2", "expected mp/small2, got %r" % m
        s.close()


@lib.case
def inbound_packet_too_large():
    with lib.Broker(extra="max_packet_size 1000\n") as b:
        p = u.RawClient(b, "big")
        mps = u.getprop(p.connack_props, u.MAX_PACKET)
        assert mps == 1000, "expected CONNACK Maximum Packet Size 1000, got %r" % mps
        p.pub("ok/t", b"x" * 900, qos=1)         # under the limit: fine
        # send only the start of a 2000-byte PUBLISH: the declared length is
        # enough to refuse it, and the broker has nothing unread when it closes
        p.send(u.publish("big/t", b"x" * 2000, qos=1, pid=9)[:20])
        p.expect_disconnect(0x95)
        # a complete oversized packet is refused the same way
        p = u.RawClient(b, "big2")
        p.send(u.publish("big/t", b"x" * 1200, qos=0))
        p.expect_disconnect(0x95)
        s = lib.client(b, "after", version=5)   # the broker is still alive
        s.sub("big/#")


@lib.case
def user_properties_in_order():
    with lib.Broker() as b:
        s = u.RawClient(b, "ups")
        s.sub([("up/#", 1)])
        s4 = lib.client(b, "ups4", version=5)
        s4.sub("up/#", qos=1)
        p = u.RawClient(b, "upp")
        ups = [("k", "1"), ("a", "2"), ("k", "3"), ("k", "1"), ("", "empty-key"), ("ü", "ß")]
        p.pub("up/t", b"x", qos=1, props=[(u.USER_PROP, kv) for kv in ups])
        m = s.expect_pub()
        got = [(k.decode(), v.decode()) for i, (k, v) in
               [(i, v) for i, v in m.props if i == u.USER_PROP]]
        assert got == ups, "expected user properties %r, got %r" % (ups, got)
        pm = s4.expect(timeout=3)
        got = list(u.mprop(pm, "UserProperty", []))
        assert got == ups, "expected (paho) user properties %r, got %r" % (ups, got)
        s.close()
        p.close()


@lib.case
def content_type_response_topic_correlation():
    with lib.Broker() as b:
        s = u.RawClient(b, "ccs")
        s.sub([("cc/#", 2)])
        p = u.RawClient(b, "ccp")
        corr = bytes(range(256))
        for q in (0, 1, 2):
            p.pub("cc/t", b"{}", qos=q, props=[(u.CONTENT_TYPE, "application/json"),
                                              (u.RESPONSE_TOPIC, "cc/reply/%d" % q),
                                              (u.CORRELATION, corr),
                                              (u.PFI, 1)])
            m = s.expect_pub()
            ct, rt, cd, pf = (m.prop(u.CONTENT_TYPE), m.prop(u.RESPONSE_TOPIC),
                              m.prop(u.CORRELATION), m.prop(u.PFI))
            assert ct == b"application/json", "QoS %d: expected Content Type application/json, got %r" % (q, ct)
            assert rt == b"cc/reply/%d" % q, "QoS %d: expected Response Topic cc/reply/%d, got %r" % (q, q, rt)
            assert cd == corr, "QoS %d: expected 256-byte Correlation Data, got %r" % (q, cd)
            assert pf == 1, "QoS %d: expected Payload Format Indicator 1, got %r" % (q, pf)
            if m.qos == 1:
                s.send(u.ack(u.PUBACK, m.pid))
            elif m.qos == 2:
                s.send(u.ack(u.PUBREC, m.pid))
                s.expect(u.PUBREL)
                s.send(u.ack(u.PUBCOMP, m.pid))
        # a 3.1.1 subscriber gets the payload, no properties
        s4 = u.RawClient(b, "cc4", version=4)
        s4.sub([("cc/#", 0)])
        p.pub("cc/t", b"v4", qos=0, props=[(u.CONTENT_TYPE, "text/plain")])
        m = s4.expect_pub()
        assert m.payload == b"v4", "expected 3.1.1 payload v4, got %r" % m
        s.close()
        s4.close()
        p.close()


@lib.case
def payload_format_invalid_utf8():
    u.warden_only('mosquitto 2.0.11 does not check Payload Format Indicator')
    with lib.Broker() as b:
        s = lib.client(b, "pfs", version=5)
        s.sub("pf/#", qos=2)
        p = u.RawClient(b, "pfp")
        rc = p.pub("pf/t", b"ok \xc3\xa9", qos=1, props=[(u.PFI, 1)])
        assert rc == 0, "expected PUBACK 0x00 for valid UTF-8, got 0x%02x" % rc
        m = s.expect(timeout=3)
        assert m.payload == b"ok \xc3\xa9", "expected the valid UTF-8 payload, got %r" % m.payload
        rc = p.pub("pf/t", b"\xff\xfebad", qos=1, props=[(u.PFI, 1)])
        assert rc == 0x99, "expected PUBACK 0x99 for invalid UTF-8, got 0x%02x" % rc
        p.send(u.publish("pf/t", b"\xc0\xafbad2", qos=2, pid=77, props=[(u.PFI, 1)]))
        pk = p.expect(u.PUBREC)
        pid, rc, _ = u.parse_ack(pk[2])
        assert (pid, rc) == (77, 0x99), "expected PUBREC pid 77 rc 0x99, got pid %d rc 0x%02x" % (pid, rc)
        # PFI 0 with the same bytes is fine
        rc = p.pub("pf/t", b"\xff\xfebin", qos=1, props=[(u.PFI, 0)])
        assert rc == 0, "expected PUBACK 0x00 for binary payload with PFI 0, got 0x%02x" % rc
        m = s.expect(timeout=3)
        assert m.payload == b"\xff\xfebin", "expected only the PFI 0 payload next, got %r" % m.payload
        s.expect_none(timeout=0.5)
        # QoS 0 with invalid UTF-8: DISCONNECT 0x99
        p.send(u.publish("pf/t", b"\xff", qos=0, props=[(u.PFI, 1)]))
        p.expect_disconnect(0x99)
        s.expect_none(timeout=0.5)


@lib.case
def reason_string_only_when_allowed():
    u.warden_only('mosquitto 2.0.11 does not check Payload Format Indicator')
    with lib.Broker() as b:
        # Request Problem Information 0: no Reason String on PUBACK/PUBREC/SUBACK/UNSUBACK
        p = u.RawClient(b, "rs0", props=[(u.REQ_PROBLEM, 0)])
        p.send(u.publish("rs/t", b"\xff", qos=1, pid=5, props=[(u.PFI, 1)]))
        pk = p.expect(u.PUBACK)
        pid, rc, props = u.parse_ack(pk[2])
        assert rc == 0x99, "expected PUBACK 0x99, got 0x%02x" % rc
        assert u.getprop(props, u.REASON_STRING) is None, (
            "expected no Reason String with Request Problem Information 0, got %r" % props)
        p.send(u.subscribe(6, [("a/#/b", 0)]))
        pk = p.expect(u.SUBACK)
        _, rcs, props = u.parse_suback(pk[2])
        assert rcs == [0x8F], "expected SUBACK [0x8F], got %r" % rcs
        assert u.getprop(props, u.REASON_STRING) is None, (
            "expected no Reason String on SUBACK with Request Problem Information 0, got %r" % props)
        p.send(u.unsubscribe(7, ["never"]))
        pk = p.expect(u.UNSUBACK)
        _, rcs, props = u.parse_suback(pk[2])
        assert u.getprop(props, u.REASON_STRING) is None, (
            "expected no Reason String on UNSUBACK with Request Problem Information 0, got %r" % props)
        # an error DISCONNECT may carry a Reason String: it must be valid UTF-8
        q = u.RawClient(b, "rs1")
        q.send(u.publish("rs/t", b"x", props=[(u.TOPIC_ALIAS, 99)]))
        props = q.expect_disconnect(0x94)
        rs = u.getprop(props, u.REASON_STRING)
        if rs is not None:
            rs.decode("utf-8")
        # forwarded PUBLISH never carries a Reason String (not a PUBLISH property)
        s = u.RawClient(b, "rs2")
        s.sub([("rs/#", 0)])
        p.pub("rs/ok", b"fine", qos=0)
        m = s.expect_pub()
        assert u.getprop(m.props, u.REASON_STRING) is None, "expected no Reason String on PUBLISH, got %r" % m


@lib.case
def receive_maximum_honoured():
    u.warden_only('mosquitto 2.0.11 sends one message beyond the window after a PUBACK')
    with lib.Broker() as b:
        s = u.RawClient(b, "rms", props=[(u.RECEIVE_MAX, 2)])
        s.sub([("rm/#", 1)])
        p = lib.client(b, "rmp", version=5)
        for i in range(5):
            p.pub("rm/t", b"%d" % i, qos=1)
        first = [s.expect_pub(), s.expect_pub()]
        assert [m.payload for m in first] == [b"0", b"1"], "expected 0 and 1 first, got %r" % first
        s.expect_no_pub(timeout=1)
        got = [m.payload for m in first]
        unacked = list(first)
        for want in (b"2", b"3", b"4"):
            m0 = unacked.pop(0)
            s.send(u.ack(u.PUBACK, m0.pid))
            m = s.expect_pub()
            assert m.payload == want, "expected %r after one PUBACK, got %r" % (want, m)
            unacked.append(m)
            got.append(m.payload)
            s.expect_no_pub(timeout=0.5)
        assert got == [b"0", b"1", b"2", b"3", b"4"], "expected 0..4 in order, got %r" % got
        s.close()


def _fwd_size(topic, payload_len, qos=1):
    """Size of a forwarded 5.0 PUBLISH without properties."""
    rl = 2 + len(topic) + (2 if qos else 0) + 1 + payload_len
    return 1 + len(u.varint(rl)) + rl


@lib.case
def client_maximum_packet_size_boundary():
    u.warden_only('mosquitto 2.0.11 leaves the fixed-header byte out of the size check')
    with lib.Broker() as b:
        limit = 300
        s = u.RawClient(b, "mpb", props=[(u.MAX_PACKET, limit)])
        s.sub([("mb/t", 1)])
        p = lib.client(b, "mpbp", version=5)
        n = 0
        while _fwd_size("mb/t", n + 1) <= limit:
            n += 1
        assert _fwd_size("mb/t", n) == limit
        p.pub("mb/t", b"o" * (n + 1), qos=1)     # one byte over: skipped
        p.pub("mb/t", b"e" * n, qos=1)           # exactly the limit: sent
        m = s.expect_pub()
        assert len(m.payload) == n and m.payload[:1] == b"e", (
            "expected the %d-byte payload (packet exactly %d), got %d bytes %r" % (
                n, limit, len(m.payload), m.payload[:1]))
        s.send(u.ack(u.PUBACK, m.pid))
        s.expect_no_pub(timeout=0.5)


@lib.case
def topic_aliases_are_per_connection():
    with lib.Broker() as b:
        s = lib.client(b, "tpc-s", version=5)
        s.sub("tpc/#", qos=1)
        a = u.RawClient(b, "tpc-a")
        a.pub("tpc/a", b"1", qos=1, props=[(u.TOPIC_ALIAS, 1)])
        z = u.RawClient(b, "tpc-z")
        z.send(u.publish("", b"2", props=[(u.TOPIC_ALIAS, 1)]))
        z.expect_disconnect(0x82)       # alias 1 is unknown on this connection
        a.pub("", b"3", qos=1, props=[(u.TOPIC_ALIAS, 1)])
        got = [(m.topic, m.payload) for m in u.collect(s, 2)]
        assert got == [("tpc/a", b"1"), ("tpc/a", b"3")], "expected tpc/a 1 and 3 only, got %r" % got
        s.expect_none(timeout=0.3)
        # aliases do not survive a reconnect
        a.close()
        a = u.RawClient(b, "tpc-a")
        a.send(u.publish("", b"4", props=[(u.TOPIC_ALIAS, 1)]))
        a.expect_disconnect(0x82)


@lib.case
def topic_alias_maximum_zero_config():
    with lib.Broker(extra="topic_alias_maximum 0\n") as b:
        p = u.RawClient(b, "tam0")
        tam = u.getprop(p.connack_props, u.TOPIC_ALIAS_MAX, 0)
        assert tam == 0, "expected Topic Alias Maximum 0 (or absent), got %r" % tam
        p.send(u.publish("t/x", b"x", props=[(u.TOPIC_ALIAS, 1)]))
        p.expect_disconnect(0x94)


@lib.case
def topic_alias_outbound_two_clients_independent():
    u.warden_only('mosquitto 2.0 assigns no outbound topic aliases')
    with lib.Broker() as b:
        s1 = u.RawClient(b, "tao1", props=[(u.TOPIC_ALIAS_MAX, 1)])
        s1.sub([("t2/#", 0)])
        s2 = u.RawClient(b, "tao2", props=[(u.TOPIC_ALIAS_MAX, 5)])
        s2.sub([("t2/b", 0)])
        p = lib.client(b, "tao-p", version=5)
        for t in ("t2/a", "t2/b", "t2/b", "t2/a"):
            p.pub(t, b"x", qos=1)
        got1 = [(m.topic, m.prop(u.TOPIC_ALIAS)) for m in [s1.expect_pub() for _ in range(4)]]
        got2 = [(m.topic, m.prop(u.TOPIC_ALIAS)) for m in [s2.expect_pub() for _ in range(2)]]
        assert got1 == [("t2/a", 1), ("t2/b", None), ("t2/b", None), ("", 1)], "client max 1: got %r" % got1
        assert got2 == [("t2/b", 1), ("", 1)], "client max 5 (only t2/b): got %r" % got2


@lib.case
def message_expiry_while_window_full():
    u.warden_only('mosquitto 2.0.11 delivers nothing after the PUBACK here')
    with lib.Broker() as b:
        s = u.RawClient(b, "mew", props=[(u.RECEIVE_MAX, 1)])
        s.sub([("mw/t", 1)])
        p = lib.client(b, "mewp", version=5)
        p.pub("mw/t", b"first", qos=1)
        first = s.expect_pub()
        p.pub("mw/t", b"short", qos=1, props={"MessageExpiryInterval": 1})
        p.pub("mw/t", b"keep", qos=1, props={"MessageExpiryInterval": 60})
        s.expect_no_pub(timeout=0.3)
        time.sleep(2.0)       # 'short' expires while queued behind the full window
        s.send(u.ack(u.PUBACK, first.pid))
        m = s.expect_pub()
        assert m.payload == b"keep", "expected 'keep' ('short' expired in the queue), got %r" % m
        e = m.prop(u.EXPIRY)
        assert e is not None and e <= 58, "expected remaining expiry <= 58, got %r" % e
        s.send(u.ack(u.PUBACK, m.pid))
        s.expect_no_pub(timeout=0.5)


@lib.case
def receive_maximum_counts_qos2_until_pubcomp():
    with lib.Broker() as b:
        s = u.RawClient(b, "rm2", props=[(u.RECEIVE_MAX, 1)])
        s.sub([("r2/t", 2)])
        p = lib.client(b, "rm2p", version=5)
        for i in range(3):
            p.pub("r2/t", b"%d" % i, qos=2)
        m = s.expect_pub()
        assert m.payload == b"0", "expected '0' first, got %r" % m
        s.send(u.ack(u.PUBREC, m.pid))
        s.expect(u.PUBREL)
        s.expect_no_pub(timeout=0.7)      # still in flight until PUBCOMP
        s.send(u.ack(u.PUBCOMP, m.pid))
        m = s.expect_pub()
        assert m.payload == b"1", "expected '1' after PUBCOMP, got %r" % m


@lib.case
def properties_on_retained_message():
    with lib.Broker() as b:
        p = u.RawClient(b, "prp")
        ups = [("a", "1"), ("a", "2")]
        p.pub("pr/t", b"{}", qos=1, retain=True,
              props=[(u.CONTENT_TYPE, "application/json"), (u.RESPONSE_TOPIC, "pr/reply"),
                     (u.CORRELATION, b"\x00\x01"), (u.PFI, 1)] + [(u.USER_PROP, kv) for kv in ups])
        s = u.RawClient(b, "prs")
        s.sub([("pr/t", 0)])
        m = s.expect_pub()
        assert m.retain, "expected RETAIN=1, got %r" % m
        assert m.prop(u.CONTENT_TYPE) == b"application/json", "expected Content Type kept, got %r" % m.props
        assert m.prop(u.RESPONSE_TOPIC) == b"pr/reply", "expected Response Topic kept, got %r" % m.props
        assert m.prop(u.CORRELATION) == b"\x00\x01", "expected Correlation Data kept, got %r" % m.props
        assert m.prop(u.PFI) == 1, "expected Payload Format Indicator 1 kept, got %r" % m.props
        got = [(k.decode(), v.decode()) for i, (k, v) in [(i, v) for i, v in m.props if i == u.USER_PROP]]
        assert got == ups, "expected user properties %r, got %r" % (ups, got)


@lib.case
def topic_alias_outbound_reset_on_reconnect():
    """Outbound aliases belong to one network connection: after a reconnect
    (session resumed) the first delivery of a topic carries its name again."""
    u.warden_only("mosquitto 2.0 assigns no outbound topic aliases")
    with lib.Broker() as b:
        props = [(u.TOPIC_ALIAS_MAX, 3), (u.SESSION_EXPIRY, 300)]
        s = u.RawClient(b, "tar", props=props)
        s.sub([("tr/#", 1)])
        p = lib.client(b, "tarp", version=5)
        p.pub("tr/a", b"1", qos=1)
        m = s.expect_pub()
        assert (m.topic, m.prop(u.TOPIC_ALIAS)) == ("tr/a", 1), "expected tr/a with alias 1, got %r" % m
        s.send(u.ack(u.PUBACK, m.pid))
        s.send(u.disconnect(0))
        s.r.expect_closed(timeout=3)
        p.pub("tr/a", b"2", qos=1)     # queued for the offline session
        s = u.RawClient(b, "tar", clean=False, props=props)
        assert s.sp == 1, "expected Session Present 1, got %d" % s.sp
        m = s.expect_pub()
        assert (m.topic, m.payload) == ("tr/a", b"2"), (
            "expected the queued message with its topic name after reconnect, got %r" % m)
        s.send(u.ack(u.PUBACK, m.pid))
        p.pub("tr/a", b"3", qos=1)
        m = s.expect_pub()
        # either the name again or alias 1, if the previous delivery set it
        assert m.payload == b"3" and (m.topic == "tr/a" or m.prop(u.TOPIC_ALIAS) == 1 and m.topic == ""), (
            "expected '3' on tr/a, got %r" % m)
        s.send(u.ack(u.PUBACK, m.pid))
        # a reconnect without Topic Alias Maximum gets no aliases at all
        s.close()
        s = u.RawClient(b, "tar", clean=False, props=[(u.SESSION_EXPIRY, 300)])
        p.pub("tr/a", b"4", qos=1)
        m = s.expect_pub()
        assert (m.topic, m.prop(u.TOPIC_ALIAS)) == ("tr/a", None), "expected tr/a without alias, got %r" % m


@lib.case
def topic_alias_outbound_on_retained_delivery():
    u.warden_only("mosquitto 2.0 assigns no outbound topic aliases")
    with lib.Broker() as b:
        p = lib.client(b, "tarp", version=5)
        p.pub("trr/a", b"kept", qos=1, retain=True)
        s = u.RawClient(b, "tarr", props=[(u.TOPIC_ALIAS_MAX, 2)])
        s.sub([("trr/#", 0)])
        m = s.expect_pub()
        assert m.payload == b"kept" and m.topic == "trr/a", "expected retained trr/a with its name, got %r" % m
        alias = m.prop(u.TOPIC_ALIAS)
        p.pub("trr/a", b"live", qos=1)
        m = s.expect_pub()
        if alias is None:
            assert (m.topic, m.prop(u.TOPIC_ALIAS)) == ("trr/a", 1), (
                "expected trr/a + alias 1 on first aliased delivery, got %r" % m)
        else:
            assert (m.topic, m.prop(u.TOPIC_ALIAS)) == ("", alias), (
                "expected empty topic + alias %d, got %r" % (alias, m))


@lib.case
def topic_alias_outbound_uses_full_client_maximum():
    """contract.md: with Topic Alias Maximum N the broker assigns aliases 1..N."""
    u.warden_only("mosquitto 2.0 assigns no outbound topic aliases")
    with lib.Broker() as b:
        n = 40
        s = u.RawClient(b, "tafull", props=[(u.TOPIC_ALIAS_MAX, n)])
        s.sub([("tf/#", 0)])
        p = u.RawClient(b, "tafullp", version=4)
        p.send(b"".join(u.publish("tf/%d" % i, b"x", version=4) for i in range(n + 1)))
        got = [s.expect_pub() for _ in range(n + 1)]
        aliases = [m.prop(u.TOPIC_ALIAS) for m in got]
        assert aliases == list(range(1, n + 1)) + [None], (
            "expected aliases 1..%d then none, got %r" % (n, aliases))


lib.run()
