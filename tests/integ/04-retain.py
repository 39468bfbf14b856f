#!/usr/bin/python3
"""Retained messages (contract.md, Retained): set, replace, clear, RETAIN=1 on
subscribe and 0 on live delivery, wildcard subscribe, Retain Handling 0/1/2,
Retain As Published, retain_available false, none on a shared subscribe."""
import time

import lib
from paho.mqtt.subscribeoptions import SubscribeOptions

import pubsub_util as u


@lib.case
def retained_set_and_delivered_on_subscribe():
    with lib.Broker() as b:
        p = lib.client(b, "rp", version=4)
        p.pub("r/a", b"first", qos=1, retain=True)
        for ver in (3, 4, 5):
            s = lib.client(b, "rs%d" % ver, version=ver)
            s.sub("r/a", qos=1)
            m = s.expect(timeout=3)
            assert (m.topic, m.payload, m.retain) == ("r/a", b"first", 1), (
                "v%d: expected r/a 'first' RETAIN=1, got %s %r RETAIN=%d" % (
                    ver, m.topic, m.payload, m.retain))
            s.expect_none(timeout=0.3)


@lib.case
def retained_replaced():
    with lib.Broker() as b:
        p = lib.client(b, "rp", version=5)
        p.pub("r/a", b"first", qos=1, retain=True)
        p.pub("r/a", b"second", qos=0, retain=True)
        p.pub("r/a", b"third", qos=1, retain=True)
        s = lib.client(b, "rs", version=5)
        s.sub("r/a", qos=1)
        m = s.expect(timeout=3)
        assert (m.payload, m.retain) == (b"third", 1), "expected only 'third' RETAIN=1, got %r RETAIN=%d" % (
            m.payload, m.retain)
        s.expect_none(timeout=0.5)


@lib.case
def retained_cleared_by_empty_payload():
    with lib.Broker() as b:
        p = lib.client(b, "rp", version=4)
        p.pub("r/a", b"kept", qos=1, retain=True)
        p.pub("r/b", b"other", qos=1, retain=True)
        live = lib.client(b, "live", version=4)
        live.sub("r/a", qos=1)
        live.expect(timeout=3)      # the retained 'kept'
        p.pub("r/a", b"", qos=1, retain=True)
        # the empty retained PUBLISH is still forwarded to existing subscribers
        m = live.expect(timeout=3)
        assert (m.payload, m.retain) == (b"", 0), "expected the empty message live with RETAIN=0, got %r RETAIN=%d" % (
            m.payload, m.retain)
        s = lib.client(b, "rs", version=5)
        s.sub("r/#", qos=1)
        m = s.expect(timeout=3)
        assert (m.topic, m.payload) == ("r/b", b"other"), "expected only r/b 'other' (r/a cleared), got %s %r" % (
            m.topic, m.payload)
        s.expect_none(timeout=0.5)
        # clearing a topic that has no retained message is harmless
        p.pub("r/none", b"", qos=0, retain=True)
        s2 = lib.client(b, "rs2", version=4)
        s2.sub("r/none", qos=0)
        s2.expect_none(timeout=0.5)


@lib.case
def live_delivery_has_retain_0():
    with lib.Broker() as b:
        s4 = lib.client(b, "s4", version=4)
        s4.sub("lr/t", qos=1)
        s5 = lib.client(b, "s5", version=5)
        s5.sub("lr/t", qos=1)
        p = lib.client(b, "p", version=5)
        p.pub("lr/t", b"x", qos=1, retain=True)
        for c, n in ((s4, "3.1.1"), (s5, "5.0")):
            m = c.expect(timeout=3)
            assert (m.payload, m.retain) == (b"x", 0), "%s: expected live 'x' RETAIN=0, got %r RETAIN=%d" % (
                n, m.payload, m.retain)


@lib.case
def wildcard_subscribe_gets_all_matching_retained():
    with lib.Broker() as b:
        p = lib.client(b, "p", version=5)
        want = {"w/a": b"1", "w/b": b"2", "w/c/d": b"3", "w": b"4"}
        for t, v in want.items():
            p.pub(t, v, qos=1, retain=True)
        p.pub("x/w", b"no", qos=1, retain=True)
        p.pub("$w/a", b"no", qos=1, retain=True)
        s = lib.client(b, "s", version=5)
        s.sub("w/#", qos=1)
        got = {}
        for m in u.collect(s, 4):
            assert m.retain == 1, "expected RETAIN=1 on %s, got 0" % m.topic
            got[m.topic] = m.payload
        assert got == want, "expected %r, got %r" % (want, got)
        s.expect_none(timeout=0.5)
        s2 = lib.client(b, "s2", version=4)
        s2.sub("+/+", qos=0)
        got = sorted(m.topic for m in u.collect(s2, 3))
        assert got == ["w/a", "w/b", "x/w"], "expected [w/a, w/b, x/w] on '+/+', got %r" % got
        s2.expect_none(timeout=0.5)


@lib.case
def retained_qos_is_min_of_stored_and_granted():
    with lib.Broker() as b:
        p = lib.client(b, "p", version=5)
        p.pub("rq/zero", b"0", qos=0, retain=True)   # first: the acks below imply it was stored
        p.pub("rq/one", b"1", qos=1, retain=True)
        p.pub("rq/two", b"2", qos=2, retain=True)
        for sq in (0, 1, 2):
            s = lib.client(b, "s%d" % sq, version=5)
            s.sub("rq/#", qos=sq)
            got = {m.topic: m.qos for m in u.collect(s, 3)}
            want = {"rq/zero": 0, "rq/one": min(1, sq), "rq/two": min(2, sq)}
            assert got == want, "granted %d: expected QoS %r, got %r" % (sq, want, got)


@lib.case
def retain_handling_0_always():
    with lib.Broker() as b:
        p = lib.client(b, "p", version=5)
        p.pub("rh/t", b"v", qos=1, retain=True)
        s = lib.client(b, "s", version=5)
        opts = SubscribeOptions(qos=1, retainHandling=0)
        s.sub("rh/t", options=opts)
        m = s.expect(timeout=3)
        assert (m.payload, m.retain) == (b"v", 1), "expected retained 'v', got %r" % m.payload
        s.sub("rh/t", options=opts)       # re-subscribe: sent again
        m = s.expect(timeout=3)
        assert (m.payload, m.retain) == (b"v", 1), "expected retained 'v' again on re-subscribe, got %r" % m.payload
        s.expect_none(timeout=0.5)


@lib.case
def retain_handling_1_only_new_subscription():
    with lib.Broker() as b:
        p = lib.client(b, "p", version=5)
        p.pub("rh/t", b"v", qos=1, retain=True)
        s = lib.client(b, "s", version=5)
        opts = SubscribeOptions(qos=1, retainHandling=1)
        s.sub("rh/t", options=opts)
        m = s.expect(timeout=3)
        assert (m.payload, m.retain) == (b"v", 1), "expected retained 'v' on a new subscription, got %r" % m.payload
        s.sub("rh/t", options=opts)       # existing subscription: not sent
        s.expect_none(timeout=1)
        s.unsub("rh/t")
        s.sub("rh/t", options=opts)       # new again after unsubscribe
        m = s.expect(timeout=3)
        assert m.payload == b"v", "expected retained 'v' after unsubscribe+subscribe, got %r" % m.payload


@lib.case
def retain_handling_2_never():
    with lib.Broker() as b:
        p = lib.client(b, "p", version=5)
        p.pub("rh/t", b"v", qos=1, retain=True)
        s = lib.client(b, "s", version=5)
        s.sub("rh/#", options=SubscribeOptions(qos=1, retainHandling=2))
        s.expect_none(timeout=1)
        p.pub("rh/t", b"live", qos=1, retain=True)
        m = s.expect(timeout=3)
        assert m.payload == b"live", "expected live 'live' with Retain Handling 2, got %r" % m.payload


@lib.case
def retain_as_published():
    with lib.Broker() as b:
        rap = lib.client(b, "rap", version=5)
        rap.sub("ra/t", options=SubscribeOptions(qos=1, retainAsPublished=True))
        plain = lib.client(b, "plain", version=5)
        plain.sub("ra/t", options=SubscribeOptions(qos=1, retainAsPublished=False))
        p = lib.client(b, "p", version=5)
        p.pub("ra/t", b"r", qos=1, retain=True)
        p.pub("ra/t", b"n", qos=1, retain=False)
        got = [(m.payload, m.retain) for m in u.collect(rap, 2)]
        assert got == [(b"r", 1), (b"n", 0)], "expected RAP [('r',1),('n',0)], got %r" % got
        got = [(m.payload, m.retain) for m in u.collect(plain, 2)]
        assert got == [(b"r", 0), (b"n", 0)], "expected non-RAP [('r',0),('n',0)], got %r" % got
        # RAP does not change the flag of a retained message sent on subscribe
        late = lib.client(b, "late", version=5)
        late.sub("ra/t", options=SubscribeOptions(qos=1, retainAsPublished=False))
        m = late.expect(timeout=3)
        assert (m.payload, m.retain) == (b"r", 1), "expected retained 'r' RETAIN=1 on subscribe, got %r RETAIN=%d" % (
            m.payload, m.retain)


@lib.case
def retain_unavailable():
    with lib.Broker(extra="retain_available false\n") as b:
        s = lib.client(b, "s", version=5)
        s.sub("ru/#", qos=1)
        r = u.RawClient(b, "ru5")
        ra = u.getprop(r.connack_props, u.RETAIN_AVAIL)
        assert ra == 0, "expected CONNACK Retain Available 0, got %r" % ra
        assert r.pub("ru/ok", b"plain", qos=1) in (0, 0x10), "expected a plain publish to succeed"
        m = s.expect(timeout=3)
        assert m.payload == b"plain", "expected 'plain', got %r" % m.payload
        r.send(u.publish("ru/t", b"kept?", qos=1, pid=5, retain=True))
        r.expect_disconnect(0x9A)
        s.expect_none(timeout=0.5)
        s2 = lib.client(b, "s2", version=5)
        s2.sub("ru/#", qos=1)
        s2.expect_none(timeout=0.5)


@lib.case
def retain_available_default_advertised():
    with lib.Broker() as b:
        r = u.RawClient(b, "rav")
        ra = u.getprop(r.connack_props, u.RETAIN_AVAIL, 1)
        assert ra == 1, "expected Retain Available 1 (or absent), got %r" % ra
        r.close()


@lib.case
def retained_not_sent_to_shared_subscription():
    u.warden_only("mosquitto sends retained messages on a shared subscribe")
    with lib.Broker() as b:
        p = lib.client(b, "p", version=5)
        p.pub("sr/t", b"stored", qos=1, retain=True)
        m1 = lib.client(b, "m1", version=5)
        m1.sub("$share/g/sr/t", qos=1)
        m4 = lib.client(b, "m4", version=4)
        m4.sub("$share/h/sr/#", qos=1)
        m1.expect_none(timeout=1)
        m4.expect_none(timeout=0.2)
        p.pub("sr/t", b"live", qos=1)
        for c in (m1, m4):
            m = c.expect(timeout=3)
            assert m.payload == b"live", "expected live message on the shared subscription, got %r" % m.payload
        # an ordinary subscription still gets the retained message
        o = lib.client(b, "o", version=5)
        o.sub("sr/t", qos=1)
        m = o.expect(timeout=3)
        assert (m.payload, m.retain) == (b"stored", 1), "expected retained 'stored', got %r" % m.payload


@lib.case
def retained_with_expired_interval_not_delivered():
    with lib.Broker() as b:
        p = lib.client(b, "p", version=5)
        p.pub("re/t", b"brief", qos=1, retain=True, props={"MessageExpiryInterval": 1})
        p.pub("re/u", b"long", qos=1, retain=True, props={"MessageExpiryInterval": 100})
        time.sleep(2.2)     # let the 1-second interval pass
        s = lib.client(b, "s", version=5)
        s.sub("re/#", qos=1)
        m = s.expect(timeout=3)
        assert m.topic == "re/u", "expected only re/u (re/t expired), got %s" % m.topic
        e = u.mprop(m, "MessageExpiryInterval")
        assert e is not None and e <= 98, "expected remaining expiry <= 98, got %r" % e
        s.expect_none(timeout=0.5)


@lib.case
def many_retained_through_the_window():
    """500 retained messages to a QoS 1 wildcard subscriber: all arrive, each
    once, past the outbound window (max_inflight_messages 20)."""
    with lib.Broker() as b:
        p = u.RawClient(b, "mrp", version=4)
        p.send(b"".join(u.publish("mr/%03d" % i, b"%d" % i, qos=0, retain=True, version=4)
                        for i in range(500)))
        p.pub("mr/zzz-sync", b"sync", qos=1, retain=True)   # all earlier ones processed
        s = lib.client(b, "mrs", version=5)
        s.sub("mr/#", qos=1)
        got = u.collect(s, 501, timeout=20)
        topics = sorted(m.topic for m in got)
        assert topics == sorted(["mr/%03d" % i for i in range(500)] + ["mr/zzz-sync"]), (
            "expected 501 distinct retained topics, got %d (%d distinct)" % (len(topics), len(set(topics))))
        assert all(m.retain for m in got), "expected RETAIN=1 on every retained message"
        s.expect_none(timeout=0.5)


@lib.case
def retained_via_topic_alias():
    with lib.Broker() as b:
        p = u.RawClient(b, "rta")
        p.pub("ta/r", b"one", qos=1, props=[(u.TOPIC_ALIAS, 1)])
        p.pub("", b"two", qos=1, retain=True, props=[(u.TOPIC_ALIAS, 1)])
        s = lib.client(b, "rtas", version=5)
        s.sub("ta/#", qos=1)
        m = s.expect(timeout=3)
        assert (m.topic, m.payload, m.retain) == ("ta/r", b"two", 1), (
            "expected retained ta/r 'two' stored under the real topic, got %s %r %d" % (
                m.topic, m.payload, m.retain))
        s.expect_none(timeout=0.3)


@lib.case
def retained_dollar_topic_only_for_dollar_filter():
    with lib.Broker() as b:
        p = lib.client(b, "rdp", version=4)
        p.pub("$app/r", b"d", qos=1, retain=True)
        p.pub("app/r", b"n", qos=1, retain=True)
        s = lib.client(b, "rds", version=5)
        s.sub("#", qos=1)
        m = s.expect(timeout=3)
        assert m.topic == "app/r", "expected only app/r on '#', got %s" % m.topic
        s.expect_none(timeout=0.5)
        s.sub("$app/#", qos=1)
        m = s.expect(timeout=3)
        assert (m.topic, m.retain) == ("$app/r", 1), "expected retained $app/r, got %s" % m.topic


@lib.case
def retained_respects_client_maximum_packet_size():
    with lib.Broker() as b:
        p = lib.client(b, "rmp", version=5)
        p.pub("rm/big", b"B" * 1000, qos=1, retain=True)
        p.pub("rm/small", b"s", qos=1, retain=True)
        s = u.RawClient(b, "rms", props=[(u.MAX_PACKET, 200)])
        s.sub([("rm/#", 0)])
        m = s.expect_pub()
        assert (m.topic, m.retain) == ("rm/small", True), "expected only retained rm/small, got %r" % m
        s.expect_no_pub(timeout=0.7)


@lib.case
def retained_qos2_from_v311_and_clear_from_v5_qos0():
    with lib.Broker() as b:
        p4 = lib.client(b, "p4", version=4)
        p4.pub("rc/t", b"v", qos=2, retain=True)
        s = lib.client(b, "s", version=5)
        s.sub("rc/t", qos=2)
        m = s.expect(timeout=3)
        assert (m.payload, m.qos, m.retain) == (b"v", 2, 1), "expected retained 'v' QoS 2, got %r QoS %d" % (
            m.payload, m.qos)
        p5 = lib.client(b, "p5", version=5)
        p5.pub("rc/t", b"", qos=0, retain=True)
        s.expect(timeout=3)            # the live empty message
        s2 = lib.client(b, "s2", version=4)
        s2.sub("rc/t", qos=2)
        s2.expect_none(timeout=0.7)


@lib.case
def suback_before_retained_and_subscription_id():
    with lib.Broker() as b:
        p = lib.client(b, "sbp", version=5)
        for i in range(5):
            p.pub("sb/%d" % i, b"%d" % i, qos=1, retain=True)
        r = u.RawClient(b, "sbr")
        r.send(u.subscribe(9, [("sb/#", 1)], props=[(u.SUB_ID, 77)]))
        first = r.recv(timeout=3)
        assert first is not None and first[0] == u.SUBACK, (
            "expected SUBACK before any retained PUBLISH, got packet type %r" % (first and first[0]))
        got = []
        for _ in range(5):
            m = r.expect_pub()
            assert m.retain and m.prop(u.SUB_ID) == 77, "expected RETAIN=1 and subscription id 77, got %r" % m
            got.append(m.topic)
            r.send(u.ack(u.PUBACK, m.pid))
        assert sorted(got) == ["sb/%d" % i for i in range(5)], "expected sb/0..4, got %r" % got


lib.run()
