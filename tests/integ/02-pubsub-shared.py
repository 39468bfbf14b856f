#!/usr/bin/python3
"""Shared subscriptions ($share/G/F): one member per group per message,
round-robin among connected members, groups independent, ordinary
subscriptions of the same filter unaffected (contract.md, Shared subscriptions)."""
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
            [len(a[0]), len(a[1])],)


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


@lib.case
def shared_disconnected_member_skipped():
    u.warden_only('mosquitto queues messages for an offline shared member')
    """Round-robin among connected members: a persistent member that is offline
    gets nothing, not even later (contract.md)."""
    with lib.Broker() as b:
        off = lib.client(b, "off", version=5, clean=True, props={"SessionExpiryInterval": 300})
        off.sub("$share/g/ds/t", qos=1)
        on = _members(b, "g", "ds/t", 1, "on")[0]
        off.disconnect()
        _publish_n(b, "ds/t", 6)
        mine = [int(m.payload) for m in u.collect(on, 6)]
        assert mine == list(range(6)), "expected the connected member to get 0..5, got %r" % mine
        back = lib.client(b, "off", version=5, clean=False, props={"SessionExpiryInterval": 300})
        assert back.session_present == 1, "expected Session Present 1, got %r" % back.session_present
        back.expect_none(timeout=0.7)
        # now connected again it takes its turn
        _publish_n(b, "ds/t", 4, cid="spub2")
        n_back = len(u.drain(back, quiet=0.3))
        n_on = len(u.drain(on, quiet=0.3))
        assert (n_back, n_on) == (2, 2), "expected 2/2 after the member came back, got %d/%d" % (n_back, n_on)


@lib.case
def shared_round_robin_qos0():
    with lib.Broker() as b:
        ms = _members(b, "z", "q0/t", 2, "z", qos=0)
        _publish_n(b, "q0/t", 20, qos=0)
        got = _gather(ms, 20)
        every = sorted(int(x) for v in got.values() for x in v)
        assert every == list(range(20)), "expected 0..19 once over the group, got %r" % every
        counts = [len(got[0]), len(got[1])]
        assert counts == [10, 10], "expected 10/10, got %r" % counts


@lib.case
def shared_filter_is_part_of_identity():
    """$share/g/F1 and $share/g/F2 are two shared subscriptions (one group
    name, two filters): a message matching both goes to one member of each."""
    with lib.Broker() as b:
        x = lib.client(b, "sfx", version=5)
        x.sub("$share/g/sf/+", qos=1)
        y = lib.client(b, "sfy", version=5)
        y.sub("$share/g/sf/b", qos=1)
        p = lib.client(b, "sfp", version=5)
        p.pub("sf/b", b"both", qos=1)
        for c in (x, y):
            m = c.expect(timeout=3)
            assert m.payload == b"both", "expected 'both', got %r" % m.payload
        p.pub("sf/c", b"only-x", qos=1)
        m = x.expect(timeout=3)
        assert m.payload == b"only-x", "expected 'only-x', got %r" % m.payload
        y.expect_none(timeout=0.5)


lib.run()
