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


lib.run()
