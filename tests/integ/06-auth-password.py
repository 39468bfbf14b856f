#!/usr/bin/python3
"""06 auth: passwords from the store, identity bans, client-id policy and
ownership, the verified-credential cache, brute-force defence and the bounded
auth queue, against the real binary with real clients."""

import threading
import time

import lib

PW = "correct horse battery"


cli = lib.cli


def add_user(b, name, pw=PW, *extra):
    cli(b, "user", "add", name, "--password-stdin", *extra, input=pw + "\n")


def rc_of(b, cid, version, username=None, password=None, timeout=10):
    """The CONNACK reason/return code a client gets (None: closed without one)."""
    r = lib.Raw(b, timeout=timeout)
    try:
        r.send(lib.pkt_connect(cid, version=version, username=username,
                               password=password.encode() if password is not None else None))
        p = r.recv_packet(timeout)
        if p is None:
            return None
        assert p[0] == lib.CONNACK, "expected CONNACK, got %s" % lib.describe(p)
        return lib.parse_connack(p[2])[1]
    finally:
        r.close()


def until_rc(b, want, *args, timeout=5, **kw):
    """Poll (the store is re-read about once a second) until the code is want."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = rc_of(b, *args, **kw)
        if got == want:
            return
        time.sleep(0.2)
    raise AssertionError("expected CONNACK code 0x%02x, last got %r" % (want, got))


@lib.case
def right_and_wrong_password_both_versions():
    with lib.Broker() as b:
        add_user(b, "alice")
        assert rc_of(b, "a1", 4, "alice", PW) == 0
        assert rc_of(b, "a2", 4, "alice", "wrong password!") == 4
        assert rc_of(b, "a3", 5, "alice", PW) == 0
        assert rc_of(b, "a4", 5, "alice", "wrong password!") == 0x86
        c = lib.client(b, "paho-alice", version=4, username="alice", password=PW)
        c.sub("x/#", qos=1)
        c.pub("x/y", b"hi", qos=1)
        assert c.expect().payload == b"hi"
        assert "user=alice" in b.log() and PW not in b.log()


@lib.case
def unknown_and_disabled_users_get_the_wrong_password_answer():
    with lib.Broker() as b:
        add_user(b, "carol")
        assert rc_of(b, "u1", 5, "nobody", PW) == 0x86
        assert rc_of(b, "u2", 4, "nobody", PW) == 4
        cli(b, "user", "disable", "carol")
        until_rc(b, 0x86, "u3", 5, "carol", PW)
        cli(b, "user", "enable", "carol")
        until_rc(b, 0, "u4", 5, "carol", PW)


@lib.case
def anonymous_only_where_allowed():
    with lib.Broker(anonymous=False) as b:
        assert rc_of(b, "anon5", 5) == 0x87
        assert rc_of(b, "anon4", 4) == 5
    with lib.Broker(anonymous=True) as b:
        assert rc_of(b, "anon", 5) == 0


@lib.case
def a_listener_without_allow_anonymous_refuses_anonymous():
    # Listeners from a configuration file default to allow_anonymous false.
    with lib.Broker(conf="listener {port} 127.0.0.1\nstore_dir {store_dir}\n") as b:
        assert rc_of(b, "anon", 4) == 5


@lib.case
def bans_on_user_client_id_and_address():
    with lib.Broker() as b:
        add_user(b, "dave")
        assert rc_of(b, "d1", 5, "dave", PW) == 0
        cli(b, "ban", "add", "--user", "dave", "--reason", "test")
        until_rc(b, 0x8A, "d2", 5, "dave", PW)
        assert rc_of(b, "d3", 4, "dave", PW) == 5
        cli(b, "ban", "add", "--client", "evil")
        until_rc(b, 0x8A, "evil", 5)
        assert rc_of(b, "fine", 5) == 0
        cli(b, "ban", "add", "--address", "127.0.0.0/8", "--for", "1h")
        until_rc(b, 0x8A, "fine2", 5)
        cli(b, "ban", "del", "--address", "127.0.0.0/8")
        until_rc(b, 0, "fine3", 5)


@lib.case
def a_ban_disconnects_a_live_session():
    with lib.Broker() as b:
        add_user(b, "erin")
        c = lib.client(b, "erin-dev", version=5, username="erin", password=PW)
        cli(b, "ban", "add", "--user", "erin")
        reason = c.wait_disconnected(timeout=5)
        assert reason == 0x98, "expected DISCONNECT 0x98, got %r" % (reason,)


@lib.case
def disabling_a_user_disconnects_it():
    with lib.Broker() as b:
        add_user(b, "fay")
        c = lib.client(b, "fay-dev", version=5, username="fay", password=PW)
        cli(b, "user", "disable", "fay")
        assert c.wait_disconnected(timeout=5) == 0x98


@lib.case
def client_id_pattern_and_length():
    extra = 'clientid_pattern ^dev-[0-9]+$\nmax_clientid_length 8\n'
    with lib.Broker(extra=extra) as b:
        assert rc_of(b, "dev-1", 5) == 0
        assert rc_of(b, "laptop", 5) == 0x85
        assert rc_of(b, "laptop", 4) == 2
        assert rc_of(b, "dev-123456", 5) == 0x85


@lib.case
def empty_client_ids_per_listener():
    with lib.Broker(extra="allow_zero_length_clientid false\n") as b:
        assert rc_of(b, "", 5) == 0x85
        assert rc_of(b, "", 4) == 2
    with lib.Broker() as b:
        assert rc_of(b, "", 5) == 0
        assert rc_of(b, "", 4) == 0


@lib.case
def an_unsupported_authentication_method_is_refused():
    with lib.Broker() as b:
        r = lib.Raw(b)
        r.send(lib.pkt_connect("am", version=5, props=lib.prop(lib.P_AUTH_METHOD, "SCRAM-SHA-1")))
        p = r.recv_packet(5)
        assert p and p[0] == lib.CONNACK and lib.parse_connack(p[2])[1] == 0x8C, lib.describe(p)


@lib.case
def a_bound_client_id_is_only_for_its_owner():
    with lib.Broker() as b:
        add_user(b, "owner")
        add_user(b, "thief")
        cli(b, "client", "bind", "meter-1", "owner")
        time.sleep(1.5)  # the broker re-reads bindings about once a second
        own = lib.client(b, "meter-1", version=5, username="owner", password=PW)
        own.sub("m/#", qos=1)
        assert rc_of(b, "meter-1", 5, "thief", PW) == 0x85
        assert rc_of(b, "meter-1", 4, "thief", PW) == 2
        assert rc_of(b, "meter-1", 5) == 0x85  # anonymous
        # The owner is still connected and still receiving.
        p = lib.client(b, "pub", version=5)
        p.pub("m/x", b"still here", qos=1)
        assert own.expect().payload == b"still here"
        assert "client id taken" in cli(b, "audit", "--limit", "20").stdout
        assert "bound to another identity" in b.log()
        # The owner itself may take its id over, as the spec says.
        own2 = lib.client(b, "meter-1", version=5, username="owner", password=PW)
        assert own.wait_disconnected(timeout=5) == 0x8E
        own2.disconnect()


@lib.case
def clientid_bound_only_refuses_unbound_ids():
    with lib.Broker(extra="clientid_bound_only true\n") as b:
        add_user(b, "gil")
        cli(b, "client", "bind", "--prefix", "gil-", "gil")
        until_rc(b, 0, "gil-1", 5, "gil", PW)
        assert rc_of(b, "other", 5, "gil", PW) == 0x85


@lib.case
def weaker_hashes_are_rehashed_at_login():
    with lib.Broker() as b:
        weak = b.dir + "/weak.conf"
        with open(weak, "w") as f:
            f.write("store_dir %s\npassword_opslimit 1\npassword_memlimit 8m\n" % b.store_dir)
        r = lib.run_warden(["user", "add", "hal", "--password-stdin", "-c", weak],
                           input=PW + "\n")
        assert r.returncode == 0, r.stderr
        show = cli(b, "user", "show", "hal", "--json").stdout
        assert '"password_needs_rehash":true' in show.replace(" ", ""), show
        assert rc_of(b, "h1", 5, "hal", PW) == 0
        lib.wait_until(lambda: '"password_needs_rehash":false' in
                       cli(b, "user", "show", "hal", "--json").stdout.replace(" ", ""),
                       timeout=5, msg="hash not replaced after login")
        assert rc_of(b, "h2", 5, "hal", PW) == 0


@lib.case
def a_mosquitto_imported_user_logs_in_and_is_rehashed():
    import subprocess
    with lib.Broker() as b:
        pwfile = b.dir + "/passwd"
        subprocess.run(["mosquitto_passwd", "-c", "-b", pwfile, "legacy", "legacy secret 42"],
                       check=True, timeout=30)
        cli(b, "import", "mosquitto", "--passwd", pwfile)
        show = cli(b, "user", "show", "legacy", "--json").stdout.replace(" ", "")
        assert '"password_needs_rehash":true' in show, show
        time.sleep(1.2)  # the broker sees the new user on its next store check
        r = lib.mosq_pub(b, "-V", "mqttv311", "-u", "legacy", "-P", "legacy secret 42",
                         "-t", "legacy/t", "-m", "x", "-q", "1")
        assert r.returncode == 0, "mosquitto_pub failed: %s" % r.stderr
        lib.wait_until(lambda: '"password_needs_rehash":false' in
                       cli(b, "user", "show", "legacy", "--json").stdout.replace(" ", ""),
                       timeout=5, msg="imported hash not replaced by Argon2id")
        r = lib.mosq_pub(b, "-V", "mqttv5", "-u", "legacy", "-P", "wrong", "-t", "t", "-m", "x")
        assert r.returncode != 0


@lib.case
def the_credential_cache_skips_the_hash_and_forgets_on_change():
    with lib.Broker(extra="log_level debug\n") as b:
        add_user(b, "ivy")
        assert rc_of(b, "i1", 5, "ivy", PW) == 0
        assert rc_of(b, "i2", 5, "ivy", PW) == 0
        b.wait_log(r"credentials of ivy verified from cache", timeout=3)
        cli(b, "user", "passwd", "ivy", "--password-stdin", input="another long password\n")
        until_rc(b, 0x86, "i3", 5, "ivy", PW)
        assert rc_of(b, "i4", 5, "ivy", "another long password") == 0


@lib.case
def brute_force_delays_then_bans_then_lifts():
    extra = ("auth_fail_delay_after 2\nauth_fail_ban_after 5\nauth_fail_window 60\n"
             "auth_ban_duration 6\n")
    with lib.Broker(extra=extra) as b:
        add_user(b, "jo")
        t0 = time.monotonic()
        for i in range(5):
            assert rc_of(b, "bf%d" % i, 5, "jo", "bad password %d" % i) == 0x86
        assert time.monotonic() - t0 >= 0.5, "failures past the limit were not delayed"
        # Banned now: even the right password is refused before any hashing.
        assert rc_of(b, "bf-right", 5, "jo", PW) == 0x8A
        # The ban is written to the store on a worker: poll for it.
        lib.wait_until(lambda: "brute force" in cli(b, "ban", "list").stdout, timeout=5,
                       msg="no brute-force ban in the store")
        until_rc(b, 0, "bf-after", 5, "jo", PW, timeout=15)


@lib.case
def a_full_auth_queue_answers_server_busy():
    with lib.Broker(extra="auth_workers 1\nmax_pending_auth 1\n") as b:
        add_user(b, "kim")
        raws = [lib.Raw(b, timeout=10) for _ in range(12)]
        for i, r in enumerate(raws):
            r.send(lib.pkt_connect("k%d" % i, version=5, username="kim", password=PW.encode()))
        codes = []
        for r in raws:
            p = r.recv_packet(10)
            codes.append(lib.parse_connack(p[2])[1] if p else None)
            r.close()
        assert 0x89 in codes and 0 in codes, "codes: %r" % codes


@lib.case
def per_address_connection_limits():
    with lib.Broker(extra="max_connections_per_address 3\n") as b:
        held = [lib.Raw(b) for _ in range(3)]
        for i, r in enumerate(held):
            assert r.connect("held%d" % i, version=4)[1] == 0
        extra = lib.Raw(b)
        extra.expect_closed(timeout=3)  # closed at once, no CONNACK
        held[0].close()
        lib.wait_until(lambda: rc_of(b, "after", 4) == 0, timeout=5,
                       msg="a slot did not free up after a close")
        for r in held[1:]:
            r.close()
    with lib.Broker(extra="connect_rate_per_address 5\n") as b:
        codes = [rc_of(b, "burst%d" % i, 4, timeout=3) for i in range(15)]
        assert codes.count(None) >= 5 and codes.count(0) >= 5, "codes: %r" % codes


@lib.case
def fifty_logins_while_traffic_keeps_flowing():
    # 50 Argon2id checks queue behind one worker (under ASan, on a possibly busy
    # machine): give them longer than the default 10 s connect_timeout.
    with lib.Broker(extra="connect_timeout 60\n") as b:
        add_user(b, "fleet")
        me = lib.client(b, "talker", version=5)
        me.sub("self/t", qos=0)
        stop = threading.Event()
        sent = []

        def talk():
            n = 0
            while not stop.is_set() and n < 5000:
                me.pub("self/t", b"%d" % n)
                sent.append(n)
                n += 1
                time.sleep(0.002)

        t = threading.Thread(target=talk)
        t.start()
        raws = [lib.Raw(b, timeout=30) for _ in range(50)]
        for i, r in enumerate(raws):
            r.send(lib.pkt_connect("fleet-%d" % i, version=4, username="fleet",
                                   password=PW.encode()))
        codes = []
        for r in raws:
            p = r.recv_packet(30)
            codes.append(lib.parse_connack(p[2])[1] if p else None)
        stop.set()
        t.join()
        for r in raws:
            r.close()
        assert codes == [0] * 50, "codes: %r" % codes
        got = []
        deadline = time.monotonic() + 5
        while len(got) < len(sent) and time.monotonic() < deadline:
            try:
                got.append(int(me.expect(timeout=1).payload))
            except AssertionError:
                break
        assert got == sorted(got) and len(got) == len(sent), (
            "talker got %d of %d messages, in order: %s" % (len(got), len(sent), got == sorted(got)))


lib.run()
