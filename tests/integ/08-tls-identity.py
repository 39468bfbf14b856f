#!/usr/bin/python3
"""08 TLS: certificate identities meet the store -- default-role permissions for
unknown identities, cert_requires_user, and disabled users' certificates."""

import time

import lib
import tlsutil as T


cli = lib.cli


@lib.case
def unknown_identities_get_the_default_role():
    with lib.Broker(conf=T.tls_conf(T.mtls()), open_rules=False) as b:
        cli(b, "role", "rule", "add", "default", "allow", "publish", "d/#")
        c = T.paho(b, "cert-default", version=5)
        assert c.pub("d/x", b"ok", qos=1) == 0
        assert c.pub("e/x", b"no", qos=1) == 0x87


@lib.case
def cert_requires_user_refuses_identities_that_are_no_user():
    conf = T.tls_conf(T.mtls("cert_requires_user true\n"))
    with lib.Broker(conf=conf) as b:
        c = T.paho(b, "no-user", version=5, connect=False)
        c.connect(expect_rc=0x87)
        c4 = T.paho(b, "no-user4", version=4, connect=False)
        c4.connect(expect_rc=5)
        cli(b, "user", "add", "client1", "--no-password")
        T.paho(b, "now-a-user", version=5).disconnect()


@lib.case
def a_disabled_users_certificate_stops_working():
    with lib.Broker(conf=T.tls_conf(T.mtls())) as b:
        cli(b, "user", "add", "client1", "--no-password")
        live = T.paho(b, "live-cert", version=5)
        cli(b, "user", "disable", "client1")
        assert live.wait_disconnected(timeout=5) == 0x98
        again = T.paho(b, "again", version=5, connect=False)
        again.connect(expect_rc=0x87)
        cli(b, "user", "enable", "client1")
        time.sleep(0.2)
        T.paho(b, "enabled", version=5).disconnect()


lib.run()
