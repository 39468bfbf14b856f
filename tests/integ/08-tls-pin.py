#!/usr/bin/python3
"""08 TLS: certificate pinning -- `warden user cert add|del|list`. A user with
pinned certificates authenticates only with those: a valid certificate from the
same CA with the same CN but another key is refused; removing a pin disconnects
a live session using it; bad input changes nothing."""

import json
import os
import subprocess

import lib
import tlsutil as T


cli = lib.cli


def twin():
    """client-twin.pem/.key in the test PKI: CN client1 from the same CA, another key."""
    pem = T.p("client-twin.pem")
    if not os.path.exists(pem):
        d = T.pki()
        ext = os.path.join(d, "twin.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=clientAuth\n")
        for cmd in (["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-out", T.p("client-twin.key")],
                    ["openssl", "req", "-new", "-key", T.p("client-twin.key"), "-subj",
                     "/O=Warden Test/CN=client1", "-out", T.p("client-twin.csr")],
                    ["openssl", "x509", "-req", "-in", T.p("client-twin.csr"), "-CA",
                     T.p("ca.pem"), "-CAkey", T.p("ca.key"), "-set_serial", "4242", "-days",
                     "30", "-sha256", "-extfile", ext, "-out", pem]):
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, "%s: %s" % (" ".join(cmd), r.stderr)
    return "client-twin"


def fingerprint(name):
    """SHA-256 of the certificate's DER, as openssl prints it (AA:BB:...)."""
    r = subprocess.run(["openssl", "x509", "-in", T.p(name + ".pem"), "-noout", "-fingerprint",
                        "-sha256"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().split("=", 1)[1]


def hexfp(name):
    return fingerprint(name).replace(":", "").lower()


def pins(b, user="client1"):
    return json.loads(cli(b, "--json", "user", "cert", "list", user).stdout)


def audit_lines(b):
    return cli(b, "audit").stdout.splitlines()


@lib.case
def pinned_certificate_works_unpinned_twin_refused():
    tw = twin()
    with lib.Broker(conf=T.tls_conf(T.mtls())) as b:
        cli(b, "user", "add", "client1", "--no-password")
        # Without a pin the twin is as good as the original: same CA, same CN.
        T.paho(b, "twin-before", version=5, client=tw).disconnect()
        r = cli(b, "user", "cert", "add", "client1", "--cert", T.p("client.pem"))
        assert hexfp("client") in r.stdout, r.stdout
        listed = pins(b)
        assert [p["fingerprint"] for p in listed] == [hexfp("client")], listed
        assert listed[0]["user"] == "client1" and "CN=client1" in listed[0]["subject"], listed
        assert listed[0]["not_after"] and listed[0]["created"], listed
        # The pinned certificate: Paho 5.0 and 3.1.1, mosquitto_pub 3.1.1 and 5.0.
        T.paho(b, "pinned5", version=5).disconnect()
        T.paho(b, "pinned4", version=4).disconnect()
        for ver in ("mqttv311", "mqttv5"):
            r = lib.mosq_pub(b, "-V", ver, "-t", "p", "-m", "x", *T.tls_args())
            assert r.returncode == 0, "pinned mosquitto_pub %s: %r" % (ver, r.stderr)
        # The twin: the certificate refusal codes (0x87 / 5), and mosquitto_pub fails.
        T.paho(b, "twin5", version=5, client=tw, connect=False).connect(expect_rc=0x87)
        T.paho(b, "twin4", version=4, client=tw, connect=False).connect(expect_rc=5)
        for ver in ("mqttv311", "mqttv5"):
            r = lib.mosq_pub(b, "-V", ver, "-t", "p", "-m", "x", *T.tls_args(tw))
            assert r.returncode != 0, "unpinned twin accepted by mosquitto_pub %s" % ver
        # Logged and audited with the fingerprint, never key material.
        b.wait_log("certificate %s not pinned" % hexfp(tw), timeout=5)
        assert "PRIVATE KEY" not in b.log()
        lib.wait_until(lambda: any("cert refused" in line and hexfp(tw) in line
                                   for line in audit_lines(b)), 5)


@lib.case
def removing_a_pin_disconnects_the_live_session_using_it():
    tw = twin()
    with lib.Broker(conf=T.tls_conf(T.mtls())) as b:
        cli(b, "user", "add", "client1", "--no-password")
        cli(b, "user", "cert", "add", "client1", "--cert", T.p("client.pem"))
        cli(b, "user", "cert", "add", "client1", "--cert", T.p(tw + ".pem"))
        assert len(pins(b)) == 2
        keep = T.paho(b, "keep", version=5)
        keep.sub("still/#", qos=1)
        gone5 = T.paho(b, "gone5", version=5, client=tw)
        gone4 = T.paho(b, "gone4", version=4, client=tw)
        # Deleting by fingerprint, in openssl's colon form.
        cli(b, "user", "cert", "del", "client1", "--fingerprint", fingerprint(tw))
        assert gone5.wait_disconnected(timeout=5) == 0x98
        gone4.wait_disconnected(timeout=5)
        # The other pinned certificate's session is untouched.
        pub = T.paho(b, "pub", version=5)
        assert pub.pub("still/here", b"yes", qos=1) == 0
        assert keep.expect(timeout=5).payload == b"yes"
        T.paho(b, "twin-again", version=5, client=tw, connect=False).connect(expect_rc=0x87)
        b.wait_log("disconnecting client=gone5 .*certificate %s not pinned" % hexfp(tw))
        # Removing the last pin: any certificate with the identity works again.
        cli(b, "user", "cert", "del", "client1", "--cert", T.p("client.pem"))
        assert pins(b) == []
        lib.wait_until(lambda: _connects(b, tw), 5, interval=0.2)


def _connects(b, client):
    c = T.paho(b, "probe", version=5, client=client, connect=False)
    c.connect(expect_rc=None)
    ok = c.connack.rc == 0
    c.close()
    return ok


@lib.case
def disabling_or_deleting_the_user():
    with lib.Broker(conf=T.tls_conf(T.mtls())) as b:
        cli(b, "user", "add", "client1", "--no-password")
        cli(b, "user", "cert", "add", "client1", "--cert", T.p("client.pem"))
        live = T.paho(b, "live", version=5)
        cli(b, "user", "disable", "client1")
        assert live.wait_disconnected(timeout=5) == 0x98
        T.paho(b, "disabled", version=5, connect=False).connect(expect_rc=0x87)
        # Deleting the user deletes its pins: a new user of that name pins nothing.
        r = cli(b, "user", "del", "client1")
        assert "certificate pins" in r.stdout, r.stdout
        cli(b, "user", "add", "client1", "--no-password")
        assert pins(b) == []
        assert "all decode, references intact" in cli(b, "store", "verify").stdout


@lib.case
def bad_input_changes_nothing():
    with lib.Broker(conf=T.tls_conf(T.mtls())) as b:
        cli(b, "user", "add", "client1", "--no-password")
        cli(b, "user", "cert", "add", "client1", "--cert", T.p("client.pem"))
        before = pins(b)
        audit_before = audit_lines(b)
        unreadable = os.path.join(b.dir, "unreadable.pem")
        with open(unreadable, "w") as f:
            f.write(open(T.p("client-rsa.pem")).read())
        os.chmod(unreadable, 0)
        cases = [
            (("user", "cert", "add", "nobody", "--cert", T.p("client-rsa.pem")), 1,
             "unknown user 'nobody'"),
            (("user", "cert", "add", "client1", "--cert", T.p("client.pem")), 1,
             "already pins"),
            (("user", "cert", "add", "client1", "--cert", os.path.join(b.dir, "missing.pem")), 1,
             "No such file"),
            (("user", "cert", "add", "client1", "--cert", T.p("client-rsa.key")), 1,
             "not a certificate"),
            (("user", "cert", "del", "client1", "--fingerprint", "abc"), 1,
             "invalid fingerprint"),
            (("user", "cert", "del", "client1", "--fingerprint", "zz" * 32), 1,
             "invalid fingerprint"),
            (("user", "cert", "del", "client1", "--cert", T.p("client-rsa.pem")), 1,
             "does not pin"),
            (("user", "cert", "del", "nobody", "--fingerprint", hexfp("client")), 1,
             "unknown user"),
            (("user", "cert", "list", "nobody"), 1, "unknown user"),
            (("user", "cert", "add", "client1"), 2, "--cert FILE is required"),
            (("user", "cert", "add", "client1", "--fingerprint", hexfp("client-rsa")), 2,
             "unknown option"),
            (("user", "cert", "del", "client1", "--cert", T.p("client.pem"), "--fingerprint",
              hexfp("client")), 2, "exclude each other"),
        ]
        if os.geteuid() != 0:  # root reads any file
            cases.append((("user", "cert", "add", "client1", "--cert", unreadable), 1,
                          "Permission denied"))
        for args, code, msg in cases:
            r = cli(b, *args, ok=False)
            assert r.returncode == code, "%s: exit %d %r" % (args, r.returncode, r.stderr)
            assert msg in r.stderr, "%s: %r" % (args, r.stderr)
        r = cli(b, "--json", "user", "cert", "add", "nobody", "--cert", T.p("client.pem"),
                ok=False)
        assert r.returncode == 1 and json.loads(r.stdout)["ok"] is False, r.stdout
        assert pins(b) == before
        assert audit_lines(b) == audit_before
        # Pins still work after all that.
        T.paho(b, "still-pinned", version=5).disconnect()


lib.run()
