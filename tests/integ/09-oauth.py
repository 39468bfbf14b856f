#!/usr/bin/python3
"""09 oauth: the OAuth 2.0 client-credentials token endpoint and the JWKS
document on an http_listener, driven with curl (and a raw socket for
malformed requests), over plain HTTP and over TLS."""

import base64
import json
import os
import socket
import subprocess
import urllib.parse

import lib
import tlsutil

PW = "correct horse battery"
cli = lib.cli


def oauth_broker(extra="", tls=False, http_extra=""):
    """A broker with an MQTT listener and an http_listener; b.http_port is the latter."""
    hp = lib.free_port()
    keys = ""
    if tls:
        keys = "certfile %s\nkeyfile %s\n" % (tlsutil.p("server.pem"), tlsutil.p("server.key"))
    conf = ("listener {port} 127.0.0.1\nallow_anonymous false\nauth_tokens true\n"
            "http_listener %d 127.0.0.1\n%s%s"
            "store_dir {store_dir}\n%s" % (hp, keys, http_extra, extra))
    b = lib.Broker(conf=conf, anonymous=False, open_rules=False)
    b.http_port = hp
    b.scheme = "https" if tls else "http"
    b.wait_log(r"listening on 127\.0\.0\.1:%d \(HTTP" % hp)
    return b


def add_user(b, name, *rules):
    cli(b, "user", "add", name, "--password-stdin", input=PW + "\n")
    for r in rules:
        cli(b, "user", "rule", "add", name, *r.split())


def curl(b, path, data=None, user=None, extra=(), method=None):
    """(status, headers text, parsed JSON body or raw text)."""
    url = "%s://127.0.0.1:%d%s" % (b.scheme, b.http_port, path)
    cmd = ["curl", "-sS", "--max-time", "15", "-D", "-", url]
    if b.scheme == "https":
        cmd += ["--cacert", tlsutil.p("ca.pem")]
    if data is not None:
        cmd += ["--data-binary", data, "-H", "Content-Type: application/x-www-form-urlencoded"]
    if user is not None:
        cmd += ["-u", user]
    if method:
        cmd += ["-X", method]
    cmd += list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, "curl failed: %s" % r.stderr
    head, _, body = r.stdout.replace("\r\n", "\n").partition("\n\n")
    status = int(head.split()[1])
    try:
        body = json.loads(body)
    except ValueError:
        pass
    return status, head, body


def grant(scope=None):
    return "grant_type=client_credentials" + ("&scope=" + urllib.parse.quote_plus(scope)
                                              if scope else "")


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@lib.case
def token_issued_and_shaped():
    with oauth_broker() as b:
        add_user(b, "alice", "allow publish sensors/alice/#",
                 "allow subscribe,receive sensors/alice/#")
        st, head, body = curl(b, "/oauth2/token", grant("mqtt:pub:sensors/alice/temp"),
                              user="alice:" + PW)
        assert st == 200, (st, body)
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600, body
        assert body["scope"] == "mqtt:pub:sensors/alice/temp", body
        assert "Cache-Control: no-store" in head and "application/json" in head, head
        h, p, sig = body["access_token"].split(".")
        hdr, claims = b64url_json(h), b64url_json(p)
        assert hdr["alg"] == "EdDSA" and hdr["kid"], hdr
        assert claims["sub"] == "alice" and claims["scope"] == "mqtt:pub:sensors/alice/temp"
        assert 3590 <= claims["exp"] - claims["iat"] <= 3600 and claims["jti"], claims
        # The key that signed it is published.
        st, _, jwks = curl(b, "/.well-known/jwks.json")
        assert st == 200, jwks
        keys = jwks["keys"]
        assert len(keys) == 1 and keys[0]["kid"] == hdr["kid"] and keys[0]["crv"] == "Ed25519"
        assert "d" not in keys[0], "private key material published"
        # No scope asked: none granted, the user's rules apply when it connects.
        st, _, body = curl(b, "/oauth2/token", grant(), user="alice:" + PW)
        assert st == 200 and "scope" not in body, body
        assert "scope" not in b64url_json(body["access_token"].split(".")[1])
        # The tokens connect: the scoped one may publish its topic and nothing else.
        scoped = curl(b, "/oauth2/token", grant("mqtt:pub:sensors/alice/temp"),
                      user="alice:" + PW)[2]["access_token"]
        mon = lib.client(b, "mon", username="alice", password=body["access_token"])
        mon.sub("sensors/alice/#")
        dev = lib.client(b, "dev", username="alice", password=scoped)
        dev.pub("sensors/alice/temp", b"21.5", qos=1)
        assert mon.expect().payload == b"21.5"
        rc = dev.pub("sensors/alice/hum", b"40", qos=1)
        assert rc == 0x87, "a publish outside the token's scope got 0x%02x" % rc
        mon.expect_none()
        r = lib.mosq_pub(b, "-u", "alice", "-P", scoped, "-t", "sensors/alice/temp", "-m", "22")
        assert r.returncode == 0, r.stderr
        assert mon.expect().payload == b"22"
        audit = cli(b, "audit", "--json").stdout
        assert "oauth.token" in audit, audit
        assert PW not in b.log() and body["access_token"] not in b.log()


@lib.case
def client_authentication_refused():
    with oauth_broker() as b:
        add_user(b, "alice", "allow publish sensors/#")
        for user in ("alice:wrong password", "nobody:" + PW, None):
            st, head, body = curl(b, "/oauth2/token", grant(), user=user)
            assert st == 401 and body["error"] == "invalid_client", (user, st, body)
            assert 'WWW-Authenticate: Basic realm="warden"' in head, head
        cli(b, "user", "disable", "alice")
        lib.wait_until(lambda: curl(b, "/oauth2/token", grant(), user="alice:" + PW)[0] == 401,
                       timeout=5, msg="a disabled user still gets tokens")
        assert "wrong password" not in b.log()


@lib.case
def scope_within_rules_only():
    with oauth_broker() as b:
        add_user(b, "alice", "deny publish sensors/alice/secret", "allow publish sensors/alice/#",
                 "allow subscribe,receive cmd/%u/#")
        ok = ["mqtt:pub:sensors/alice/temp", "mqtt:sub:cmd/alice/#",
              "mqtt:sub:cmd/%u/+ mqtt:pub:sensors/alice/x"]
        bad = ["mqtt:pub:sensors/#", "mqtt:pub:sensors/alice/#", "mqtt:rw:cmd/alice/#",
               "mqtt:sub:sensors/alice/temp", "mqtt:pub:cmd/%c/x", "mqtt:pub:a/#/b",
               "openid"]
        for s in ok:
            st, _, body = curl(b, "/oauth2/token", grant(s), user="alice:" + PW)
            assert st == 200, (s, st, body)
        for s in bad:
            st, _, body = curl(b, "/oauth2/token", grant(s), user="alice:" + PW)
            assert st == 400 and body["error"] == "invalid_scope", (s, st, body)


@lib.case
def request_errors():
    with oauth_broker() as b:
        add_user(b, "alice", "allow publish sensors/#")
        u = "alice:" + PW
        cases = [
            ("grant_type=password&username=alice&password=x", 400, "unsupported_grant_type"),
            ("scope=mqtt:pub:sensors/x", 400, "invalid_request"),
            ("grant_type=client_credentials&grant_type=client_credentials", 400,
             "invalid_request"),
            ("grant_type=client_credentials&scope=%zz", 400, "invalid_request"),
        ]
        for data, want, err in cases:
            st, _, body = curl(b, "/oauth2/token", data, user=u)
            assert st == want and body["error"] == err, (data, st, body)
        st, _, body = curl(b, "/oauth2/token", user=u)                  # GET
        assert st == 405, (st, body)
        st, _, body = curl(b, "/oauth2/token", grant(), user=u,
                           extra=["-H", "Content-Type: application/json"])
        assert st == 400 and body["error"] == "invalid_request", body
        st, _, body = curl(b, "/nothing/here", user=u)
        assert st == 404, (st, body)
        st, _, body = curl(b, "/oauth2/token", grant() + "&pad=" + "x" * 20000, user=u)
        assert st == 413, (st, body)
        # Not HTTP at all, and a request that never ends: answered or closed, broker fine.
        s = socket.create_connection(("127.0.0.1", b.http_port), timeout=5)
        s.sendall(b"\x00\x01garbage\r\n\r\n")
        data = s.recv(4096)
        assert data.startswith(b"HTTP/1.1 400"), data
        s.close()
        st, _, body = curl(b, "/oauth2/token", grant(), user=u)
        assert st == 200, body


@lib.case
def over_tls():
    with oauth_broker(tls=True) as b:
        add_user(b, "alice", "allow publish sensors/#")
        st, _, body = curl(b, "/oauth2/token", grant("mqtt:pub:sensors/a"), user="alice:" + PW)
        assert st == 200 and body["access_token"], body
        # A plain-HTTP request on the TLS port gets no answer.
        s = socket.create_connection(("127.0.0.1", b.http_port), timeout=5)
        s.sendall(b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(15)
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        assert not data.startswith(b"HTTP/"), data
        s.close()


@lib.case
def config_errors_name_the_line():
    d = lib.tempfile.mkdtemp(prefix="warden-oauth-")
    path = os.path.join(d, "w.conf")
    with open(path, "w") as f:
        f.write("listener 1883 127.0.0.1\nhttp_listener 8443 127.0.0.1\n"
                "allow_anonymous true\noauth_token_ttl 5\n")
    r = lib.run_warden(["check", "-c", path])
    assert r.returncode != 0, r.stdout
    out = r.stdout + r.stderr
    assert "w.conf:3" in out and "http_listener" in out, out
    assert "w.conf:4" in out and "oauth_token_ttl" in out, out
    lib.shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    lib.run()
