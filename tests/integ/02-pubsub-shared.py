#!/usr/bin/python3
"""Shared subscriptions ($share/G/F): one member per group per message,
round-robin among connected members, groups independent, ordinary
subscriptions of the same filter unaffected (contract.md, Shared subscriptions)."""
import collections

import lib

import pubsub_util as u


def _members(b, group, flt, n, prefix, version=5, qos=1):
    ms = []
    for i in range(n):
        c = lib.client(b, "%s%d" % (prefix, i), version=version)
        rc = u.codes(c.sub("$share/%s/%s" % (group, flt), qos=qos))
        assert rc == [qos], "expected SUBACK [%d] for $share/%s/%s, got %r" % (qos, group, flt, rc)
        ms.append(c)
    return ms


def _publish_n(b, topic, n, qos=1, cid="spub"):
    p = lib.client(b, cid, version=5)
    for i in range(n):
        p.pub(topic, b"%d" % i, qos=qos)
    return p


def _gather(members, total, timeout=10):
    """Messages per member until `total` arrived overall (bounded), then quiet."""
    got = {i: [] for i in range(len(members))}
    for _ in range(3):
        for i, c in enumerate(members):
            got[i] += [m.payload for m in u.drain(c, quiet=0.3)]
        if sum(len(v) for v in got.values()) >= total:
            break
    return got


@lib.case
def shared_round_robin_three_members():
    with lib.Broker() as b:
        ms = _members(b, "g", "rr/t", 3, "rr")
        _publish_n(b, "rr/t", 30)
        got = _gather(ms, 30)
        counts = [len(got[i]) for i in range(3)]
        every = sorted(int(x) for v in got.values() for x in v)
        assert every == list(range(30)), (
            "expected each of 30 messages exactly once over the group, got %r" % every)
        assert counts == [10, 10, 10], "expected 10 messages per member, got %r" % counts


@lib.case
def shared_round_robin_mixed_versions():
    with lib.Broker() as b:
        ms = _members(b, "mix", "mx/#", 1, "m5", version=5)
        ms += _members(b, "mix", "mx/#", 1, "m4", version=4)
        _publish_n(b, "mx/a/b", 10)
        got = _gather(ms, 10)
        counts = [len(got[i]) for i in range(2)]
        every = sorted(int(x) for v in got.values() for x in v)
        assert every == list(range(10)), "expected each of 10 messages once, got %r" % every
        assert counts == [5, 5], "expected 5 per member (5.0 and 3.1.1), got %r" % counts


@lib.case
def two_groups_each_get_every_message():
    with lib.Broker() as b:
        ga = _members(b, "A", "tg/t", 2, "ga")
        gb = _members(b, "B", "tg/t", 1, "gb")
        _publish_n(b, "tg/t", 12)
        a = _gather(ga, 12)
        bb = _gather(gb, 12)
        a_all = sorted(int(x) for v in a.values() for x in v)
        b_all = sorted(int(x) for v in bb.values() for x in v)
        assert a_all == list(range(12)), "expected group A to get 0..11 once, got %r" % a_all
        assert b_all == list(range(12)), "expected group B to get 0..11 once, got %r" % b_all
        assert [len(a[0]), len(a[1])] == [6, 6], "expected 6/6 in group A, got %r" % (
            [len(a[0]), len(a[1])])


@lib.case
def shared_plus_ordinary_subscription():
    with lib.Broker() as b:
        ms = _members(b, "g", "so/t", 2, "so")
        o = lib.client(b, "ordinary", version=5)
        o.sub("so/t", qos=1)
        o4 = lib.client(b, "ordinary4", version=4)
        o4.sub("so/#", qos=1)
        _publish_n(b, "so/t", 10)
        got = _gather(ms, 10)
        shared_all = sorted(int(x) for v in got.values() for x in v)
        assert shared_all == list(range(10)), "expected group to get 0..9 once, got %r" % shared_all
        for c, name in ((o, "ordinary 5.0"), (o4, "ordinary 3.1.1")):
            mine = [int(m.payload) for m in u.collect(c, 10)]
            assert mine == list(range(10)), "expected %s subscriber to get 0..9 in order, got %r" % (
                name, mine)
            c.expect_none(timeout=0.3)


@lib.case
def shared_member_leaves_rest_get_all():
    with lib.Broker() as b:
        ms = _members(b, "g", "lv/t", 3, "lv")
        ms[1].disconnect()
        rc = u.codes(ms[2].unsub("$share/g/lv/t"))
        assert rc in ([0], []), "expected UNSUBACK [0] for $share/g/lv/t, got %r" % rc
        _publish_n(b, "lv/t", 6)
        mine = [int(m.payload) for m in u.collect(ms[0], 6)]
        assert mine == list(range(6)), "expected the remaining member to get 0..5, got %r" % mine
        ms[2].expect_none(timeout=0.5)


@lib.case
def shared_granted_qos_and_downgrade():
    with lib.Broker() as b:
        ms = _members(b, "q", "sq/t", 1, "sq", qos=0)
        _publish_n(b, "sq/t", 1, qos=2)
        m = ms[0].expect(timeout=3)
        assert m.qos == 0, "expected QoS 0 (min of 2 and granted 0), got %d" % m.qos


@lib.case
def shared_subscription_identifier():
    with lib.Broker() as b:
        c = lib.client(b, "ssid", version=5)
        c.sub("$share/g/sid/#", qos=1, props=u.props_for("SUBSCRIBE", SubscriptionIdentifier=7))
        _publish_n(b, "sid/x", 1)
        m = c.expect(timeout=3)
        assert u.subids(m) == [7], "expected subscription id [7], got %r" % u.subids(m)


@lib.case
def shared_invalid_filters():
    u.warden_only('mosquitto closes the connection on an invalid filter')
    with lib.Broker() as b:
        r = u.RawClient(b, "sinv")
        rc = r.sub([("$share/g", 0), ("$share//t", 0), ("$share/g+/t", 0),
                    ("$share/g#/t", 0), ("$share/ok/t", 1)])
        assert rc == [0x8F, 0x8F, 0x8F, 0x8F, 1], (
            "expected [0x8F,0x8F,0x8F,0x8F,1], got %r" % [hex(x) for x in rc])
        r.close()


lib.run()
