#!/usr/bin/python3
"""08 TLS: TLS and plain listeners side by side, server-only and mutual TLS
with real clients (mosquitto_pub/sub, Paho; 3.1.1 and 5.0), certificate
identity (CN, SAN), use_identity/subject_as_username, refusals (no
certificate, another CA, expired), Ed25519 clients, TLS 1.1 and NULL/RC4
suites refused, configuration errors."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import tlsutil as T  # noqa: E402


def warden_only():
    if lib.is_mosquitto():
        lib.skip("Warden TLS keys and log lines")


@lib.case
def server_only_tls_beside_plain():
    warden_only()
    plain = lib.free_port()
    with lib.Broker(conf=T.tls_conf(plain_port=plain)) as b:
        b.wait_log(r"listening on 127\.0\.0\.1:%d \(TLS\)" % b.port)
        b.wait_log(r"listening on 127\.0\.0\.1:%d\b(?! \(TLS\))" % plain)
        for ver in ("mqttv311", "mqttv5"):
            sub = lib.mosq_sub_bg(b, "-V", ver, "-t", "tls/" + ver, "-C", "1", "-W", "8",
                                  *T.tls_args(client=None))
            lib.wait_until(lambda: b.log().count("result=success") >= 1, 5)
            # publish on the plain listener, receive over TLS
            r = lib.mosq_pub(b, "-p", str(plain), "-V", ver, "-t", "tls/" + ver, "-m", "x-" + ver,
                             "-q", "1", "--repeat", "3", "--repeat-delay", "0.3")
            assert r.returncode == 0, "plain mosquitto_pub: %r" % r.stderr
            out, err = sub.communicate(timeout=10)
            assert out.strip() == ("x-" + ver).encode(), \
                "mosquitto_sub over TLS (%s): got %r, stderr %r" % (ver, out, err)
        # mosquitto_pub over TLS (server-only: no client certificate)
        r = lib.mosq_pub(b, "-t", "t", "-m", "m", *T.tls_args(client=None))
        assert r.returncode == 0, "mosquitto_pub over TLS: %r" % r.stderr
        # plain MQTT on the TLS port is not MQTT: closed without a CONNACK
        raw = lib.Raw(b)
        raw.send(lib.pkt_connect("plain-on-tls"))
        T.expect_eof(raw, timeout=5)
        raw.close()
        b.wait_log(r"TLS handshake with .* failed")


@lib.case
def paho_mutual_tls_both_versions():
    warden_only()
    with lib.Broker(conf=T.tls_conf(T.mtls())) as b:
        subs = {}
        for v in (4, 5):
            subs[v] = T.paho(b, "sub-v%d" % v, version=v)
            subs[v].sub("mtls/#", qos=1)
        for v in (4, 5):
            pub = T.paho(b, "pub-v%d" % v, version=v, client="client-rsa")
            assert pub.pub("mtls/%d" % v, b"hello %d" % v, qos=1) == 0
            pub.disconnect()
            for sv, s in subs.items():
                m = s.expect(timeout=5)
                assert m.payload == b"hello %d" % v, "v%d got %r" % (sv, m.payload)
        log = b.log()
        assert "client=sub-v4 user=client1 " in log, log[-1500:]
        assert "user=client1-rsa" in log and "auth=certificate" in log, log[-1500:]
        assert "cert=client1" in log, log[-1500:]


@lib.case
def mosquitto_clients_mutual_tls():
    warden_only()
    with lib.Broker(conf=T.tls_conf(T.mtls())) as b:
        for ver in ("mqttv311", "mqttv5"):
            sub = lib.mosq_sub_bg(b, "-V", ver, "-t", "m/" + ver, "-C", "1", "-W", "8",
                                  *T.tls_args())
            lib.wait_until(lambda: b.log().count("result=success") >= 1, 5)
            r = lib.mosq_pub(b, "-V", ver, "-t", "m/" + ver, "-m", ver, "-q", "1",
                             "--repeat", "3", "--repeat-delay", "0.3",
                             *T.tls_args("client-ed25519"))
            assert r.returncode == 0, "mosquitto_pub (Ed25519) %s: %r" % (ver, r.stderr)
            out, err = sub.communicate(timeout=10)
            assert out.strip() == ver.encode(), "mosquitto_sub %s: %r %r" % (ver, out, err)
        assert "user=client1-ed25519" in b.log(), b.log()[-1500:]


@lib.case
def refused_without_cert_other_ca_expired():
    warden_only()
    plain = lib.free_port()
    with lib.Broker(conf=T.tls_conf(T.mtls(), plain_port=plain)) as b:
        ok = T.paho(b, "stays", version=5)
        ok.sub("still/#")
        for client, why in ((None, "no certificate"), ("other-client", "another CA"),
                            ("expired", "expired")):
            T.paho_fails(b, "bad-" + str(client), client=client)
            r = lib.mosq_pub(b, "-t", "x", "-m", "x", *T.tls_args(client), timeout=10)
            assert r.returncode != 0, "mosquitto_pub with %s was accepted" % why
        b.wait_log(r"TLS handshake with .* failed: .*date", timeout=3)
        assert b.log().count("result=success") == 1, "a refused client got in: " + b.log()
        # the good client and the plain listener were not disturbed
        r = lib.mosq_pub(b, "-p", str(plain), "-t", "still/here", "-m", "yes")
        assert r.returncode == 0
        assert ok.expect(timeout=5).payload == b"yes"


@lib.case
def identity_from_san_and_subject():
    warden_only()
    cases = (("cert_identity san_uri\n", "client", "user=urn:warden:client1 "),
             ("cert_identity san_dns\n", "client-rsa", "user=client1-rsa.example "),
             ("cert_identity san_email\n", "client", "user=client1@example.com "),
             ("cert_identity cn\n", "client-ed25519", "user=client1-ed25519 "))
    for keys, client, want in cases:
        with lib.Broker(conf=T.tls_conf(T.mtls(keys))) as b:
            c = T.paho(b, "id-" + client, version=4, client=client)
            c.disconnect()
            b.wait_log(r"client=id-%s %s" % (client, want.rstrip()), timeout=3)
    # no SAN of the configured kind: refused (no identity), 5.0 Not authorized
    with lib.Broker(conf=T.tls_conf(T.mtls("cert_identity san_uri\n"))) as b:
        T.paho(b, "nosan", version=5, client="client-nosan", expect_rc=0x87)
        b.wait_log(r"client=nosan .*refused \(certificate has no identity")
    # use_subject_as_username: the RFC 2253 subject
    keys = "cafile %s\nrequire_certificate true\nuse_subject_as_username true\n" % T.p("ca.pem")
    with lib.Broker(conf=T.tls_conf(keys)) as b:
        T.paho(b, "subj", version=5).disconnect()
        b.wait_log(r"client=subj user=CN=client1,O=Warden Test ")


@lib.case
def capath_and_optional_certificate():
    warden_only()
    keys = "capath %s\nuse_identity_as_username true\n" % T.p("capath")
    with lib.Broker(conf=T.tls_conf(keys, anonymous=True)) as b:
        T.paho(b, "with-cert", version=4).disconnect()
        b.wait_log(r"client=with-cert user=client1 ")
        # require_certificate false: a client without one is an anonymous client
        T.paho(b, "no-cert", version=4, client=None).disconnect()
        b.wait_log(r"client=no-cert addr=")
        T.paho_fails(b, "other", client="other-client")
    # not anonymous: without a certificate the client needs credentials
    with lib.Broker(conf=T.tls_conf(keys, anonymous=False)) as b:
        T.paho(b, "no-cert2", version=5, client=None, expect_rc=0x87)
        T.paho(b, "with-cert2", version=5).disconnect()


@lib.case
def tls11_refused_tls12_minimum():
    warden_only()
    with lib.Broker(conf=T.tls_conf()) as b:
        r = T.s_client(b.port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        assert "Cipher is (NONE)" in r.stdout or "alert protocol version" in r.stderr, \
            "TLS 1.1 handshake not refused: %s %s" % (r.stdout[-500:], r.stderr[-500:])
        b.wait_log(r"TLS handshake with .* failed: .*version")
        r = T.s_client(b.port, "-tls1_2")
        assert T.negotiated(r) == "TLSv1.2", r.stdout[-800:]
    with lib.Broker(conf=T.tls_conf("tls_version tlsv1.3\n")) as b:
        r = T.s_client(b.port, "-tls1_2")
        assert T.negotiated(r) is None, "tls_version tlsv1.3 accepted TLS 1.2: " + r.stdout
        r = T.s_client(b.port, "-tls1_3")
        assert T.negotiated(r) == "TLSv1.3", r.stdout[-800:]


@lib.case
def null_and_rc4_suites_refused():
    warden_only()
    with lib.Broker(conf=T.tls_conf()) as b:
        for word in ("NULL", "RC4"):
            r = T.wolf_client(b.port, word)
            assert "offered: " in r.stdout and word in r.stdout, r.stdout + r.stderr
            assert r.returncode == 1 and "handshake failed" in r.stdout, \
                "a client offering only %s suites got: %s %s" % (word, r.stdout, r.stderr)
        # control: the same client with a sound suite succeeds
        r = T.wolf_client(b.port, "=ECDHE-ECDSA-AES128-GCM-SHA256")
        assert r.returncode == 0, r.stdout + r.stderr
        b.wait_log(r"can't match cipher suite")
    # an explicit list asking for NULL or RC4 is a startup error
    for bad in ("ECDHE-ECDSA-NULL-SHA", "ECDHE-ECDSA-RC4-SHA:ECDHE-ECDSA-AES128-GCM-SHA256"):
        with lib.Broker(conf=T.tls_conf("ciphers %s\n" % bad), wait=False,
                        expect_exit=None) as b:
            lib.wait_until(lambda: b.proc.poll() is not None, 10)
            assert b.proc.returncode != 0
            assert "refusing weak suite" in b.log(), b.log()


@lib.case
def config_errors_name_file_and_line():
    warden_only()
    d = T.pki()
    cases = (("listener 8883\ncertfile %s/server.pem\n" % d, 1, "certfile without keyfile"),
             ("listener 1883\nlistener 8883\ncafile %s/ca.pem\n" % d, 2,
              "TLS keys without certfile and keyfile"),
             ("listener 8883\ncertfile %s/server.pem\nkeyfile %s/server.key\n"
              "require_certificate true\n" % (d, d), 1, "need cafile or capath"),
             ("listener 8883\ncertfile a\nkeyfile b\ncafile c\nuse_identity_as_username true\n"
              "use_subject_as_username true\n", 1, "exclude each other"),
             ("listener 8883\ntls_version tlsv1.1\n", 2, "is not one of tlsv1.2, tlsv1.3"),
             ("listener 8883\ncert_identity dn\n", 2, "is not one of cn, san_dns"),
             ("listener 8883\ncrl_expired_policy ignore\n", 2, "is not one of reject, warn"),
             ("listener 8883\ntls_handshake_timeout 0\n", 2, "out of range 1..3600"))
    for text, line, msg in cases:
        conf = os.path.join(d, "bad.conf")
        with open(conf, "w") as f:
            f.write(text)
        r = lib.run_warden(["check", "-c", conf])
        out = r.stdout + r.stderr
        assert r.returncode != 0, "warden check accepted %r" % text
        assert "%s:%d" % (conf, line) in out and msg in out, \
            "expected %s:%d ... %s, got %r" % (conf, line, msg, out)
    # files that cannot be used: the broker says which and why, and exits
    conf = T.tls_conf().replace(T.p("server.pem"), T.p("nonexistent.pem"))
    with lib.Broker(conf=conf, wait=False, expect_exit=None) as b:
        lib.wait_until(lambda: b.proc.poll() is not None, 10)
        assert b.proc.returncode != 0 and "nonexistent.pem: No such file" in b.log(), b.log()


@lib.case
def garbage_and_silence_before_handshake():
    warden_only()
    with lib.Broker(conf=T.tls_conf(T.mtls("tls_handshake_timeout 1\n"))) as b:
        ok = T.paho(b, "steady", version=5)
        ok.sub("g/#", qos=1)
        silent = [lib.Raw(b) for _ in range(5)]
        garbage = lib.Raw(b)
        garbage.send(b"\x16\x03\x01\x00\x05" + os.urandom(300))
        T.expect_eof(garbage, timeout=3)
        half = lib.Raw(b)
        half.send(bytes.fromhex("160301"))   # the start of a record, then nothing
        for r in silent + [half]:
            T.expect_eof(r, timeout=4)
        b.wait_log(r"TLS handshake with .* not done within 1 s")
        pub = T.paho(b, "pub", version=4, client="client-rsa")
        pub.pub("g/x", b"after", qos=1)
        assert ok.expect(timeout=5).payload == b"after"


lib.run()
