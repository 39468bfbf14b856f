#!/usr/bin/python3
"""08 TLS: revocation by CRL (PEM and DER), an expired CRL under
crl_expired_policy warn and reject, and SIGHUP reloads of the CRL and of the
server certificate and key with clients staying connected; a reload that
fails keeps the old ones and says why."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import tlsutil as T  # noqa: E402


def warden_only():
    if lib.is_mosquitto():
        lib.skip("Warden CRL handling")


def crl_keys(path, extra=""):
    return T.mtls("crlfile %s\n" % path + extra)


@lib.case
def revoked_refused_pem_and_der():
    warden_only()
    for crl in ("crl.pem", "crl.der"):
        with lib.Broker(conf=T.tls_conf(crl_keys(T.p(crl)))) as b:
            b.wait_log(r"CRL from .*%s: 1 revocation\b" % crl)
            T.paho_fails(b, "rev-" + crl, client="revoked")
            r = lib.mosq_pub(b, "-t", "x", "-m", "x", *T.tls_args("revoked"))
            assert r.returncode != 0, "revoked certificate accepted by %s" % crl
            b.wait_log(r"TLS handshake with .* failed: CRL Cert revoked")
            for v in (4, 5):
                T.paho(b, "good-%d" % v, version=v).disconnect()


@lib.case
def expired_crl_policy_warn_keeps_enforcing():
    warden_only()
    with lib.Broker(conf=T.tls_conf(crl_keys(T.p("crl-expired.pem")))) as b:
        b.wait_log(r"error .*CRL in .*crl-expired\.pem EXPIRED at 2020-02-01 .*policy warn")
        T.paho(b, "fine", version=5).disconnect()
        b.wait_log(r"client=fine user=client1 ")
        # the revoked certificate is still refused (by Warden, after the handshake)
        c = T.paho(b, "rev", version=4, client="revoked", connect=False)
        try:
            c.connect(expect_rc=None, timeout=5)
            raise AssertionError("revoked client got CONNACK %r" % (c.connack,))
        except (OSError, AssertionError) as e:
            if "got CONNACK" in str(e):
                raise
        b.wait_log(r"revoked \(by an expired CRL, crl_expired_policy warn\)")
        assert "client=rev " not in b.log()


@lib.case
def expired_crl_policy_reject():
    warden_only()
    keys = crl_keys(T.p("crl-expired.pem"), "crl_expired_policy reject\n")
    plain = lib.free_port()
    with lib.Broker(conf=T.tls_conf(keys, plain_port=plain)) as b:
        b.wait_log(r"EXPIRED at .*policy reject")
        T.paho_fails(b, "nobody", client="client")
        b.wait_log(r"TLS handshake with .* failed: CRL missing")
        r = lib.mosq_pub(b, "-p", str(plain), "-t", "x", "-m", "plain still works")
        assert r.returncode == 0


@lib.case
def sighup_reloads_crl_clients_stay():
    warden_only()
    work = os.path.join(T.pki(), "reload-crl.pem")
    shutil.copy(T.p("crl-empty.pem"), work)
    with lib.Broker(conf=T.tls_conf(crl_keys(work))) as b:
        stay = T.paho(b, "stay-revoked", version=5, client="revoked")
        stay.sub("r/#", qos=1)
        other = T.paho(b, "stay-good", version=4, client="client")
        shutil.copy(T.p("crl.pem"), work)
        b.hup()
        b.wait_log(r"TLS certificate, key, CAs and CRL reloaded \(SIGHUP\)")
        T.paho_fails(b, "new-revoked", client="revoked")
        # the connected clients, the revoked one included, keep exchanging messages
        for i in range(3):
            other.pub("r/%d" % i, b"m%d" % i, qos=1)
            assert stay.expect(timeout=5).payload == b"m%d" % i
        # a CRL that cannot be read: the old one stays, and the log says why
        with open(work, "w") as f:
            f.write("not a crl\n")
        b.hup()
        b.wait_log(r"TLS reload \(SIGHUP\) failed, keeping the previous certificate, key and CRL: "
                   r"crlfile .*: no CRL in it")
        T.paho_fails(b, "new-revoked-2", client="revoked")
        T.paho(b, "new-good", version=5).disconnect()
        other.pub("r/x", b"still", qos=1)
        assert stay.expect(timeout=5).payload == b"still"


@lib.case
def a_changed_crl_file_is_picked_up_without_sighup():
    warden_only()
    work = os.path.join(T.pki(), "watched-crl.pem")
    shutil.copy(T.p("crl-empty.pem"), work)
    with lib.Broker(conf=T.tls_conf(crl_keys(work))) as b:
        T.paho(b, "before", version=5, client="revoked").disconnect()
        tmp = work + ".new"
        shutil.copy(T.p("crl.pem"), tmp)
        os.replace(tmp, work)  # as an operator or a CRL fetcher would
        b.wait_log(r"CRL reloaded \(crlfile changed\)", timeout=10)
        T.paho_fails(b, "after", client="revoked")
        T.paho(b, "good", version=4, client="client").disconnect()


@lib.case
def sighup_reloads_server_certificate():
    warden_only()
    cert = os.path.join(T.pki(), "reload-server.pem")
    key = os.path.join(T.pki(), "reload-server.key")
    shutil.copy(T.p("server.pem"), cert)
    shutil.copy(T.p("server.key"), key)
    conf = T.tls_conf(T.mtls()).replace(T.p("server.pem"), cert).replace(T.p("server.key"), key)
    with lib.Broker(conf=conf) as b:
        r = T.s_client(b.port, "-CAfile", T.p("ca.pem"))
        assert "O = Warden Test, CN = localhost" in r.stdout, r.stdout[-1500:]
        stay = T.paho(b, "stay", version=5)
        stay.sub("s/#", qos=1)
        shutil.copy(T.p("server2.pem"), cert)
        shutil.copy(T.p("server2.key"), key)
        b.hup()
        b.wait_log(r"reloaded \(SIGHUP\)")
        r = T.s_client(b.port, "-CAfile", T.p("ca.pem"))
        assert "O = Warden Reloaded" in r.stdout, r.stdout[-1500:]
        pub = T.paho(b, "pub-after", version=4, client="client-rsa")
        pub.pub("s/1", b"after reload", qos=1)
        assert stay.expect(timeout=5).payload == b"after reload"
        # a broken certificate file: refused, the running one stays
        with open(cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
        b.hup()
        b.wait_log(r"TLS reload \(SIGHUP\) failed, keeping the previous .*: certfile ")
        r = T.s_client(b.port, "-CAfile", T.p("ca.pem"))
        assert "O = Warden Reloaded" in r.stdout, r.stdout[-1500:]
        pub.pub("s/2", b"still", qos=1)
        assert stay.expect(timeout=5).payload == b"still"


lib.run()
