#!/usr/bin/python3
"""07 ACL: what happens after a denial. A role's on_deny policy (drop,
disconnect, strikes:N with a temporary ban after repeated strike-outs),
observed from real 3.1.1 and 5.0 clients, and the audit event every denial
leaves (rate-limited per client)."""

import json
import time

import lib

PW = "correct horse battery"


cli = lib.cli


def user(b, name, *rules, roles=()):
    cli(b, "user", "add", name, "--password-stdin", input=PW + "\n")
    for r in rules:
        cli(b, "user", "rule", "add", name, *r.split())
    for ro in roles:
        cli(b, "user", "role", "add", name, ro)


def role(b, name, on_deny=None, *rules):
    cli(b, "role", "add", name)
    for r in rules:
        cli(b, "role", "rule", "add", name, *r.split())
    if on_deny:
        cli(b, "role", "set", name, "--on-deny", on_deny)


def audit(b):
    r = cli(b, "audit", "--json", "--limit", "1000")
    return [e for e in json.loads(r.stdout) if e["action"] == "acl deny"]


def acl_broker(**kw):
    return lib.Broker(open_rules=False, **kw)


@lib.case
def on_deny_is_stored_and_shown():
    with acl_broker() as b:
        role(b, "strict", "strikes:4")
        show = json.loads(cli(b, "role", "show", "strict", "--json").stdout)
        assert show["on_deny"] == "strikes:4", show
        assert "on_deny:      strikes:4" in cli(b, "role", "show", "strict").stdout
        assert json.loads(cli(b, "role", "show", "default", "--json").stdout)["on_deny"] == "none"
        r = cli(b, "role", "set", "strict", "--on-deny", "strikes:0", ok=False)
        assert r.returncode == 1 and "on-deny" in r.stderr, r.stderr
        r = cli(b, "role", "set", "strict", "--on-deny", "kick", ok=False)
        assert r.returncode == 1
        cli(b, "role", "set", "strict", "--on-deny", "disconnect")
        assert json.loads(cli(b, "role", "show", "strict", "--json").stdout)["on_deny"] == \
            "disconnect"


@lib.case
def drop_is_the_default():
    with acl_broker() as b:
        user(b, "d", "allow publish ok/#")
        time.sleep(1.2)
        c = lib.client(b, "d5", version=5, username="d", password=PW)
        for _ in range(5):
            assert c.pub("no/x", b"x", qos=1) == 0x87
        assert c.pub("ok/x", b"x", qos=1) == 0  # still connected
        c4 = lib.client(b, "d4", version=4, username="d", password=PW)
        assert c4.pub("no/x", b"x", qos=1) == 0
        assert c4.sub("no/#", qos=1) == [0x80]
        assert not c4.disconnected.is_set()


@lib.case
def disconnect_policy_5_and_311():
    with acl_broker() as b:
        role(b, "strict", "disconnect", "allow all ok/#")
        role(b, "lenient", "drop")
        # The user's first role with a policy decides: strict comes before lenient.
        user(b, "s", roles=("strict", "lenient"))
        user(b, "l", roles=("lenient", "strict"))
        time.sleep(1.2)
        c = lib.client(b, "s5", version=5, username="s", password=PW)
        assert c.pub("ok/x", b"x", qos=1) == 0
        c.c.publish("no/x", b"x", 1)
        assert c.wait_disconnected() == 0x87
        c = lib.client(b, "s5b", version=5, username="s", password=PW)
        assert c.sub("ok/#", qos=1) == [1]
        c.c.subscribe("no/#", 1)
        assert c.wait_disconnected() == 0x87
        # 3.1.1 has no DISCONNECT from the server: the connection is closed.
        c4 = lib.client(b, "s4", version=4, username="s", password=PW)
        c4.c.publish("no/x", b"x", 0)
        c4.wait_disconnected()
        b.wait_log(r"disconnecting client=s4 .*publish denied \(on_deny disconnect\)")
        # lenient first: dropped, still connected.
        l5 = lib.client(b, "l5", version=5, username="l", password=PW)
        assert l5.pub("no/x", b"x", qos=1) == 0x87
        assert l5.pub("ok/x", b"x", qos=1) == 0


@lib.case
def anonymous_clients_follow_the_anonymous_role():
    with acl_broker() as b:
        cli(b, "role", "set", "anonymous", "--on-deny", "disconnect")
        time.sleep(1.2)
        a = lib.client(b, "anon", version=5)
        a.c.publish("x", b"x", 1)
        assert a.wait_disconnected() == 0x87


@lib.case
def strikes_then_a_temporary_ban():
    with acl_broker(extra="auth_ban_duration 60\n") as b:
        role(b, "dev", "strikes:3", "allow publish ok/#")
        user(b, "v", roles=("dev",))
        time.sleep(1.2)
        for attempt in range(3):
            c = lib.client(b, "v5", version=5, username="v", password=PW)
            assert c.pub("no/1", b"x", qos=1) == 0x87
            assert c.pub("ok/1", b"x", qos=1) == 0
            assert c.pub("no/2", b"x", qos=1) == 0x87
            c.c.publish("no/3", b"x", 1)  # the third denial within a minute
            assert c.wait_disconnected() == 0x87, attempt
        # Three strike-outs within ten minutes: the client id is banned for a while.
        b.wait_log(r"repeated denials: banning client id v5 for 60 s")
        # The ban is written to the store on a worker: poll for it.

        def banned():
            bans = json.loads(cli(b, "ban", "list", "--json").stdout)
            return any(x["value"] == "v5" and x["reason"] == "repeated denials" for x in bans)
        lib.wait_until(banned, timeout=5, msg="no 'repeated denials' ban in the store")
        # ... and reaches the broker's ban cache with the next store check.
        def refused():
            r = lib.Raw(b, timeout=5)
            try:
                return r.connect("v5", version=5, expect_rc=None, username="v",
                                 password=PW.encode())[1] == 0x8A
            finally:
                r.close()
        lib.wait_until(refused, timeout=5, msg="the banned client id was not refused")
        lib.client(b, "v4", version=4, username="v", password=PW)  # another id is not banned
        # 3.1.1 strikes: acknowledged and dropped, then closed at the third.
        c4 = lib.client(b, "v4b", version=4, username="v", password=PW)
        assert c4.pub("no/1", b"x", qos=1) == 0
        assert c4.pub("no/2", b"x", qos=1) == 0
        c4.c.publish("no/3", b"x", 1)
        c4.wait_disconnected()


@lib.case
def every_denial_is_audited_and_rate_limited():
    with acl_broker() as b:
        user(b, "au", "deny publish secret/#", "allow publish open/#",
             "allow subscribe,receive open/#")
        time.sleep(1.2)
        c = lib.client(b, "au1", version=5, username="au", password=PW)
        assert c.pub("secret/x", b"x", qos=1) == 0x87
        ev = lib.wait_until(lambda: audit(b), timeout=5)
        assert len(ev) == 1, ev
        assert "client au1" in ev[0]["target"] and "user au" in ev[0]["target"], ev
        assert "publish secret/x" in ev[0]["target"], ev
        assert ev[0]["result"] == "denied: deny rule 1 of user au", ev
        assert ev[0]["actor"] == "broker"
        time.sleep(1.1)
        # A flood: at most one event a second, the rest counted.
        for i in range(30):
            c.pub("nothing/%d" % i, b"x", qos=0)
        assert c.pub("nothing/last", b"x", qos=1) == 0x87
        time.sleep(1.1)
        assert c.sub("nothing/#", qos=1) == [0x87]
        ev = lib.wait_until(lambda: len(audit(b)) >= 3 and audit(b), timeout=5)
        time.sleep(0.5)
        ev = audit(b)
        assert len(ev) <= 4, [e["target"] for e in ev]
        assert any(e["result"].startswith("denied: no rule") for e in ev), ev
        last = ev[-1]
        assert "subscribe nothing/#" in last["target"], ev
        assert "more denials not logged" in last["result"], last
        n = int(last["result"].split("; ")[1].split()[0])
        assert 25 <= n <= 31, last
        # Anonymous identity and another client are audited on their own.
        c2 = lib.client(b, "au2", version=4, username="au", password=PW)
        c2.pub("secret/y", b"x", qos=1)
        lib.wait_until(lambda: any("client au2" in e["target"] for e in audit(b)), timeout=5)


@lib.case
def denied_receive_is_audited_not_delivered():
    with acl_broker() as b:
        user(b, "rc", "deny receive feed/hidden", "allow subscribe,receive feed/#",
             "allow publish feed/#")
        time.sleep(1.2)
        c = lib.client(b, "rc1", version=5, username="rc", password=PW)
        assert c.sub("feed/#", qos=1) == [1]
        c.pub("feed/hidden", b"no", qos=1)
        c.pub("feed/shown", b"yes", qos=1)
        assert c.expect().payload == b"yes"
        c.expect_none(timeout=0.5)
        lib.wait_until(lambda: any("receive feed/hidden" in e["target"] for e in audit(b)),
                       timeout=5)


lib.run()
