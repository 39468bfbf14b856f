#!/usr/bin/python3
"""08 TLS: the store's certificate revocation list (`warden cert revoke |
unrevoke | list-revoked`) -- refused for new connections at once, live sessions
using the certificate disconnected within a deadline, refusals logged and
audited by fingerprint -- and `warden cert list-seen`."""

import json
import os
import subprocess
import time

import lib
import tlsutil as T


cli = lib.cli


def fingerprint(name):
    r = subprocess.run(["openssl", "x509", "-in", T.p(name + ".pem"), "-noout", "-fingerprint",
                        "-sha256"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().split("=", 1)[1]


def hexfp(name):
    return fingerprint(name).replace(":", "").lower()


def not_after(name):
    """The certificate's expiry as RFC 3339 UTC, from openssl."""
    r = subprocess.run(["openssl", "x509", "-in", T.p(name + ".pem"), "-noout", "-enddate"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    t = time.strptime(r.stdout.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y GMT")
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", t)


def short_lived():
    """client-soon.pem/.key: CN soon1 from the test CA, valid 10 days."""
    name = "client-soon"
    if not os.path.exists(T.p(name + ".pem")):
        ext = T.p("soon.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=clientAuth\n")
        for cmd in (["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-out", T.p(name + ".key")],
                    ["openssl", "req", "-new", "-key", T.p(name + ".key"), "-subj",
                     "/O=Warden Test/CN=soon1", "-out", T.p(name + ".csr")],
                    ["openssl", "x509", "-req", "-in", T.p(name + ".csr"), "-CA", T.p("ca.pem"),
                     "-CAkey", T.p("ca.key"), "-set_serial", "4343", "-days", "10", "-sha256",
                     "-extfile", ext, "-out", T.p(name + ".pem")]):
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, "%s: %s" % (" ".join(cmd), r.stderr)
    return name


def revoked(b):
    return json.loads(cli(b, "--json", "cert", "list-revoked").stdout)


def seen(b, *args):
    return json.loads(cli(b, "--json", "cert", "list-seen", *args).stdout)


def stored(entries):
    """list-seen entries without days_left (computed from the clock at each call)."""
    return [{k: v for k, v in e.items() if k != "days_left"} for e in entries]


def audit_lines(b):
    return cli(b, "audit").stdout.splitlines()


def connects(b, client, version=5):
    c = T.paho(b, "probe-%d" % version, version=version, client=client, connect=False)
    c.connect(expect_rc=None)
    rc = c.connack.rc
    c.close()
    return rc


@lib.case
def store_revocation_refuses_new_and_ends_live_sessions():
    with lib.Broker(conf=T.tls_conf(T.mtls())) as b:
        other = T.paho(b, "other", version=5)           # client1: not revoked
        other.sub("still/#", qos=1)
        live5 = T.paho(b, "live5", version=5, client="client-rsa")
        live4 = T.paho(b, "live4", version=4, client="client-rsa")
        r = cli(b, "cert", "revoke", "--cert", T.p("client-rsa.pem"), "--reason", "lost device")
        assert hexfp("client-rsa") in r.stdout, r.stdout
        # New connections: refused at once (the auth worker asks the store itself).
        T.paho(b, "new5", version=5, client="client-rsa", connect=False).connect(expect_rc=0x87)
        T.paho(b, "new4", version=4, client="client-rsa", connect=False).connect(expect_rc=5)
        for ver in ("mqttv311", "mqttv5"):
            r = lib.mosq_pub(b, "-V", ver, "-t", "x", "-m", "x", *T.tls_args("client-rsa"))
            assert r.returncode != 0, "revoked certificate accepted by mosquitto_pub " + ver
        # Live sessions: disconnected on the next store check (about a second).
        assert live5.wait_disconnected(timeout=5) == 0x98
        live4.wait_disconnected(timeout=5)
        b.wait_log("disconnecting client=live5 .*certificate %s revoked" % hexfp("client-rsa"))
        # Others untouched.
        r = lib.mosq_pub(b, "-V", "mqttv5", "-t", "still/here", "-m", "yes", "-q", "1",
                         *T.tls_args())
        assert r.returncode == 0, r.stderr
        assert other.expect(timeout=5).payload == b"yes"
        # Listed, logged and audited by fingerprint; no key material in the log.
        lst = revoked(b)
        assert len(lst) == 1, lst
        assert lst[0]["fingerprint"] == hexfp("client-rsa"), lst
        assert lst[0]["reason"] == "lost device" and "CN=client1-rsa" in lst[0]["subject"], lst
        assert lst[0]["actor"] and lst[0]["created"], lst
        table = cli(b, "cert", "list-revoked").stdout
        assert "FINGERPRINT" in table and hexfp("client-rsa") in table, table
        assert "PRIVATE KEY" not in b.log()
        lib.wait_until(lambda: any("cert refused" in line and hexfp("client-rsa") in line
                                   for line in audit_lines(b)), 5)
        assert any("cert revoke" in line for line in audit_lines(b))
        # Lifted: the certificate works again at once.
        cli(b, "cert", "unrevoke", "--fingerprint", hexfp("client-rsa"))
        assert revoked(b) == []
        T.paho(b, "back", version=5, client="client-rsa").disconnect()


@lib.case
def revocation_applies_where_the_certificate_is_not_the_identity():
    # require_certificate without use_identity_as_username: anonymous clients with a
    # certificate; the revocation list still applies (the broker's cache, within a second).
    keys = "cafile %s\nrequire_certificate true\n" % T.p("ca.pem")
    with lib.Broker(conf=T.tls_conf(keys)) as b:
        live = T.paho(b, "anon-live", version=5, client="client-rsa")
        cli(b, "cert", "revoke", "--fingerprint", fingerprint("client-rsa"))
        assert live.wait_disconnected(timeout=5) == 0x98
        lib.wait_until(lambda: connects(b, "client-rsa") == 0x87, 5, interval=0.2)
        assert connects(b, "client-rsa", version=4) == 5
        assert connects(b, "client") == 0


@lib.case
def list_seen_shows_certificates_soonest_expiry_first():
    soon = short_lived()
    with lib.Broker(conf=T.tls_conf(T.mtls())) as b:
        assert seen(b) == []
        for name, cid in (("client", "seen-a"), (soon, "seen-b")):
            T.paho(b, cid, version=5, client=name).disconnect()
        r = lib.mosq_pub(b, "-V", "mqttv311", "-t", "x", "-m", "x", *T.tls_args("client-rsa"))
        assert r.returncode == 0, r.stderr
        # Written by an auth worker, not the broker thread: poll.
        lst = lib.wait_until(lambda: (lambda v: v if len(v) == 3 else None)(seen(b)), 5)
        assert [c["identity"] for c in lst][0] == "soon1", lst   # soonest expiry first
        by = {c["identity"]: c for c in lst}
        assert set(by) == {"soon1", "client1", "client1-rsa"}, lst
        c1 = by["client1"]
        assert c1["fingerprint"] == hexfp("client"), c1
        assert c1["subject"] == "CN=client1,O=Warden Test", c1
        assert c1["issuer"] == "CN=Warden Test CA,O=Warden Test", c1
        assert c1["not_after"] == not_after("client"), (c1, not_after("client"))
        assert c1["first_seen"] and c1["last_seen"] and c1["first_seen"] <= c1["last_seen"], c1
        # Whole days left, rounded down: 10 only within the second the certificate was made.
        assert by["soon1"]["days_left"] in (9, 10), by["soon1"]
        assert by["client1"]["days_left"] > 3000, by["client1"]
        # A reconnect storm writes nothing more (last-seen is kept at most hourly): no
        # write transaction at all, and the records stay as they were.
        txn = json.loads(cli(b, "--json", "store", "info").stdout)["last_txn"]
        for i in range(5):
            T.paho(b, "storm-%d" % i, version=4).disconnect()
        b.wait_log("client=storm-4 .*result=success")
        assert json.loads(cli(b, "--json", "store", "info").stdout)["last_txn"] == txn
        assert stored(seen(b)) == stored(lst), (lst, seen(b))
        assert stored(seen(b, "--days", "1")) == stored(lst)
        table = cli(b, "cert", "list-seen").stdout
        assert "IDENTITY" in table and "soon1" in table and hexfp(soon) in table, table
        for bad in ("0", "x", "-1", "99999999"):
            r = cli(b, "cert", "list-seen", "--days", bad, ok=False)
            assert r.returncode == 2 and "--days" in r.stderr, (bad, r.stderr)
        # The records pass the store's own check.
        assert "all decode, references intact" in cli(b, "store", "verify").stdout


@lib.case
def bad_input_changes_nothing():
    with lib.Broker(conf=T.tls_conf(T.mtls())) as b:
        cli(b, "cert", "revoke", "--cert", T.p("client-rsa.pem"))
        before = revoked(b)
        audit_before = audit_lines(b)
        cases = [
            (("cert", "revoke", "--cert", T.p("client-rsa.pem")), 1, "already revoked"),
            (("cert", "revoke", "--fingerprint", hexfp("client-rsa").upper()), 1,
             "already revoked"),
            (("cert", "revoke", "--fingerprint", "12:34"), 1, "invalid fingerprint"),
            (("cert", "revoke", "--fingerprint", "g" * 64), 1, "invalid fingerprint"),
            (("cert", "revoke", "--cert", os.path.join(b.dir, "missing.pem")), 1,
             "No such file"),
            (("cert", "revoke", "--cert", T.p("client.key")), 1, "not a certificate"),
            (("cert", "revoke", "--cert", T.p("client.pem"), "--reason", "a\x01b"), 1,
             "invalid reason"),
            (("cert", "revoke"), 2, "is required"),
            (("cert", "unrevoke", "--fingerprint", hexfp("client")), 1, "is not revoked"),
            (("cert", "unrevoke", "--fingerprint", "nothex"), 1, "invalid fingerprint"),
            (("cert", "unrevoke"), 2, "is required"),
            (("cert", "list-revoked", "extra"), 2, "unexpected argument"),
        ]
        for args, code, msg in cases:
            r = cli(b, *args, ok=False)
            assert r.returncode == code, "%s: exit %d %r" % (args, r.returncode, r.stderr)
            assert msg in r.stderr, "%s: %r" % (args, r.stderr)
        r = cli(b, "--json", "cert", "unrevoke", "--fingerprint", hexfp("client"), ok=False)
        assert r.returncode == 1 and json.loads(r.stdout)["ok"] is False, r.stdout
        assert revoked(b) == before
        assert audit_lines(b) == audit_before
        T.paho(b, "fine", version=5).disconnect()


lib.run()
