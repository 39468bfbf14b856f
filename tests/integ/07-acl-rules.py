#!/usr/bin/python3
"""07 ACL: topic rules from the store enforced on SUBSCRIBE, PUBLISH and every
delivery, in 3.1.1 and 5.0, changed live from the command line."""

import time

import lib

PW = "correct horse battery"


cli = lib.cli


def user(b, name, *rules):
    cli(b, "user", "add", name, "--password-stdin", input=PW + "\n")
    for r in rules:
        cli(b, "user", "rule", "add", name, *r.split())


def acl_broker(**kw):
    return lib.Broker(open_rules=False, **kw)


@lib.case
def nothing_matching_is_denied():
    with acl_broker() as b:
        user(b, "nobody")
        time.sleep(1.2)
        c = lib.client(b, "n5", version=5, username="nobody", password=PW)
        assert c.sub("any/thing", qos=1) == [0x87]
        assert c.pub("any/thing", b"x", qos=1) == 0x87
        c4 = lib.client(b, "n4", version=4, username="nobody", password=PW)
        assert c4.sub("any/thing", qos=1) == [0x80]


@lib.case
def a_device_publishes_only_under_its_own_id():
    with acl_broker() as b:
        user(b, "dev", "allow publish devices/%c/#", "allow subscribe,receive cmd/%c")
        time.sleep(1.2)
        obs = lib.client(b, "observer", version=5)  # anonymous: denied by default here
        assert obs.sub("devices/#") == [0x87]
        d = lib.client(b, "dev-7", version=5, username="dev", password=PW)
        assert d.pub("devices/dev-7/temp", b"21", qos=1) == 0
        assert d.pub("devices/dev-8/temp", b"21", qos=1) == 0x87
        assert d.sub("cmd/dev-7", qos=1) == [1]
        assert d.sub("cmd/dev-8", qos=1) == [0x87]
        d4 = lib.client(b, "dev-9", version=4, username="dev", password=PW)
        assert d4.pub("devices/dev-8/temp", b"x", qos=1) == 0  # 3.1.1: acked, dropped


@lib.case
def a_denied_publish_says_why_without_secrets():
    with acl_broker() as b:
        user(b, "rs")
        time.sleep(1.2)
        r = lib.Raw(b)
        assert r.connect("rs1", version=5, username="rs", password=PW.encode())[1] == 0
        r.send(lib.pkt_publish("secret/t", b"x", qos=1, pid=3, version=5))
        t, _, body = r.expect_packet(lib.PUBACK)
        assert body[2] == 0x87, "expected PUBACK 0x87, got %r" % body
        props = dict(lib.parse_props(body[3:]))
        assert props.get(lib.P_REASON_STRING) in ("not authorized", b"not authorized"), props


@lib.case
def receive_is_checked_per_message_on_wildcards():
    with acl_broker() as b:
        user(b, "reader", "deny receive sensors/secret/#", "allow subscribe,receive sensors/#")
        user(b, "writer", "allow publish sensors/#")
        time.sleep(1.2)
        r = lib.client(b, "r1", version=5, username="reader", password=PW)
        assert r.sub("sensors/#", qos=1) == [1]
        w = lib.client(b, "w1", version=4, username="writer", password=PW)
        w.pub("sensors/secret/key", b"no", qos=1)
        w.pub("sensors/open/temp", b"yes", qos=1)
        assert r.expect().payload == b"yes"
        r.expect_none(timeout=1)


@lib.case
def max_qos_and_retain_limits():
    with acl_broker() as b:
        user(b, "q", "allow all q/# --qos 1 --no-retain")
        time.sleep(1.2)
        c = lib.client(b, "q1", version=5, username="q", password=PW)
        assert c.sub("q/#", qos=2) == [1]  # granted at most the rule's QoS
        assert c.pub("q/a", b"x", qos=2) == 0x87
        assert c.pub("q/a", b"x", qos=1, retain=True) == 0x87
        assert c.pub("q/a", b"ok", qos=1) == 0
        assert c.expect().payload == b"ok"


@lib.case
def first_matching_rule_decides_and_roles_follow_the_user():
    with acl_broker() as b:
        cli(b, "role", "add", "ops")
        cli(b, "role", "rule", "add", "ops", "allow", "all", "plant/#")
        user(b, "op", "deny publish plant/valves/#")
        cli(b, "user", "role", "add", "op", "ops")
        time.sleep(1.2)
        c = lib.client(b, "op1", version=5, username="op", password=PW)
        assert c.pub("plant/valves/1", b"open", qos=1) == 0x87
        assert c.pub("plant/pumps/1", b"on", qos=1) == 0


@lib.case
def anonymous_default_allow_and_the_anonymous_role():
    with acl_broker(extra="anonymous_default allow\n") as b:
        cli(b, "role", "rule", "add", "anonymous", "deny", "publish", "admin/#")
        time.sleep(1.2)
        a = lib.client(b, "anon", version=5)
        assert a.pub("admin/x", b"x", qos=1) == 0x87
        assert a.pub("public/x", b"x", qos=1) == 0
        assert a.sub("$SYS/#") == [0]  # no rule names it: anonymous_default decides


@lib.case
def a_rule_change_removes_a_live_subscription():
    with acl_broker() as b:
        user(b, "live", "allow subscribe,receive feed/#", "allow publish feed/#")
        time.sleep(1.2)
        c = lib.client(b, "live1", version=5, username="live", password=PW)
        assert c.sub("feed/#", qos=1) == [1]
        c.pub("feed/a", b"1", qos=1)
        assert c.expect().payload == b"1"
        cli(b, "user", "rule", "del", "live", "1")
        b.wait_log(r"subscription feed/# of client=live1 removed", timeout=5)
        c.pub("feed/a", b"2", qos=1)
        c.expect_none(timeout=1)


@lib.case
def substitution_values_never_widen_a_rule():
    with acl_broker() as b:
        user(b, "w", "allow publish devices/%c/data")
        time.sleep(1.2)
        # A client id holding '/' would make the rule reach another device's topic.
        c = lib.client(b, "x/y", version=5, username="w", password=PW)
        assert c.pub("devices/x/y/data", b"x", qos=1) == 0x87
        c2 = lib.client(b, "ok", version=5, username="w", password=PW)
        assert c2.pub("devices/ok/data", b"x", qos=1) == 0
        assert c2.pub("devices/other/data", b"x", qos=1) == 0x87


lib.run()
