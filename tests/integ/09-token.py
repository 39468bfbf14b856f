#!/usr/bin/python3
"""09 tokens: access tokens (JWT) in the CONNECT password, against the real
binary with real clients: tokens from `warden token issue` (Paho, mosquitto_pub
and mosquitto_sub), tokens signed outside Warden (openssl for RS256, ES256 and
Ed25519 with a JWKS or key file built here; python's hmac for HS256), every
refusal, scope narrowing, expiry, 5.0 re-authentication with AUTH over raw
sockets, live revocation, the listener modes, and the session's token in the
admin interface and the console."""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import time

import lib

cli = lib.cli
# Refusal cases would otherwise trip the brute-force delay and ban (tested in 06).
CONF = "auth_tokens true\nauth_fail_delay_after 0\nauth_fail_ban_after 0\n"
SECRET = b"a shared secret of the test issuer"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64u_int(n):
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def make_jwt(header, claims, sign):
    si = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
    return si + "." + b64u(sign(si.encode()))


def hs256(secret):
    return lambda si: hmac.new(secret, si, hashlib.sha256).digest()


def claims(iss, sub, ttl=600, **kw):
    now = int(time.time())
    c = {"iss": iss, "sub": sub, "iat": now, "exp": now + ttl}
    c.update(kw)
    return c


def openssl(*args, input=None):
    r = subprocess.run(["openssl"] + list(args), capture_output=True, input=input, timeout=60)
    assert r.returncode == 0, "openssl %s: %s" % (" ".join(args), r.stderr.decode())
    return r.stdout


def issue(b, *args):
    return cli(b, "token", "issue", *args).stdout.strip()


def broker(extra=CONF, **kw):
    if lib.is_mosquitto():
        lib.skip("access tokens are Warden's")
    return lib.Broker(extra, anonymous=False, open_rules=False, **kw)


def rc_of(b, cid, version, username=None, password=None, props=b"", timeout=10):
    """The CONNACK code a raw client gets (None: closed without one). 3.1.1 has no
    password without a user name [MQTT-3.1.2-22]: an empty one goes with the token."""
    if version != 5 and username is None and password is not None:
        username = ""
    r = lib.Raw(b, timeout=timeout)
    try:
        r.send(lib.pkt_connect(cid, version=version, username=username, props=props,
                               password=password.encode() if password is not None else None))
        p = r.recv_packet(timeout)
        if p is None:
            return None
        assert p[0] == lib.CONNACK, "expected CONNACK, got %s" % lib.describe(p)
        return lib.parse_connack(p[2])[1]
    finally:
        r.close()


def refused(b, tok, cid="c1", user=None):
    """Refused like a wrong password in both versions."""
    assert rc_of(b, cid, 5, user, tok) == 0x86, "5.0 not refused with 0x86"
    assert rc_of(b, cid, 4, user, tok) == 4, "3.1.1 not refused with 4"


def add_user(b, name, *rules):
    cli(b, "user", "add", name, "--no-password")
    for r in rules:
        cli(b, "user", "rule", "add", name, *r)


def jti_of(tok):
    pl = tok.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(pl + "=" * (-len(pl) % 4)))["jti"]


@lib.case
def issued_token_with_paho_and_mosquitto_clients():
    with broker() as b:
        add_user(b, "alice", ("allow", "all", "a/#"))
        tok = issue(b, "--user", "alice")
        assert tok.count(".") == 2
        # Paho 5.0 with an empty user name and 3.1.1 with the subject as user name.
        c5 = lib.client(b, "paho5", version=5, username="", password=tok)
        c4 = lib.client(b, "paho4", version=4, username="alice", password=tok)
        c5.sub("a/#", qos=1)
        c4.pub("a/b", b"hello", qos=1)
        assert c5.expect().payload == b"hello"
        # mosquitto_sub/_pub with the token as password.
        sub = lib.mosq_sub_bg(b, "-V", "5", "-u", "alice", "-P", tok, "-t", "a/m", "-C", "1")
        lib.wait_until(lambda: len(re.findall(r"client=\S+ user=alice .*auth=token result=success",
                                              b.log())) >= 3, 10, msg="mosquitto_sub not in")
        r = lib.mosq_pub(b, "-V", "5", "-u", "alice", "-P", tok, "-t", "a/m", "-m", "via mosq")
        assert r.returncode == 0, r.stderr
        out, err = sub.communicate(timeout=15)
        assert out.decode().strip() == "via mosq", (out, err)
        # The token is never logged; its subject and the method are.
        assert tok not in b.log() and tok.split(".")[2] not in b.log()
        assert re.search(r"connect client=paho5 user=alice .*auth=token result=success", b.log())
        # Passwords still work on an `auth_tokens true` listener.
        cli(b, "user", "add", "bob", "--password-stdin", input="bob's long password\n")
        cli(b, "user", "rule", "add", "bob", "allow", "all", "a/#")
        assert rc_of(b, "bob1", 4, "bob", "bob's long password") == 0
        # HS256 from Warden's own secret works too.
        assert rc_of(b, "hs", 5, None, issue(b, "--user", "alice", "--alg", "hs256")) == 0
        # export-public: a JWKS with the Ed25519 key whose kid the tokens carry.
        jwks = json.loads(cli(b, "token", "key", "export-public").stdout)
        k = jwks["keys"][0]
        assert k["kty"] == "OKP" and k["crv"] == "Ed25519" and "d" not in k
        hdr = json.loads(base64.urlsafe_b64decode(tok.split(".")[0] + "=="))
        assert hdr["alg"] == "EdDSA" and hdr["kid"] == k["kid"]
        assert b.sanitizer_report() is None


@lib.case
def refusals_like_a_wrong_password():
    with broker() as b:
        add_user(b, "alice", ("allow", "all", "a/#"))
        cli(b, "token", "issuer", "add", "ext", "--iss", "https://idp.example",
            "--hs256-secret-stdin", "--audience", "mqtt", input=SECRET.decode() + "\n")
        ext = lambda **kw: make_jwt({"alg": "HS256", "typ": "JWT"},  # noqa: E731
                                    claims("https://idp.example", "alice", aud="mqtt", **kw),
                                    hs256(SECRET))
        assert rc_of(b, "ok", 5, None, ext()) == 0
        good = issue(b, "--user", "alice")
        h, p, s = good.split(".")
        flipped = s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1]
        refused(b, h + "." + p + "." + flipped)                                   # bad signature
        refused(b, ext(exp=int(time.time()) - 5))                                  # expired
        refused(b, make_jwt({"alg": "HS256"}, claims("https://idp.example", "alice",
                                                     aud="other"), hs256(SECRET)))  # wrong aud
        refused(b, make_jwt({"alg": "HS256"}, claims("https://unknown.example", "alice"),
                            hs256(SECRET)))                                        # unknown issuer
        refused(b, make_jwt({"alg": "HS256"}, claims("https://idp.example", "alice", aud="mqtt"),
                            hs256(b"another secret")))                             # wrong key
        refused(b, make_jwt({"alg": "none"}, claims("warden", "alice"), lambda si: b""))
        refused(b, make_jwt({"alg": "HS256"}, claims("https://idp.example", "alice", aud="mqtt",
                                                     nbf=int(time.time()) + 600), hs256(SECRET)))
        refused(b, "eyJhbGciOiJIUzI1NiJ9.not*base64.xx")                            # malformed
        refused(b, issue(b, "--user", "alice", "--client-id", "the-right-one"), cid="wrong-one")
        assert rc_of(b, "the-right-one", 5, None,
                     issue(b, "--user", "alice", "--client-id", "the-right-one")) == 0
        refused(b, good, user="mallory")                                           # user != sub
        assert rc_of(b, "named", 5, "alice", good) == 0
        rv = issue(b, "--user", "alice")
        cli(b, "token", "revoke", jti_of(rv), "--until", "2h")
        refused(b, rv)                                                             # revoked jti
        assert jti_of(rv) in cli(b, "token", "list-revoked").stdout
        # A disabled subject: not authorized, not "bad password".
        cli(b, "user", "disable", "alice")
        lib.wait_until(lambda: rc_of(b, "dis", 5, None, good) == 0x87, 5,
                       msg="disabled subject not refused with 0x87")
        assert rc_of(b, "dis", 4, None, good) == 5
        # The reasons are in the audit and the log; the tokens are not.
        audit = cli(b, "audit", "--limit", "100").stdout
        for why in ("bad signature", "expired", "audience not accepted", "unknown issuer",
                    "alg none refused", "not the token's client_id", "not the token's subject",
                    "token revoked", "subject is a disabled user"):
            assert why in audit, "audit lacks %r:\n%s" % (why, audit)
        assert good not in b.log() and good not in audit and s not in b.log()


@lib.case
def tokens_signed_outside_warden():
    with broker() as b:
        d = b.dir
        rsa, ec, ed = (os.path.join(d, n) for n in ("rsa.pem", "ec.pem", "ed.pem"))
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsa)
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", ec)
        openssl("genpkey", "-algorithm", "ed25519", "-out", ed)
        n = int(openssl("rsa", "-in", rsa, "-noout", "-modulus").decode().split("=")[1], 16)
        pub = openssl("pkey", "-in", ec, "-pubout", "-outform", "DER")[-65:]
        assert pub[0] == 4
        jwks = {"keys": [
            {"kty": "RSA", "kid": "r1", "alg": "RS256", "use": "sig", "n": b64u_int(n),
             "e": b64u_int(65537)},
            {"kty": "EC", "kid": "e1", "crv": "P-256", "x": b64u(pub[1:33]), "y": b64u(pub[33:])}]}
        jf = os.path.join(d, "jwks.json")
        with open(jf, "w") as f:
            json.dump(jwks, f)
        cli(b, "token", "issuer", "add", "corp", "--iss", "https://corp.example", "--jwks", jf)
        edpub = os.path.join(d, "edpub.pem")
        openssl("pkey", "-in", ed, "-pubout", "-out", edpub)
        cli(b, "token", "issuer", "add", "edge", "--iss", "edge-ca", "--ed25519-public", edpub)

        def sign_file(key, *args):
            def sign(si):
                m = os.path.join(d, "msg")
                with open(m, "wb") as f:
                    f.write(si)
                return openssl(*args, key, m) if args[0] == "dgst" else \
                    openssl("pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", m)
            return sign

        def es256(si):
            der = sign_file(ec, "dgst", "-sha256", "-sign")(si)
            # DER SEQUENCE { INTEGER r, INTEGER s } -> r || s, 32 bytes each
            assert der[0] == 0x30
            off = 2 if der[1] < 0x80 else 3
            out = b""
            for _ in range(2):
                assert der[off] == 0x02
                ln = der[off + 1]
                out += der[off + 2:off + 2 + ln].lstrip(b"\0").rjust(32, b"\0")
                off += 2 + ln
            return out

        rs = make_jwt({"alg": "RS256", "kid": "r1"}, claims("https://corp.example", "dev-1"),
                      sign_file(rsa, "dgst", "-sha256", "-sign"))
        es = make_jwt({"alg": "ES256", "kid": "e1"}, claims("https://corp.example", "dev-2"),
                      es256)
        eds = make_jwt({"alg": "EdDSA"}, claims("edge-ca", "dev-3"), sign_file(ed, "pkeyutl"))
        for cid, tok in (("rs", rs), ("es", es), ("ed", eds)):
            assert rc_of(b, cid, 5, None, tok) == 0, cid
            assert rc_of(b, cid, 4, None, tok) == 0, cid
        # mosquitto_pub with the RS256 token.
        r = lib.mosq_pub(b, "-u", "dev-1", "-P", rs, "-t", "x", "-m", "y")
        assert r.returncode == 0, r.stderr
        # The key is chosen by kid: an unknown kid, and an RS256 header on the EC key, fail.
        refused(b, make_jwt({"alg": "RS256", "kid": "r9"}, claims("https://corp.example", "d"),
                            sign_file(rsa, "dgst", "-sha256", "-sign")))
        refused(b, make_jwt({"alg": "RS256", "kid": "e1"}, claims("https://corp.example", "d"),
                            sign_file(rsa, "dgst", "-sha256", "-sign")))
        # An HMAC over the RSA key's public JWK (the classic confusion) is refused.
        refused(b, make_jwt({"alg": "HS256", "kid": "r1"}, claims("https://corp.example", "d"),
                            hs256(json.dumps(jwks["keys"][0]).encode())))
        # Issuer admin: list, show, reload (and SIGHUP), del; bad input changes nothing.
        out = cli(b, "--json", "token", "issuer", "list").stdout
        names = sorted(i["name"] for i in json.loads(out))
        assert names == ["corp", "edge"], out
        show = json.loads(cli(b, "--json", "token", "issuer", "show", "corp").stdout)
        assert sorted(k["kid"] for k in show["keys"]) == ["e1", "r1"], show
        with open(jf, "w") as f:
            f.write("{not json")
        r = cli(b, "token", "issuer", "reload", "corp", ok=False)
        assert r.returncode == 1 and "unusable keys" in r.stderr, r.stderr
        assert rc_of(b, "rs2", 5, None, rs) == 0   # the stored keys stayed
        jwks["keys"] = jwks["keys"][1:]            # the RSA key is rotated out
        with open(jf, "w") as f:
            json.dump(jwks, f)
        b.hup()
        b.wait_log(r"SIGHUP: 1 token issuer re-read", 10)
        lib.wait_until(lambda: rc_of(b, "rs3", 5, None, rs) == 0x86, 5,
                       msg="RS256 token still accepted after its key left the JWKS")
        assert rc_of(b, "es3", 5, None, es) == 0
        r = cli(b, "token", "issuer", "add", "dup", "--iss", "edge-ca", "--ed25519-public", edpub,
                ok=False)
        assert r.returncode == 1 and "already has iss" in r.stderr, r.stderr
        r = cli(b, "token", "issuer", "add", "x", "--iss", "i", "--jwks", edpub, ok=False)
        assert r.returncode == 1
        r = cli(b, "--json", "token", "issuer", "add", "y", "--iss", "j", ok=False)
        assert r.returncode == 2
        cli(b, "token", "issuer", "del", "edge")
        lib.wait_until(lambda: rc_of(b, "ed2", 5, None, eds) == 0x86, 5,
                       msg="token of a deleted issuer still accepted")
        r = cli(b, "--json", "token", "issuer", "del", "edge", ok=False)
        assert r.returncode == 1 and json.loads(r.stdout)["ok"] is False


@lib.case
def scope_narrows_and_never_widens():
    with broker() as b:
        add_user(b, "carol", ("allow", "all", "c/#"))
        # Narrower scope than the rules: only c/a/# now.
        t1 = issue(b, "--user", "carol", "--scope", "mqtt:rw:c/a/# openid")
        c1 = lib.client(b, "carol-1", username="", password=t1)
        assert c1.sub("c/a/#", qos=1) == [1]
        assert c1.sub("c/#") == [0x87]
        watcher = lib.client(b, "carol-w", username="carol",
                             password=issue(b, "--user", "carol"))   # no scope: carol's rules
        assert watcher.sub("c/#") == [0]
        c1.pub("c/b", b"outside scope", qos=1)
        c1.pub("c/a/1", b"inside", qos=1)
        assert watcher.expect().payload == b"inside"
        watcher.expect_none(0.5)
        lib.wait_until(lambda: "denied: outside the access token's scope" in
                       cli(b, "audit", "--limit", "50").stdout, 5, msg="no scope denial audited")
        # Wider scope than the rules: the rules still decide.
        t2 = issue(b, "--user", "carol", "--scope", "mqtt:rw:#")
        c2 = lib.client(b, "carol-2", username="", password=t2)
        assert c2.sub("d/#") == [0x87]
        # Publish-only scope: no subscribing.
        t3 = issue(b, "--user", "carol", "--scope", "mqtt:pub:c/#")
        c3 = lib.client(b, "carol-3", username="", password=t3)
        assert c3.sub("c/#") == [0x87]
        c3.pub("c/p", b"pub only", qos=1)
        assert watcher.expect().payload == b"pub only"
        # An unknown subject: the scope alone, with %u; without scope, nothing.
        t4 = issue(b, "--subject", "ghost", "--scope", "mqtt:rw:u/%u/#")
        g = lib.client(b, "ghost-1", username="", password=t4)
        assert g.sub("u/ghost/#") == [0]
        assert g.sub("u/other/#") == [0x87]
        g.pub("u/ghost/x", b"mine")
        assert g.expect().payload == b"mine"
        n = lib.client(b, "ghost-2", username="", password=issue(b, "--subject", "nobody"))
        assert n.sub("#") == [0x87] and n.sub("u/nobody/x") == [0x87]
        # A bad scope is refused at issue time.
        r = cli(b, "token", "issue", "--user", "carol", "--scope", "mqtt:pub:a/#/b", ok=False)
        assert r.returncode == 1


@lib.case
def expiry_disconnects_the_client():
    with broker() as b:
        add_user(b, "eve", ("allow", "all", "e/#"))
        c5 = lib.client(b, "exp5", username="", password=issue(b, "--user", "eve", "--ttl", "3s"))
        r = lib.Raw(b)
        r.connect("exp4", version=4, password=issue(b, "--user", "eve", "--ttl", "3s").encode(),
                  username="eve")
        t0 = time.monotonic()
        assert c5.wait_disconnected(timeout=15) == 0xA0, "5.0: not DISCONNECT 0xA0"
        assert time.monotonic() - t0 < 8
        r.expect_closed(timeout=10)      # 3.1.1: closed, no DISCONNECT
        b.wait_log(r"access token of eve expired")
        # An expired token is refused outright.
        assert rc_of(b, "late", 5, None, issue(b, "--user", "eve", "--ttl", "1s")) in (0, 0x86)


def auth_pkt(reason, token=None, method="jwt"):
    props = b""
    if method is not None:
        props += lib.prop(lib.P_AUTH_METHOD, method)
    if token is not None:
        props += lib.prop(lib.P_AUTH_DATA, token.encode())
    return lib.pkt(lib.AUTH, 0, bytes([reason]) + lib.varint(len(props)) + props)


@lib.case
def reauthentication_with_auth():
    with broker() as b:
        add_user(b, "frank", ("allow", "all", "f/#"))
        add_user(b, "gina", ("allow", "all", "f/#"))
        short = issue(b, "--user", "frank", "--ttl", "4s")
        r = lib.Raw(b)
        r.send(lib.pkt_connect("re-1", version=5, props=lib.prop(lib.P_AUTH_METHOD, "jwt") +
                               lib.prop(lib.P_AUTH_DATA, short.encode())))
        p = r.expect_packet(lib.CONNACK)
        flags, rc, props = lib.parse_connack(p[2])
        assert rc == 0 and lib.props_dict(props).get(lib.P_AUTH_METHOD) == "jwt", (rc, props)
        # A fresh token of the same subject: AUTH success, the session goes on past 4 s.
        r.send(auth_pkt(0x19, issue(b, "--user", "frank", "--scope", "mqtt:rw:f/a/#")))
        p = r.expect_packet(lib.AUTH, timeout=10)
        assert p[2][0] == 0x00, lib.describe(p)
        assert lib.props_dict(lib.parse_props(p[2][1:])).get(lib.P_AUTH_METHOD) == "jwt"
        b.wait_log(r"client=re-1 re-authenticated")
        # The new scope applies without reconnecting: f/b is refused now.
        r.send(lib.pkt_subscribe(1, [("f/b", 0)], version=5))
        p = r.expect_packet(lib.SUBACK)
        assert p[2][-1] == 0x87, lib.describe(p)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:   # the first token's exp passes
            r.send(lib.pkt(lib.PINGREQ, 0, b""))
            r.expect_packet(lib.PINGRESP)
            time.sleep(0.5)
        # Another subject's token: DISCONNECT 0x87.
        r.send(auth_pkt(0x19, issue(b, "--user", "gina")))
        p = r.expect_packet(lib.DISCONNECT, timeout=10)
        assert p[2][0] == 0x87, lib.describe(p)
        r.expect_closed()
        # A bad token in AUTH: DISCONNECT 0x87 too.
        r2 = lib.Raw(b)
        r2.send(lib.pkt_connect("re-2", version=5, props=lib.prop(lib.P_AUTH_METHOD, "jwt"),
                                password=issue(b, "--user", "frank").encode()))
        r2.expect_packet(lib.CONNACK)
        r2.send(auth_pkt(0x19, "eyJhbGciOiJub25lIn0.e30."))
        p = r2.expect_packet(lib.DISCONNECT, timeout=10)
        assert p[2][0] == 0x87, lib.describe(p)
        # AUTH with another method, or from a client that connected without one: 0x82.
        r3 = lib.Raw(b)
        r3.send(lib.pkt_connect("re-3", version=5, props=lib.prop(lib.P_AUTH_METHOD, "jwt"),
                                password=issue(b, "--user", "frank").encode()))
        r3.expect_packet(lib.CONNACK)
        r3.send(auth_pkt(0x19, issue(b, "--user", "frank"), method="SCRAM-SHA-1"))
        assert r3.expect_packet(lib.DISCONNECT)[2][0] == 0x82
        r4 = lib.Raw(b)
        r4.connect("re-4", version=5, password=issue(b, "--user", "frank").encode())
        r4.send(auth_pkt(0x19, issue(b, "--user", "frank")))
        assert r4.expect_packet(lib.DISCONNECT)[2][0] == 0x82
        # An unknown method at CONNECT: 0x8C.
        assert rc_of(b, "re-5", 5, props=lib.prop(lib.P_AUTH_METHOD, "SCRAM-SHA-1")) == 0x8C


@lib.case
def revocation_ends_a_live_session():
    with broker() as b:
        add_user(b, "hank", ("allow", "all", "h/#"))
        tok = issue(b, "--user", "hank")
        other = issue(b, "--user", "hank")
        c = lib.client(b, "rev-1", username="", password=tok)
        keep = lib.client(b, "rev-2", username="", password=other)
        t0 = time.monotonic()
        out = cli(b, "--json", "token", "revoke", jti_of(tok)).stdout
        assert json.loads(out)["ok"] is True
        assert c.wait_disconnected(timeout=5) == 0x98
        assert time.monotonic() - t0 < 4
        assert not keep.disconnected.is_set()
        keep.pub("h/x", b"still here", qos=1)
        assert rc_of(b, "rev-3", 5, None, tok) == 0x86
        b.wait_log(r"disconnecting client=rev-1 .*token revoked")
        r = cli(b, "token", "revoke", "x", "--until", "yesterday", ok=False)
        assert r.returncode == 2
        # The token itself on stdin: revoked until its own exp, then dropped.
        c2 = lib.client(b, "rev-4", username="", password=other)
        cli(b, "token", "revoke", "--token-stdin", input=other + "\n")
        assert c2.wait_disconnected(timeout=5) == 0x98
        assert keep.wait_disconnected(timeout=5) == 0x98
        exp = json.loads(base64.urlsafe_b64decode(other.split(".")[1] + "=="))["exp"]
        rows = json.loads(cli(b, "--json", "token", "list-revoked").stdout)
        row = [x for x in rows if x["jti"] == jti_of(other)]
        assert row and row[0]["until"] == time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                         time.gmtime(exp)), rows
        for bad, why in (("not a token", "does not parse"), ("", "does not parse")):
            r = cli(b, "token", "revoke", "--token-stdin", input=bad + "\n", ok=False)
            assert r.returncode == 1 and why in r.stderr, (r.stdout, r.stderr)
        r = cli(b, "token", "revoke", "--token-stdin", "x", input=other + "\n", ok=False)
        assert r.returncode == 2, r.stderr
        assert len(json.loads(cli(b, "--json", "token", "list-revoked").stdout)) == 2


@lib.case
def listener_modes():
    if lib.is_mosquitto():
        lib.skip("access tokens are Warden's")
    conf = ("listener {port} 127.0.0.1\nallow_anonymous false\nauth_tokens only\n"
            "store_dir {store_dir}\n")
    with lib.Broker(conf=conf, open_rules=False) as b:
        cli(b, "user", "add", "ivy", "--password-stdin", input="ivy's long password\n")
        assert rc_of(b, "pw", 5, "ivy", "ivy's long password") == 0x86   # only: no passwords
        assert rc_of(b, "tk", 5, "ivy", issue(b, "--user", "ivy")) == 0
    conf = conf.replace("auth_tokens only", "auth_tokens false")
    with lib.Broker(conf=conf, open_rules=False) as b:
        cli(b, "user", "add", "ivy", "--password-stdin", input="ivy's long password\n")
        assert rc_of(b, "pw", 5, "ivy", "ivy's long password") == 0
        assert rc_of(b, "tk", 5, "ivy", issue(b, "--user", "ivy")) == 0x86  # false: a password
        assert rc_of(b, "tk2", 5, None, issue(b, "--user", "ivy")) == 0x86
    r = lib.run_warden(["check", "-c", "/dev/stdin"],
                       input="listener 1883 127.0.0.1\nauth_tokens maybe\n")
    assert r.returncode != 0 and "auth_tokens" in r.stderr, r.stderr


@lib.case
def console_shows_the_token():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "tui"))
    import tmux  # noqa: E402
    if not shutil.which("tmux"):
        lib.skip("tmux is not installed")
    with broker() as b:
        add_user(b, "judy", ("allow", "all", "j/#"))
        c = lib.client(b, "judy-dev", username="",
                       password=issue(b, "--user", "judy", "--scope", "mqtt:sub:j/#"))
        c.sub("j/#")
        p = tmux.Pane([lib.warden_bin(), "console", "--socket",
                       os.path.join(b.store_dir, "admin.sock")], b.dir)
        try:
            p.wait_for(r"attached pid \d+")
            p.keys("2")
            p.wait_for(r"judy-dev\s+judy\s+token")
            p.keys("/")
            p.text("judy-dev")
            p.keys("Enter")
            p.keys("Enter")
            p.wait_for(r"\[Session\]")
            p.wait_for(r"Token\s+judy from warden, scope mqtt:sub:j/#, expires in \d+s")
            p.keys("q")
            assert p.wait_exit(10) == 0
        finally:
            p.kill()


if __name__ == "__main__":
    lib.run()
