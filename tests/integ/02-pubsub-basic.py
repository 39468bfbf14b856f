#!/usr/bin/python3
"""Pub/sub basics: command-line clients (3.1.1 and 5.0), wildcards, '$' topics,
overlapping subscriptions, No Local, unsubscribe, invalid filters, the
per-client subscription limit and the max_qos cap (contract.md, SUBSCRIBE)."""
import threading

import lib
from paho.mqtt.subscribeoptions import SubscribeOptions

import pubsub_util as u


def _mosq_sub_until(b, args, pub):
    """Run mosquitto_sub with args in a thread; call pub() every 0.2 s until it
    exits (it has -C so it exits after its messages; -W bounds it)."""
    out = {}

    def run():
        out["p"] = lib.mosq_sub(b, *args)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    for _ in range(50):         # <= 10 s
        if not t.is_alive():
            break
        pub()
        t.join(0.2)
    t.join(10)
    assert "p" in out, "mosquitto_sub did not finish"
    return out["p"]


def _cli_roundtrip(version):
    with lib.Broker() as b:
        # mosquitto_pub -> mosquitto_sub
        p = _mosq_sub_until(
            b, ["-V", version, "-t", "cli/+", "-C", "1", "-W", "10", "-v", "-q", "1"],
            lambda: lib.mosq_pub(b, "-V", version, "-t", "cli/one", "-m", "hello", "-q", "1"))
        assert p.returncode == 0, "expected mosquitto_sub exit 0, got %d (%s)" % (
            p.returncode, p.stderr)
        out = p.stdout.decode("utf-8", "replace").strip()
        assert out == "cli/one hello", "expected 'cli/one hello', got %r" % out
        # mosquitto_pub -> paho subscriber of the other version
        s = lib.client(b, "psub", version=4 if version == "mqttv5" else 5)
        s.sub("cli/#", qos=1)
        r = lib.mosq_pub(b, "-V", version, "-t", "cli/two", "-m", "world", "-q", "1")
        assert r.returncode == 0, "expected mosquitto_pub exit 0, got %d (%s)" % (
            r.returncode, r.stderr)
        m = s.expect(timeout=3)
        assert (m.topic, m.payload) == ("cli/two", b"world"), "expected cli/two world, got %s %r" % (
            m.topic, m.payload)
        # paho publisher -> mosquitto_sub
        pp = lib.client(b, "ppub", version=5 if version == "mqttv5" else 4)
        p = _mosq_sub_until(
            b, ["-V", version, "-t", "cli/three", "-C", "1", "-W", "10"],
            lambda: pp.pub("cli/three", b"x3", qos=0))
        out = p.stdout.decode("utf-8", "replace").strip()
        assert out == "x3", "expected 'x3', got %r (rc %d, %s)" % (out, p.returncode, p.stderr)


@lib.case
def cli_roundtrip_v311():
    _cli_roundtrip("mqttv311")


@lib.case
def cli_roundtrip_v5():
    _cli_roundtrip("mqttv5")


@lib.case
def cli_v5_user_property_and_retain():
    with lib.Broker() as b:
        r = lib.mosq_pub(b, "-V", "mqttv5", "-t", "cli/ret", "-m", "kept", "-r", "-q", "1",
                         "-D", "publish", "user-property", "k", "v")
        assert r.returncode == 0, "expected mosquitto_pub exit 0, got %d (%s)" % (
            r.returncode, r.stderr)
        p = lib.mosq_sub(b, "-V", "mqttv5", "-t", "cli/ret", "-C", "1", "-W", "5",
                         "-F", "%t %p %r")
        assert p.returncode == 0, "expected mosquitto_sub exit 0, got %d (%s)" % (
            p.returncode, p.stderr)
        out = p.stdout.decode("utf-8", "replace").strip()
        assert out == "cli/ret kept 1", "expected 'cli/ret kept 1', got %r" % out
        # mosquitto_sub prints user properties with %P
        p = lib.mosq_sub(b, "-V", "mqttv5", "-t", "cli/ret", "-C", "1", "-W", "5", "-F", "%P")
        assert b"k:v" in p.stdout, "expected user property k:v, got %r" % p.stdout


def _check_matches(b, flt, yes, no, version=5):
    s = lib.client(b, "wsub", version=version)
    s.sub(flt, qos=1)
    p = lib.client(b, "wpub", version=version)
    for t in no + yes:
        p.pub(t, t.encode(), qos=1)
    got = sorted(m.topic for m in u.drain(s, quiet=0.7))
    assert got == sorted(yes), "filter %r: expected %r, got %r" % (flt, sorted(yes), got)
    s.disconnect()
    p.disconnect()


@lib.case
def wildcard_plus():
    with lib.Broker() as b:
        _check_matches(b, "a/+/c", yes=["a/b/c", "a//c", "a/xyz/c"],
                       no=["a/b/d", "a/b/c/d", "a/c", "b/b/c", "a/b"])
        _check_matches(b, "+", yes=["x", "y"], no=["x/y", "/x"], version=4)
        _check_matches(b, "+/x", yes=["/x", "q/x"], no=["x", "q/x/y"])
        _check_matches(b, "+/+", yes=["a/b", "/b", "a/", "/"], no=["a", "a/b/c"], version=4)


@lib.case
def wildcard_hash():
    with lib.Broker() as b:
        _check_matches(b, "a/#", yes=["a", "a/b", "a/b/c", "a/"], no=["b", "ab", "b/a"])
        _check_matches(b, "#", yes=["a", "a/b", "/x", "zz/top"], no=[], version=4)
        _check_matches(b, "a/+/#", yes=["a/b", "a/b/c", "a/b/c/d"], no=["a", "b/c/d"])


@lib.case
def dollar_topics_not_matched_by_wildcards():
    with lib.Broker() as b:
        s_all = lib.client(b, "hash", version=5)
        s_all.sub("#", qos=1)
        s_plus = lib.client(b, "plus", version=4)
        s_plus.sub("+/x", qos=1)
        s_plus.sub("+/+", qos=1)
        s_dollar = lib.client(b, "dollar", version=5)
        s_dollar.sub("$priv/#", qos=1)
        p = lib.client(b, "pub", version=5)
        p.pub("$priv/x", b"d", qos=1)
        m = s_dollar.expect(timeout=3)
        assert m.topic == "$priv/x", "expected $priv/x on '$priv/#', got %s" % m.topic
        p.pub("norm/x", b"n", qos=1)
        m = s_all.expect(timeout=3)
        assert m.topic == "norm/x", "expected '#' to get norm/x first (not $priv/x), got %s" % m.topic
        m = s_plus.expect(timeout=3)
        assert m.topic == "norm/x", "expected '+/x' and '+/+' to match norm/x (once), got %s" % m.topic
        s_all.expect_none(timeout=0.5)
        s_plus.expect_none(timeout=0.5)


@lib.case
def overlapping_delivered_once_at_highest_qos():
    u.warden_only('mosquitto does not deliver at the highest overlapping QoS')
    with lib.Broker() as b:
        for ver in (4, 5):
            s = lib.client(b, "ov%d" % ver, version=ver)
            s.sub("ov/#", qos=0)
            s.sub("ov/+", qos=2)
            s.sub("ov/a", qos=1)
            p = lib.client(b, "ovp%d" % ver, version=ver)
            p.pub("ov/a", b"m1", qos=2)
            m = s.expect(timeout=3)
            assert (m.payload, m.qos) == (b"m1", 2), (
                "v%d: expected m1 at QoS 2, got %r at QoS %d" % (ver, m.payload, m.qos))
            s.expect_none(timeout=1)
            s.disconnect()
            p.disconnect()


@lib.case
def overlapping_carries_every_subscription_identifier():
    u.warden_only('mosquitto does not merge overlapping subscriptions')
    with lib.Broker() as b:
        s = lib.client(b, "sid", version=5)
        s.sub("si/#", qos=0, props=u.props_for("SUBSCRIBE", SubscriptionIdentifier=11))
        s.sub("si/+/c", qos=1, props=u.props_for("SUBSCRIBE", SubscriptionIdentifier=22))
        s.sub("si/b/c", qos=0, props=u.props_for("SUBSCRIBE", SubscriptionIdentifier=333))
        s.sub("si/b/#", qos=0)   # no identifier
        p = lib.client(b, "sidp", version=5)
        p.pub("si/b/c", b"x", qos=1)
        m = s.expect(timeout=3)
        assert m.qos == 1, "expected QoS 1 (highest granted), got %d" % m.qos
        assert u.subids(m) == [11, 22, 333], "expected subscription ids [11, 22, 333], got %r" % u.subids(m)
        s.expect_none(timeout=1)
        p.pub("si/q", b"y", qos=0)
        m = s.expect(timeout=3)
        assert u.subids(m) == [11], "expected subscription ids [11] for si/q, got %r" % u.subids(m)
        # replacing a subscription without an identifier removes its identifier
        s.sub("si/#", qos=0)
        p.pub("si/q", b"z", qos=0)
        m = s.expect(timeout=3)
        assert u.subids(m) == [], "expected no subscription id after re-subscribe, got %r" % u.subids(m)


@lib.case
def no_local():
    with lib.Broker() as b:
        a = lib.client(b, "nl-a", version=5)
        a.sub("nl/t", options=SubscribeOptions(qos=1, noLocal=True))
        other = lib.client(b, "nl-b", version=5)
        other.sub("nl/t", qos=1)
        a.pub("nl/t", b"own", qos=1)
        m = other.expect(timeout=3)
        assert m.payload == b"own", "expected other subscriber to get 'own', got %r" % m.payload
        a.expect_none(timeout=1)
        other.pub("nl/t", b"foreign", qos=1)
        m = a.expect(timeout=3)
        assert m.payload == b"foreign", "expected No Local subscriber to get 'foreign', got %r" % m.payload
        # without No Local a client gets its own messages
        other.expect(timeout=3)
        other.expect_none(timeout=0.3)


@lib.case
def unsubscribe_v5():
    with lib.Broker() as b:
        s = lib.client(b, "us5", version=5)
        s.sub("u/a", qos=1)
        s.sub("u/b", qos=1)
        p = lib.client(b, "usp", version=5)
        rc = u.codes(s.unsub("u/a"))
        assert rc == [0], "expected UNSUBACK [0x00], got %r" % rc
        rc = u.codes(s.unsub("u/never"))
        assert rc == [0x11], "expected UNSUBACK [0x11] for a filter not subscribed, got %r" % rc
        rc = u.codes(s.unsub("u/a"))
        assert rc == [0x11], "expected UNSUBACK [0x11] on second unsubscribe, got %r" % rc
        p.pub("u/a", b"gone", qos=1)
        p.pub("u/b", b"still", qos=1)
        m = s.expect(timeout=3)
        assert m.payload == b"still", "expected only 'still' after unsubscribe, got %r" % m.payload
        s.expect_none(timeout=1)


@lib.case
def unsubscribe_raw_multi_v5():
    with lib.Broker() as b:
        r = u.RawClient(b, "usraw")
        assert r.sub([("x/1", 0), ("x/2", 1)]) == [0, 1]
        pid = r.next_pid()
        r.send(u.unsubscribe(pid, ["x/2", "x/none", "x/1", "x/+"]))
        p = r.expect(u.UNSUBACK)
        gpid, rc, _ = u.parse_suback(p[2])
        assert gpid == pid, "expected UNSUBACK pid %d, got %d" % (pid, gpid)
        assert rc == [0, 0x11, 0, 0x11], "expected UNSUBACK codes [0,0x11,0,0x11], got %r" % rc
        r.close()


@lib.case
def unsubscribe_v311():
    with lib.Broker() as b:
        s = lib.client(b, "us4", version=4)
        s.sub("u/a", qos=1)
        s.unsub("u/a")
        s.unsub("u/never")      # 3.1.1: plain UNSUBACK, connection stays
        p = lib.client(b, "usp4", version=4)
        p.pub("u/a", b"gone", qos=1)
        s.expect_none(timeout=1)
        s.sub("u/a", qos=0)
        p.pub("u/a", b"back", qos=1)
        m = s.expect(timeout=3)
        assert m.payload == b"back", "expected 'back' after re-subscribe, got %r" % m.payload


@lib.case
def invalid_filters_per_entry_v5():
    u.warden_only('mosquitto closes the connection on an invalid filter')
    with lib.Broker(extra="max_topic_levels 4\n") as b:
        r = u.RawClient(b, "inv5")
        entries = [("a/#/b", 0), ("ok/1", 1), ("a+", 0), ("#x", 0), ("a/b#", 1),
                   ("l1/l2/l3/l4/l5", 0), ("ok/+/#", 2)]
        rc = r.sub(entries)
        assert rc == [0x8F, 1, 0x8F, 0x8F, 0x8F, 0x8F, 2], (
            "expected [0x8F,1,0x8F,0x8F,0x8F,0x8F,2], got %r" % [hex(c) for c in rc])
        # the valid entries took effect, the connection is still usable
        p = lib.client(b, "invp", version=5)
        p.pub("ok/1", b"v", qos=1)
        m = r.expect_pub()
        assert m.payload == b"v" and m.qos == 1, "expected 'v' at QoS 1, got %r" % m
        r.close()


@lib.case
def invalid_filters_per_entry_v311():
    u.warden_only('mosquitto closes the connection on an invalid filter')
    with lib.Broker() as b:
        r = u.RawClient(b, "inv4", version=4)
        rc = r.sub([("a/#/b", 1), ("ok/1", 1), ("+x", 0)])
        assert rc == [0x80, 1, 0x80], "expected [0x80,1,0x80], got %r" % [hex(c) for c in rc]
        r.close()


@lib.case
def max_subscriptions_per_client():
    u.warden_only('mosquitto has no max_subscriptions_per_client')
    with lib.Broker(extra="max_subscriptions_per_client 2\n") as b:
        r = u.RawClient(b, "ms5")
        rc = r.sub([("m/1", 0), ("m/2", 1), ("m/3", 1)])
        assert rc == [0, 1, 0x97], "expected [0,1,0x97], got %r" % [hex(c) for c in rc]
        # replacing an existing subscription is not a new one
        rc = r.sub([("m/2", 2)])
        assert rc == [2], "expected [2] when replacing m/2 at the limit, got %r" % rc
        rc = r.sub([("m/4", 0)])
        assert rc == [0x97], "expected [0x97] for a third filter, got %r" % rc
        # after an unsubscribe there is room again
        pid = r.next_pid()
        r.send(u.unsubscribe(pid, ["m/1"]))
        r.expect(u.UNSUBACK)
        rc = r.sub([("m/4", 1)])
        assert rc == [1], "expected [1] after unsubscribing one, got %r" % rc
        r4 = u.RawClient(b, "ms4", version=4)
        rc = r4.sub([("m/1", 0), ("m/2", 0), ("m/3", 0)])
        assert rc == [0, 0, 0x80], "expected 3.1.1 [0,0,0x80], got %r" % [hex(c) for c in rc]
        r.close()
        r4.close()


@lib.case
def granted_qos_capped_by_max_qos():
    with lib.Broker(extra="max_qos 1\n") as b:
        r = u.RawClient(b, "mq5")
        mq = u.getprop(r.connack_props, u.MAX_QOS)
        assert mq == 1, "expected CONNACK Maximum QoS 1, got %r" % mq
        rc = r.sub([("q/2", 2), ("q/1", 1), ("q/0", 0)])
        assert rc == [1, 1, 0], "expected granted [1,1,0], got %r" % rc
        r4 = u.RawClient(b, "mq4", version=4)
        rc = r4.sub([("q/2", 2)])
        assert rc == [1], "expected 3.1.1 granted [1], got %r" % rc
        p = lib.client(b, "mqp", version=5)
        p.pub("q/2", b"one", qos=1)
        m = r.expect_pub()
        assert (m.payload, m.qos) == (b"one", 1), "expected 'one' at QoS 1, got %r" % m
        m = r4.expect_pub()
        assert (m.payload, m.qos) == (b"one", 1), "expected 3.1.1 'one' at QoS 1, got %r" % m
        r.close()
        r4.close()
    with lib.Broker(extra="max_qos 0\n") as b:
        r = u.RawClient(b, "mq0")
        mq = u.getprop(r.connack_props, u.MAX_QOS)
        assert mq == 0, "expected CONNACK Maximum QoS 0, got %r" % mq
        rc = r.sub([("q/2", 2), ("q/1", 1)])
        assert rc == [0, 0], "expected granted [0,0], got %r" % rc
        r.close()
    with lib.Broker() as b:
        r = u.RawClient(b, "mqdef")
        mq = u.getprop(r.connack_props, u.MAX_QOS)
        assert mq is None, "expected no Maximum QoS in CONNACK with max_qos 2, got %r" % mq
        r.close()


@lib.case
def invalid_publish_topics_v5():
    u.warden_only('mosquitto answers 0x82 and has no max_topic_length/levels')
    with lib.Broker(extra="max_topic_length 20\nmax_topic_levels 3\n") as b:
        s = lib.client(b, "ipt-s", version=5)
        s.sub("#", qos=0)
        for i, topic in enumerate(["a/+", "a/#", "+", "", "x" * 21, "a/b/c/d"]):
            p = u.RawClient(b, "ipt%d" % i)
            p.send(u.publish(topic, b"bad", qos=0))
            try:
                p.expect_disconnect(0x90)
            except AssertionError as e:
                raise AssertionError("topic %r: %s" % (topic, e))
        # at the limits is fine
        p = u.RawClient(b, "ipt-ok")
        assert p.pub("x" * 20, b"ok1", qos=1) == 0, "expected PUBACK 0 for a 20-byte topic"
        assert p.pub("a/b/c", b"ok2", qos=1) == 0, "expected PUBACK 0 for a 3-level topic"
        got = [m.payload for m in u.collect(s, 2)]
        assert got == [b"ok1", b"ok2"], "expected only ok1, ok2 delivered, got %r" % got
        s.expect_none(timeout=0.3)


@lib.case
def invalid_publish_topic_v311_closes():
    with lib.Broker() as b:
        for i, topic in enumerate(["a/+", "#", ""]):
            p = u.RawClient(b, "ipt4-%d" % i, version=4)
            p.send(u.publish(topic, b"bad", qos=1, pid=1, version=4))
            try:
                p.r.expect_closed(timeout=3)
            except AssertionError as e:
                raise AssertionError("3.1.1 topic %r: %s" % (topic, e))


@lib.case
def filter_too_long_rejected():
    u.warden_only('mosquitto has no max_topic_length')
    with lib.Broker(extra="max_topic_length 20\n") as b:
        r = u.RawClient(b, "ftl")
        rc = r.sub([("f" * 21, 0), ("f" * 20, 1), ("g" * 19 + "/#", 0)])
        assert rc == [0x8F, 1, 0x8F], "expected [0x8F,1,0x8F] (21-byte filters too long), got %r" % [
            hex(c) for c in rc]


@lib.case
def subscribe_option_errors_v5():
    u.warden_only('mosquitto accepts No Local on a shared subscription')
    """SUBSCRIBE protocol errors: QoS 3, Retain Handling 3, reserved bits,
    No Local on a shared subscription, no entries, Subscription Identifier 0."""
    with lib.Broker() as b:
        cases = [
            ("qos3", u.subscribe(1, [("a", 3)]), (0x81, 0x82)),
            ("retain-handling-3", u.subscribe(1, [("a", 0x30)]), (0x81, 0x82)),
            ("reserved-bits", u.subscribe(1, [("a", 0x40)]), (0x81,)),
            ("no-local-shared", u.subscribe(1, [("$share/g/a", 0x04)]), (0x82,)),
            ("no-entries", u.subscribe(1, []), (0x81, 0x82)),
            ("subid-0", u.subscribe(1, [("a", 0)], props=[(u.SUB_ID, 0)]), (0x81, 0x82)),
            ("bad-fixed-flags", u.packet(u.SUBSCRIBE, 0, u.subscribe(1, [("a", 0)])[2:]), (0x81,)),
        ]
        for name, pkt, allowed in cases:
            r = u.RawClient(b, "soe-" + name)
            r.send(pkt)
            p = r.expect(u.DISCONNECT, 3, " (DISCONNECT for %s)" % name)
            rc, _ = u.parse_disconnect(p[2])
            assert rc in allowed, "%s: expected DISCONNECT %s, got 0x%02x" % (
                name, "/".join("0x%02x" % a for a in allowed), rc)
            r.r.expect_closed(timeout=3)


@lib.case
def subscription_identifier_in_client_publish_is_error():
    u.warden_only('mosquitto ignores a Subscription Identifier in PUBLISH')
    with lib.Broker() as b:
        r = u.RawClient(b, "sidpub")
        r.send(u.publish("x/y", b"z", qos=0, props=[(u.SUB_ID, 5)]))
        p = r.expect(u.DISCONNECT)
        rc, _ = u.parse_disconnect(p[2])
        assert rc in (0x81, 0x82), "expected DISCONNECT 0x82 (or 0x81), got 0x%02x" % rc


@lib.case
def fan_out_many_subscribers():
    with lib.Broker() as b:
        subs = [lib.client(b, "fo%d" % i, version=5 if i % 2 else 4) for i in range(40)]
        for i, c in enumerate(subs):
            c.sub("fo/#" if i % 3 else "fo/+/x", qos=i % 3)
        p = lib.client(b, "fop", version=5)
        p.pub("fo/a/x", b"all", qos=2)
        for i, c in enumerate(subs):
            m = c.expect(timeout=5)
            assert (m.payload, m.qos) == (b"all", i % 3), "sub %d: expected 'all' at QoS %d, got %r at %d" % (
                i, i % 3, m.payload, m.qos)
        for c in subs:
            c.expect_none(timeout=0.05)


@lib.case
def large_payload_intact():
    with lib.Broker() as b:
        s = lib.client(b, "lps", version=5)
        s.sub("lp/t", qos=1)
        s4 = lib.client(b, "lps4", version=4)
        s4.sub("lp/t", qos=2)
        p = lib.client(b, "lpp", version=4)
        for n in (0, 1, 127, 128, 16383, 16384, 65536, 300000, 1048000):
            payload = bytes((i * 7 + n) % 251 for i in range(n))
            p.pub("lp/t", payload, qos=1, timeout=10)
            for c in (s, s4):
                m = c.expect(timeout=10)
                assert m.payload == payload, "size %d: expected the payload intact, got %d bytes" % (
                    n, len(m.payload))


@lib.case
def ordering_and_no_loss_qos0_qos1():
    with lib.Broker() as b:
        s = lib.client(b, "ord", version=5)
        s.sub("ord/#", qos=1)
        r = u.RawClient(b, "ordp", version=4)
        # one write: 300 QoS 0 then 300 QoS 1 without waiting for PUBACKs
        data = b"".join(u.publish("ord/0", b"%d" % i, version=4) for i in range(300))
        data += b"".join(u.publish("ord/1", b"%d" % i, qos=1, pid=i + 1, version=4) for i in range(300))
        r.send(data)
        acks = set()
        for _ in range(300):
            p = r.expect(u.PUBACK, 5)
            acks.add(u.parse_ack(p[2], 4)[0])
        assert acks == set(range(1, 301)), "expected PUBACKs for 1..300, missing %r" % sorted(
            set(range(1, 301)) - acks)[:10]
        got = u.collect(s, 600, timeout=20)
        q0 = [int(m.payload) for m in got if m.topic == "ord/0"]
        q1 = [int(m.payload) for m in got if m.topic == "ord/1"]
        assert q0 == list(range(300)), "expected QoS 0 0..299 in order, got %r..." % q0[:20]
        assert q1 == list(range(300)), "expected QoS 1 0..299 in order, got %r..." % q1[:20]


@lib.case
def topic_names_are_exact():
    with lib.Broker() as b:
        _check_matches(b, "a/b", yes=["a/b"], no=["a/b/", "/a/b", "A/b", "a/b ", "a//b"])
        _check_matches(b, "ü/€/+", yes=["ü/€/x", "ü/€/日本"], no=["u/€/x", "ü/€"])
        _check_matches(b, "/", yes=["/"], no=["//", "a/"], version=4)


@lib.case
def overlapping_no_local_applies_per_subscription():
    u.warden_only('mosquitto does not merge overlapping subscriptions')
    """Own message: the No Local subscription does not match, the other one
    does -> one delivery carrying only the other's identifier."""
    with lib.Broker() as b:
        c = lib.client(b, "onl", version=5)
        c.sub("onl/#", options=SubscribeOptions(qos=2, noLocal=True),
              props=u.props_for("SUBSCRIBE", SubscriptionIdentifier=1))
        c.sub("onl/t", options=SubscribeOptions(qos=0),
              props=u.props_for("SUBSCRIBE", SubscriptionIdentifier=2))
        c.pub("onl/t", b"own", qos=2)
        m = c.expect(timeout=3)
        assert (m.payload, m.qos, u.subids(m)) == (b"own", 0, [2]), (
            "expected own message once at QoS 0 with ids [2], got %r QoS %d ids %r" % (
                m.payload, m.qos, u.subids(m)))
        c.expect_none(timeout=0.5)
        c.pub("onl/u", b"own2", qos=1)     # only the No Local one matches
        c.expect_none(timeout=0.5)
        o = lib.client(b, "onl-o", version=5)
        o.pub("onl/t", b"other", qos=2)
        m = c.expect(timeout=3)
        assert (m.payload, m.qos, u.subids(m)) == (b"other", 2, [1, 2]), (
            "expected other's message at QoS 2 with ids [1, 2], got %r QoS %d ids %r" % (
                m.payload, m.qos, u.subids(m)))


@lib.case
def resubscribe_replaces_qos():
    with lib.Broker() as b:
        c = lib.client(b, "rsq", version=4)
        assert u.codes(c.sub("rq/t", qos=2)) == [2]
        assert u.codes(c.sub("rq/t", qos=0)) == [0]
        p = lib.client(b, "rsqp", version=4)
        p.pub("rq/t", b"x", qos=2)
        m = c.expect(timeout=3)
        assert m.qos == 0, "expected QoS 0 after re-subscribing at 0, got %d" % m.qos
        c.expect_none(timeout=0.5)


@lib.case
def unsubscribe_matches_filter_text_not_topics():
    with lib.Broker() as b:
        c = lib.client(b, "umt", version=5)
        c.sub([("um/b", 1), ("um/+", 1)])
        rc = u.codes(c.unsub("um/#"))
        assert rc == [0x11], "expected 0x11 for um/# (never subscribed), got %r" % rc
        rc = u.codes(c.unsub("um/+"))
        assert rc == [0], "expected 0 for um/+, got %r" % rc
        p = lib.client(b, "umtp", version=5)
        p.pub("um/b", b"b", qos=1)
        p.pub("um/c", b"c", qos=1)
        m = c.expect(timeout=3)
        assert m.payload == b"b", "expected only um/b (um/b still subscribed), got %r" % m.payload
        c.expect_none(timeout=0.5)


@lib.case
def subscription_identifier_max_value():
    with lib.Broker() as b:
        c = lib.client(b, "sidmax", version=5)
        c.sub("sm/t", qos=0, props=u.props_for("SUBSCRIBE", SubscriptionIdentifier=268435455))
        p = lib.client(b, "sidmaxp", version=5)
        p.pub("sm/t", b"x", qos=0)
        m = c.expect(timeout=3)
        assert u.subids(m) == [268435455], "expected id [268435455], got %r" % u.subids(m)


@lib.case
def cli_v31():
    with lib.Broker() as b:
        p = _mosq_sub_until(
            b, ["-V", "mqttv31", "-t", "v31/#", "-C", "1", "-W", "10", "-v"],
            lambda: lib.mosq_pub(b, "-V", "mqttv31", "-t", "v31/x", "-m", "old", "-q", "2"))
        out = p.stdout.decode("utf-8", "replace").strip()
        assert out == "v31/x old", "expected 'v31/x old', got %r (rc %d, %s)" % (out, p.returncode, p.stderr)


@lib.case
def dollar_only_special_at_first_level():
    with lib.Broker() as b:
        _check_matches(b, "a/+", yes=["a/$b"], no=["$a/b"])
        _check_matches(b, "a/#", yes=["a/$b/c"], no=["$a/b"])
        _check_matches(b, "+/#", yes=["x/$y"], no=["$x/y", "$x"])
        _check_matches(b, "$x/+", yes=["$x/y"], no=["x/y", "$x"])


@lib.case
def many_overlapping_subscription_identifiers():
    u.warden_only('mosquitto does not merge overlapping subscriptions')
    """70 overlapping subscriptions, each with its own identifier: the one
    delivery carries all 70 (contract.md: every matching identifier)."""
    import itertools
    with lib.Broker() as b:
        levels = ["l%d" % i for i in range(7)]
        filters = []
        for mask in itertools.product((0, 1), repeat=7):
            filters.append("/".join("+" if bit else lv for bit, lv in zip(mask, levels)))
        filters = filters[:70]
        r = u.RawClient(b, "manyids")
        for i, f in enumerate(filters):
            rc = r.sub([(f, 1)], props=[(u.SUB_ID, i + 1)])
            assert rc == [1], "expected [1] for %s, got %r" % (f, rc)
        p = lib.client(b, "manyidsp", version=5)
        p.pub("/".join(levels), b"x", qos=1)
        m = r.expect_pub()
        ids = sorted(v for i, v in m.props if i == u.SUB_ID)
        assert ids == list(range(1, 71)), "expected subscription ids 1..70, got %d ids (%r...)" % (
            len(ids), ids[-5:])
        r.send(u.ack(u.PUBACK, m.pid))
        r.expect_no_pub(timeout=0.5)


def _ref_match(flt, topic):
    """Reference matcher (MQTT 5.0 4.7): '+' one level, '#' last and matches
    the parent level too, wildcards at the first level don't match '$'."""
    if topic.startswith("$") and flt[:1] in ("+", "#"):
        return False
    fl, tl = flt.split("/"), topic.split("/")
    for i, f in enumerate(fl):
        if f == "#":
            return True
        if i >= len(tl):
            return False
        if f != "+" and f != tl[i]:
            return False
    return len(fl) == len(tl)


@lib.case
def random_filters_match_reference():
    """Differential test: 200 random filters on one 5.0 client, each with its
    own Subscription Identifier; for 300 random topics the identifiers on the
    one delivery must be exactly the filters the reference matcher accepts.
    Then half the filters are unsubscribed and the check repeats."""
    import random
    rnd = random.Random(20261125)
    words = ["a", "b", "c", "", "$x"]

    def rtopic():
        lv = [rnd.choice(words[:4]) for _ in range(rnd.randint(1, 4))]
        if rnd.random() < 0.15:
            lv[0] = "$x"
        return "/".join(lv)

    def rfilter():
        lv = [rnd.choice(words[:4] + ["+", "+"]) for _ in range(rnd.randint(1, 4))]
        if rnd.random() < 0.3:
            lv.append("#")
        if rnd.random() < 0.1:
            lv[0] = "$x"
        return "/".join(lv)

    filters = []
    while len(filters) < 200:
        f = rfilter()
        if f and f not in filters:
            filters.append(f)
    topics = sorted({rtopic() for _ in range(300)} - {""})
    with lib.Broker() as b:
        r = u.RawClient(b, "rnd")
        for i in range(0, len(filters), 20):
            for j, f in enumerate(filters[i:i + 20]):
                r.send(u.subscribe(r.next_pid(), [(f, 0)], props=[(u.SUB_ID, i + j + 1)]))
            for _ in filters[i:i + 20]:
                _, rc, _ = u.parse_suback(r.expect(u.SUBACK)[2])
                assert rc == [0], "expected SUBACK [0], got %r" % rc
        p = u.RawClient(b, "rndp", version=4)
        live = dict(enumerate(filters, 1))
        for rnd_round in range(2):
            p.send(b"".join(u.publish(t, t.encode(), version=4) for t in topics))
            p.pub("$zz", b"", qos=1)     # no filter matches it; its PUBACK: all routed
            want = {}
            for t in topics:
                ids = sorted(i for i, f in live.items() if _ref_match(f, t))
                if ids:
                    want[t] = ids
            got = {}
            for _ in range(5000):
                try:
                    m = r.expect_pub(timeout=0.7)
                except AssertionError:
                    break
                ids = [v for i, v in m.props if i == u.SUB_ID]
                if m.topic in got and not u.is_mosquitto():   # mosquitto sends one per subscription
                    raise AssertionError("round %d: topic %r delivered twice" % (rnd_round, m.topic))
                got[m.topic] = sorted(got.get(m.topic, []) + ids)
            bad = [(t, want.get(t), got.get(t)) for t in set(want) | set(got) if want.get(t) != got.get(t)]
            assert not bad, "round %d: %d topics differ, e.g. %r (topic, expected ids, got ids; filters %r)" % (
                rnd_round, len(bad), bad[:3], [(i, live.get(i)) for i in (bad[0][1] or bad[0][2] or [])[:5]])
            if rnd_round == 1:
                break
            # unsubscribe every other filter
            gone = [i for i in sorted(live) if i % 2 == 0]
            pid = r.next_pid()
            r.send(u.unsubscribe(pid, [live[i] for i in gone]))
            _, rc, _ = u.parse_suback(r.expect(u.UNSUBACK)[2])
            assert rc == [0] * len(gone), "expected UNSUBACK all 0, got %r" % rc
            for i in gone:
                del live[i]


lib.run()
