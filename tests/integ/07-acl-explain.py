#!/usr/bin/python3
"""07 ACL: `warden acl explain` (allowed, denied, unmatched; text and --json),
live rule changes taking effect within about a second with the per-session
verdict cache in place, and offline persistent sessions following the rules
of today (a queued message whose receive right went away is not delivered)."""

import json
import time

import lib

PW = "correct horse battery"


cli = lib.cli


def user(b, name, *rules):
    cli(b, "user", "add", name, "--password-stdin", input=PW + "\n")
    for r in rules:
        cli(b, "user", "rule", "add", name, *r.split())


def explain(b, *args):
    return json.loads(cli(b, "acl", "explain", "--json", *args).stdout)


def acl_broker(**kw):
    return lib.Broker(open_rules=False, **kw)


@lib.case
def explain_allowed_denied_unmatched():
    with acl_broker() as b:
        cli(b, "role", "add", "ops")
        cli(b, "role", "rule", "add", "ops", "allow", "all", "plant/#")
        user(b, "op", "deny publish plant/valves/#", "allow publish devices/%c/# --qos 1")
        cli(b, "user", "role", "add", "op", "ops")
        cli(b, "role", "rule", "add", "default", "allow", "subscribe,receive", "public/#")
        x = explain(b, "--user", "op", "publish", "plant/valves/1")
        assert x["verdict"] == "deny" and x["matched"], x
        assert (x["list"], x["index"], x["rule"]) == ("user op", 1,
                                                      "deny publish plant/valves/#"), x
        x = explain(b, "--user", "op", "publish", "plant/pumps/1")
        assert x["verdict"] == "allow" and (x["list"], x["index"]) == ("role ops", 1), x
        x = explain(b, "--user", "op", "subscribe", "public/#", "--qos", "2")
        assert x["verdict"] == "allow" and x["list"] == "role default", x
        assert x["granted_qos"] == 2, x
        # Substitution shows in the rule text; a QoS above the rule's maximum is denied by it.
        x = explain(b, "--user", "op", "--client", "d1", "publish", "devices/d1/t")
        assert x["verdict"] == "allow", x
        assert x["rule"] == "allow publish devices/d1/# (from devices/%c/#) qos 1", x
        x = explain(b, "--user", "op", "--client", "d1", "publish", "devices/d1/t", "--qos", "2")
        assert x["verdict"] == "deny" and x["index"] == 2 and "QoS 1" in x["reason"], x
        x = explain(b, "--user", "op", "publish", "devices/d1/t")  # no --client: %c unknown
        assert x["verdict"] == "deny" and not x["matched"], x
        x = explain(b, "--user", "op", "receive", "other/x")
        assert x["verdict"] == "deny" and not x["matched"] and x["list"] is None, x
        assert "no rule matched" in x["reason"], x
        x = explain(b, "publish", "other/x")  # anonymous
        assert x["verdict"] == "deny" and "anonymous_default" in x["reason"], x
        text = cli(b, "acl", "explain", "--user", "op", "publish", "plant/valves/1").stdout
        assert "verdict:  deny" in text and "user op, rule 1: deny publish plant/valves/#" in text
        text = cli(b, "acl", "explain", "--user", "op", "receive", "other/x").stdout
        assert "rule:     none matched" in text, text
        r = lib.run_warden(["acl", "explain", "--user", "op", "publish", "a/#", "--store",
                            b.store_dir])
        assert r.returncode == 1 and "not a valid topic name" in r.stderr, r.stderr
        r = lib.run_warden(["acl", "explain", "poke", "a", "--store", b.store_dir])
        assert r.returncode == 2


def until_denied(c, topic, deadline_s):
    """Publish QoS 1 to topic until it is refused; returns the seconds that took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline_s:
        if c.pub(topic, b"x", qos=1) == 0x87:
            return time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError("publish to %s still allowed after %.1fs" % (topic, deadline_s))


@lib.case
def a_live_change_beats_the_verdict_cache():
    with acl_broker() as b:
        user(b, "lc", "allow publish,subscribe,receive t/#")
        time.sleep(1.2)
        c = lib.client(b, "lc1", version=5, username="lc", password=PW)
        assert c.sub("t/#", qos=1) == [1]
        for _ in range(20):  # warm the cache for publish and receive
            assert c.pub("t/a", b"w", qos=1) == 0
            assert c.expect().payload == b"w"
        cli(b, "user", "rule", "add", "lc", "deny", "publish,receive", "t/a", "--at", "1")
        took = until_denied(c, "t/a", 3)
        assert took < 2.0, took  # polled once a second, plus the command's own time
        assert c.pub("t/b", b"other", qos=1) == 0
        while c.expect().payload != b"other":  # the t/a ones allowed before the change
            pass
        # Receive: another publisher's t/a no longer reaches lc1 (denied for receive now).
        user(b, "pub", "allow publish t/#")
        time.sleep(1.2)
        p = lib.client(b, "p1", version=4, username="pub", password=PW)
        p.pub("t/a", b"hidden", qos=1)
        p.pub("t/b", b"shown", qos=1)
        assert c.expect().payload == b"shown"
        c.expect_none(timeout=0.5)
        # And back: deleting the deny rule allows again within the same time.
        cli(b, "user", "rule", "del", "lc", "1")
        t0 = time.monotonic()
        while c.pub("t/a", b"again", qos=1) != 0:
            assert time.monotonic() - t0 < 3, "still denied"
            time.sleep(0.05)
        assert time.monotonic() - t0 < 2.0


@lib.case
def anonymous_live_change_with_cache():
    with acl_broker(extra="anonymous_default allow\n") as b:
        time.sleep(1.2)
        a = lib.client(b, "an", version=5)
        for _ in range(10):
            assert a.pub("x/y", b"1", qos=1) == 0
        cli(b, "role", "rule", "add", "anonymous", "deny", "publish", "x/#")
        assert until_denied(a, "x/y", 3) < 2.0


@lib.case
def offline_sessions_follow_rule_changes():
    with acl_broker() as b:
        user(b, "off", "allow subscribe q/#", "allow receive q/#")
        user(b, "src", "allow publish q/#")
        time.sleep(1.2)
        s = lib.client(b, "off1", version=4, clean=False, username="off", password=PW)
        assert s.sub("q/#", qos=1) == [1]
        s.disconnect()
        p = lib.client(b, "src1", version=5, username="src", password=PW)
        # Control: queued while offline, delivered on return.
        assert p.pub("q/0", b"kept", qos=1) == 0
        s = lib.client(b, "off1", version=4, clean=False, username="off", password=PW)
        assert s.expect().payload == b"kept"
        s.disconnect()
        assert p.pub("q/1", b"queued-before", qos=1) == 0
        # Receive right removed while the client is away.
        cli(b, "user", "rule", "del", "off", "2")
        time.sleep(1.5)
        assert p.pub("q/2", b"queued-after", qos=1) == 0
        s = lib.client(b, "off1", version=4, clean=False, username="off", password=PW)
        assert s.session_present == 1
        s.expect_none(timeout=1)
        s.disconnect()
        # Subscribe right removed while away: the offline session loses the subscription.
        cli(b, "user", "rule", "del", "off", "1")
        b.wait_log(r"subscription q/# of client=off1 removed", timeout=5)


lib.run()
