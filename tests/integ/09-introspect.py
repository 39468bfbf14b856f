#!/usr/bin/python3
"""09 introspection: opaque access tokens checked with OAuth 2.0 token
introspection (RFC 7662) against a small introspection service written here
(http.server over TLS on 127.0.0.1, its certificate from the test PKI),
which answers from a dict token -> claims, counts its calls, checks Warden's
HTTP Basic credentials and the client_id parameter, and can be stopped or
made to stall. Real clients: Paho and mosquitto_pub."""

import base64
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import lib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlsutil  # noqa: E402

cli = lib.cli
CONF = ("auth_tokens only\nauth_fail_delay_after 0\nauth_fail_ban_after 0\n"
        "introspect_timeout 2\n")
CLIENT_ID = "warden-rs"
SECRET = "s3cret:with&odd chars"


class Service:
    """The introspection service: POST /introspect (and /other, a second realm)."""

    def __init__(self, cert=None):
        self.tokens = {}          # path -> {token: claims}
        self.calls = []           # (path, token, client_id) of every authenticated call
        self.bad_auth = 0         # calls with wrong or missing Basic credentials
        self.mode = "ok"          # ok | stall | 500 | garbled
        self.release = threading.Event()
        self.lock = threading.Lock()
        svc = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n).decode()
                form = urllib.parse.parse_qs(body, keep_blank_values=True)
                auth = self.headers.get("Authorization", "")
                ok_auth = False
                if auth.startswith("Basic "):
                    user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                    ok_auth = (urllib.parse.unquote_plus(user) == CLIENT_ID and
                               urllib.parse.unquote_plus(pw) == SECRET)
                if not ok_auth or self.headers.get("Content-Type") != \
                        "application/x-www-form-urlencoded":
                    with svc.lock:
                        svc.bad_auth += 1
                    return self.answer(401, b'{"error":"invalid_client"}')
                tok = form.get("token", [""])[0]
                cid = form.get("client_id", [None])[0]
                with svc.lock:
                    svc.calls.append((self.path, tok, cid))
                if svc.mode == "stall":
                    svc.release.wait(20)
                    return
                if svc.mode == "500":
                    return self.answer(500, b"oops")
                if svc.mode == "garbled":
                    return self.answer(200, b"{not json")
                claims = svc.tokens.get(self.path, {}).get(tok)
                if claims is None or (claims.get("_for") and claims["_for"] != cid):
                    claims = {"active": False}
                out = {k: v for k, v in claims.items() if not k.startswith("_")}
                self.answer(200, json.dumps(out).encode())

            def answer(self, code, body):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((lib.HOST, 0), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert = cert or (tlsutil.p("server.pem"), tlsutil.p("server.key"))
        ctx.load_cert_chain(*cert)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = "https://localhost:%d/introspect" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.stopped = False

    def add(self, token, path="/introspect", **claims):
        self.tokens.setdefault(path, {})[token] = dict(claims, active=claims.get("active", True))

    def ncalls(self, token=None):
        with self.lock:
            return len([c for c in self.calls if token is None or c[1] == token])

    def stop(self):
        if not self.stopped:
            self.stopped = True
            self.release.set()
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(10)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


def misnamed_cert(d):
    """A server certificate from the test CA for elsewhere.example only: (pem, key)."""
    key, csr, pem, ext = (os.path.join(d, n) for n in ("mis.key", "mis.csr", "mis.pem", "mis.ext"))
    with open(ext, "w") as f:
        f.write("extendedKeyUsage=serverAuth\nsubjectAltName=DNS:elsewhere.example\n")
    for args in (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-out", key],
                 ["req", "-new", "-key", key, "-subj", "/CN=elsewhere.example", "-out", csr],
                 ["x509", "-req", "-in", csr, "-CA", tlsutil.p("ca.pem"), "-CAkey",
                  tlsutil.p("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", ext,
                  "-out", pem]):
        r = subprocess.run(["openssl"] + args, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    return pem, key


def broker(extra=CONF, **kw):
    if lib.is_mosquitto():
        lib.skip("token introspection is Warden's")
    return lib.Broker(extra, anonymous=False, open_rules=False, **kw)


def add_issuer(b, svc, name="idp", *extra, url=None, ca=True):
    args = ["token", "issuer", "add", name, "--introspect", url or svc.url, "--client-id",
            CLIENT_ID, "--secret-stdin"] + list(extra)
    if ca:
        args += ["--cafile", tlsutil.p("ca.pem")]
    return cli(b, *args, input=SECRET + "\n")


def add_user(b, name, *rules):
    cli(b, "user", "add", name, "--no-password")
    for r in rules:
        cli(b, "user", "rule", "add", name, *r)


def rc_of(b, cid, version, password, username=None, timeout=10):
    """The CONNACK code a raw client gets with this password (None: closed without one)."""
    if version != 5 and username is None:
        username = ""
    r = lib.Raw(b, timeout=timeout)
    try:
        r.send(lib.pkt_connect(cid, version=version, username=username,
                               password=password.encode()))
        p = r.recv_packet(timeout)
        if p is None:
            return None
        assert p[0] == lib.CONNACK, "expected CONNACK, got %s" % lib.describe(p)
        return lib.parse_connack(p[2])[1]
    finally:
        r.close()


@lib.case
def active_token_connects_with_paho_and_mosquitto():
    with Service() as svc, broker() as b:
        add_user(b, "alice", ("allow", "all", "a/#"))
        add_issuer(b, svc)
        svc.add("opaque-alice-1", sub="alice", exp=int(time.time()) + 600)
        c5 = lib.client(b, "paho5", version=5, username="", password="opaque-alice-1")
        c4 = lib.client(b, "paho4", version=4, username="alice", password="opaque-alice-1")
        c5.sub("a/#", qos=1)
        c4.pub("a/b", b"hello", qos=1)
        assert c5.expect().payload == b"hello"
        svc.add("opaque-alice-2", sub="alice")
        r = lib.mosq_pub(b, "-i", "mosq1", "-u", "alice", "-P", "opaque-alice-2", "-t", "a/m",
                         "-m", "via mosq")
        assert r.returncode == 0, r.stderr
        assert c5.expect().payload == b"via mosq"
        # What Warden sent: its own credentials (checked by the service) and the client id.
        assert svc.bad_auth == 0
        assert ("/introspect", "opaque-alice-1", "paho5") in svc.calls
        assert ("/introspect", "opaque-alice-2", "mosq1") in svc.calls
        assert re.search(r"connect client=paho5 user=alice .*auth=token result=success", b.log())
        assert "opaque-alice" not in b.log()
        audit = cli(b, "audit", "--limit", "50").stdout
        assert "token login" in audit and "opaque-alice" not in audit
        assert b.sanitizer_report() is None


@lib.case
def refusals_inactive_client_id_and_unknown():
    with Service() as svc, broker() as b:
        add_user(b, "alice", ("allow", "all", "a/#"))
        add_issuer(b, svc)
        svc.add("gone", active=False, sub="alice")
        assert rc_of(b, "c1", 5, "gone") == 0x86
        assert rc_of(b, "c1", 4, "gone") == 4
        assert rc_of(b, "c1", 5, "never-heard-of") == 0x86
        # The service's client_id must be the MQTT client id.
        svc.add("bound", sub="alice", client_id="dev-1")
        assert rc_of(b, "dev-2", 5, "bound") == 0x86
        assert rc_of(b, "dev-1", 5, "bound") == 0
        # The CONNECT user name, when given, must be the subject.
        svc.add("named", sub="alice")
        assert rc_of(b, "c2", 4, "named", username="mallory") == 4
        assert rc_of(b, "c2", 4, "named", username="alice") == 0
        # An expired answer is refused even though the service said active.
        svc.add("stale", sub="alice", exp=int(time.time()) - 5)
        assert rc_of(b, "c3", 5, "stale") == 0x86
        audit = cli(b, "audit", "--limit", "100").stdout
        for why in ("token not active (introspection)", "client id is not the token's client_id",
                    "user name is not the token's subject", "token expired (introspection exp)"):
            assert why in audit, "audit lacks %r:\n%s" % (why, audit)
        assert b.sanitizer_report() is None


@lib.case
def scope_narrows_the_subjects_rules():
    with Service() as svc, broker() as b:
        add_user(b, "carol", ("allow", "all", "c/#"))
        add_issuer(b, svc)
        svc.add("narrow", sub="carol", scope="mqtt:rw:c/a/# openid")
        svc.add("wide", sub="carol", scope="mqtt:rw:#")
        svc.add("plain", sub="carol")
        c1 = lib.client(b, "carol-1", username="", password="narrow")
        assert c1.sub("c/a/#", qos=1) == [1]
        assert c1.sub("c/#") == [0x87]
        watcher = lib.client(b, "carol-w", username="", password="plain")
        assert watcher.sub("c/#") == [0]
        c1.pub("c/b", b"outside scope", qos=1)
        c1.pub("c/a/1", b"inside", qos=1)
        assert watcher.expect().payload == b"inside"
        watcher.expect_none(0.5)
        c2 = lib.client(b, "carol-2", username="", password="wide")
        assert c2.sub("d/#") == [0x87]   # the rules still decide


@lib.case
def answers_are_cached_per_token_and_client():
    with Service() as svc, broker() as b:
        add_user(b, "alice", ("allow", "all", "a/#"))
        add_issuer(b, svc, "idp", "--cache", "1m")
        svc.add("cached", sub="alice", exp=int(time.time()) + 600)
        for _ in range(3):
            assert rc_of(b, "same", 5, "cached") == 0
        assert svc.ncalls("cached") == 1, svc.calls
        # Another client id is another question.
        assert rc_of(b, "other", 5, "cached") == 0
        assert svc.ncalls("cached") == 2
        # Inactive answers are not cached: a token that becomes active works at once.
        assert rc_of(b, "late", 5, "later") == 0x86
        svc.add("later", sub="alice")
        assert rc_of(b, "late", 5, "later") == 0
        # The cache ends at exp when that comes first.
        svc.add("short", sub="alice", exp=int(time.time()) + 2)
        assert rc_of(b, "s", 5, "short") == 0
        lib.wait_until(lambda: rc_of(b, "s", 5, "short") == 0x86, 10,
                       msg="an answer outlived its exp")
        # The cached answer ended at exp: asked again, and refused as expired.
        assert svc.ncalls("short") == 2, svc.calls


@lib.case
def service_down_fails_closed_but_sessions_stay():
    with Service() as svc, broker() as b:
        add_user(b, "alice", ("allow", "all", "a/#"))
        add_issuer(b, svc)
        svc.add("live", sub="alice", exp=int(time.time()) + 600)
        svc.add("fresh", sub="alice", exp=int(time.time()) + 600)
        keep = lib.client(b, "keep", username="", password="live")
        keep.sub("a/#", qos=1)
        for mode, why in (("500", "answered HTTP 500"), ("garbled", "not a JSON object")):
            svc.mode = mode
            assert rc_of(b, "new", 5, "fresh") == 0x88, mode
            assert rc_of(b, "new", 4, "fresh") == 3, mode
            b.wait_log(re.escape(why))
        svc.stop()
        assert rc_of(b, "new", 5, "fresh") == 0x88
        assert rc_of(b, "new", 4, "fresh") == 3
        b.wait_log(r"token introspection at issuer idp failed: .*unreachable")
        # The admitted session keeps running.
        keep.pub("a/x", b"still here", qos=1)
        assert keep.expect().payload == b"still here"
        audit = cli(b, "audit", "--limit", "50").stdout
        assert "issuer idp" in audit and "fresh" not in audit
        assert b.sanitizer_report() is None


@lib.case
def stalled_service_refused_within_the_bound():
    with Service() as svc, broker() as b:   # introspect_timeout 2
        add_user(b, "alice", ("allow", "all", "a/#"))
        add_issuer(b, svc)
        svc.add("slow", sub="alice")
        svc.mode = "stall"
        t0 = time.monotonic()
        assert rc_of(b, "s1", 5, "slow", timeout=15) == 0x88
        took = time.monotonic() - t0
        # The service holds the call for 20 s; Warden gives up at its 2 s bound.
        assert took < 12, took
        assert svc.ncalls("slow") == 1
        b.wait_log(r"token introspection at issuer idp failed: .*(in time|timed out)")
        svc.release.set()


@lib.case
def exp_ends_the_session():
    with Service() as svc, broker() as b:
        add_user(b, "eve", ("allow", "all", "e/#"))
        add_issuer(b, svc)
        svc.add("brief", sub="eve", exp=int(time.time()) + 3)
        c5 = lib.client(b, "exp5", username="", password="brief")
        assert c5.wait_disconnected(timeout=15) == 0xA0, "5.0: not DISCONNECT 0xA0"
        b.wait_log(r"access token of eve expired")


def auth_pkt(token):
    props = lib.prop(lib.P_AUTH_METHOD, "jwt") + lib.prop(lib.P_AUTH_DATA, token.encode())
    return lib.pkt(lib.AUTH, 0, bytes([0x19]) + lib.varint(len(props)) + props)


@lib.case
def reauthentication_with_a_new_opaque_token():
    with Service() as svc, broker() as b:
        add_user(b, "frank", ("allow", "all", "f/#"))
        add_user(b, "gina", ("allow", "all", "f/#"))
        add_issuer(b, svc)
        svc.add("first", sub="frank", exp=int(time.time()) + 4)
        svc.add("second", sub="frank", scope="mqtt:rw:f/a/#", exp=int(time.time()) + 600)
        svc.add("gina", sub="gina")
        r = lib.Raw(b)
        r.send(lib.pkt_connect("re-1", version=5, props=lib.prop(lib.P_AUTH_METHOD, "jwt") +
                               lib.prop(lib.P_AUTH_DATA, b"first")))
        p = r.expect_packet(lib.CONNACK)
        assert lib.parse_connack(p[2])[1] == 0, lib.describe(p)
        r.send(auth_pkt("second"))
        p = r.expect_packet(lib.AUTH, timeout=10)
        assert p[2][0] == 0x00, lib.describe(p)
        b.wait_log(r"client=re-1 re-authenticated")
        # The new scope applies at once, and the session outlives the first token's exp.
        r.send(lib.pkt_subscribe(1, [("f/b", 0)], version=5))
        assert r.expect_packet(lib.SUBACK)[2][-1] == 0x87
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            r.send(lib.pkt(lib.PINGREQ, 0, b""))
            r.expect_packet(lib.PINGRESP)
            time.sleep(0.5)
        # Another subject's token ends it with 0x87; a down service with 0x88.
        r.send(auth_pkt("gina"))
        assert r.expect_packet(lib.DISCONNECT, timeout=10)[2][0] == 0x87
        r2 = lib.Raw(b)
        r2.send(lib.pkt_connect("re-2", version=5, props=lib.prop(lib.P_AUTH_METHOD, "jwt"),
                                password=b"second"))
        r2.expect_packet(lib.CONNACK)
        svc.stop()
        r2.send(auth_pkt("third"))
        assert r2.expect_packet(lib.DISCONNECT, timeout=10)[2][0] == 0x88


@lib.case
def auth_tokens_true_keeps_passwords_and_routes_issuer_jwts():
    with Service() as svc, broker(CONF.replace("only", "true")) as b:
        add_user(b, "alice", ("allow", "all", "a/#"))
        cli(b, "user", "passwd", "alice", "--password-stdin", input="alice's long password\n")
        add_issuer(b, svc, "idp", "--iss", "https://idp.example")
        svc.add("opaque", sub="alice")
        # `auth_tokens true`: a non-JWT password is a password, never sent to the service.
        assert rc_of(b, "p1", 4, "alice's long password", username="alice") == 0
        assert rc_of(b, "p2", 4, "opaque", username="alice") == 4
        assert svc.ncalls() == 0
        # A JWT whose iss is the introspection issuer's goes to the service as it is.
        hdr = base64.urlsafe_b64encode(b'{"alg":"HS256"}').rstrip(b"=").decode()
        pl = base64.urlsafe_b64encode(json.dumps({"iss": "https://idp.example",
                                                  "sub": "alice"}).encode()).rstrip(b"=")
        jwt = hdr + "." + pl.decode() + ".c2ln"
        svc.add(jwt, sub="alice", iss="https://idp.example")
        assert rc_of(b, "j1", 5, jwt) == 0
        assert svc.ncalls(jwt) == 1
        # The service names another issuer: refused.
        svc.add(jwt, sub="alice", iss="https://elsewhere.example")
        assert rc_of(b, "j2", 5, jwt) == 0x86


@lib.case
def several_issuers_asked_in_name_order():
    with Service() as svc, broker() as b:
        add_user(b, "alice", ("allow", "all", "a/#"))
        add_issuer(b, svc, "b-second", url=svc.url.replace("/introspect", "/other"))
        add_issuer(b, svc, "a-first")
        svc.add("t2", path="/other", sub="alice")
        assert rc_of(b, "x", 5, "t2") == 0
        paths = [c[0] for c in svc.calls if c[1] == "t2"]
        assert paths == ["/introspect", "/other"], paths
        # Active at the first: the second is not asked.
        svc.add("t1", sub="alice")
        assert rc_of(b, "x", 5, "t1") == 0
        assert [c[0] for c in svc.calls if c[1] == "t1"] == ["/introspect"]


@lib.case
def issuer_commands_never_show_the_secret():
    with Service() as svc, broker() as b:
        add_issuer(b, svc, "idp", "--cache", "90s")
        show = cli(b, "token", "issuer", "show", "idp").stdout
        assert svc.url in show and CLIENT_ID in show and "90s" in show, show
        js = json.loads(cli(b, "token", "issuer", "show", "idp", "--json").stdout)
        assert js["kind"] == "introspect" and js["introspect"] == svc.url
        assert js["client_id"] == CLIENT_ID and js["cache"] == 90
        assert js["cafile"] == os.path.realpath(tlsutil.p("ca.pem"))
        lst = cli(b, "token", "issuer", "list").stdout + \
            cli(b, "token", "issuer", "list", "--json").stdout
        assert "idp" in lst and "introspect" in lst
        for text in (show, json.dumps(js), lst, b.log(), cli(b, "audit").stdout):
            assert SECRET not in text and "s3cret" not in text
        # The store file holds it for the broker; only its owner can read it.
        for f in os.listdir(b.store_dir):
            assert os.stat(os.path.join(b.store_dir, f)).st_mode & 0o077 == 0, f
        # Bad input: a clear error, exit non-zero, nothing stored.
        bad = (
            (["--introspect", "http://localhost/x", "--client-id", "c", "--secret-stdin"],
             "invalid --introspect URL"),
            (["--introspect", svc.url, "--secret-stdin"], "needs --client-id"),
            (["--introspect", svc.url, "--client-id", "c"], "needs --secret-stdin"),
            (["--introspect", svc.url, "--client-id", "c", "--secret-stdin", "--cache", "0s"],
             "invalid --cache"),
            (["--introspect", svc.url, "--client-id", "c", "--secret-stdin", "--cafile",
              "/nonexistent"], "cannot open"),
            (["--iss", "x", "--hs256-secret-stdin", "--cache", "5m"], "go with --introspect"),
        )
        for args, msg in bad:
            r = cli(b, "token", "issuer", "add", "bad", *args, input=SECRET + "\n", ok=False)
            assert r.returncode != 0 and msg in r.stderr + r.stdout, (args, r.stderr)
        r = cli(b, "token", "issuer", "add", "bad", "--introspect", svc.url, "--client-id", "c",
                "--secret-stdin", input="", ok=False)
        assert r.returncode != 0 and "no secret on stdin" in r.stderr
        assert "bad" not in cli(b, "token", "issuer", "list").stdout
        r = cli(b, "token", "issuer", "reload", "idp", ok=False)
        assert r.returncode != 0
        cli(b, "token", "issuer", "del", "idp")
        assert "idp" not in cli(b, "token", "issuer", "list").stdout
        assert cli(b, "store", "verify", ok=False).returncode == 0


@lib.case
def wrong_ca_or_host_name_refused():
    with Service() as svc, broker() as b:
        add_user(b, "alice", ("allow", "all", "a/#"))
        cli(b, "token", "issuer", "add", "idp", "--introspect", svc.url, "--client-id",
            CLIENT_ID, "--secret-stdin", "--cafile", tlsutil.p("other-ca.pem"),
            input=SECRET + "\n")
        svc.add("tok", sub="alice")
        assert rc_of(b, "w", 5, "tok") == 0x88
        b.wait_log(r"token introspection at issuer idp failed: .*TLS handshake failed")
        assert svc.ncalls() == 0
        # The system CAs do not know the test CA either.
        cli(b, "token", "issuer", "del", "idp")
        add_issuer(b, svc, "sys", ca=False)
        assert rc_of(b, "w", 5, "tok") == 0x88
        assert svc.ncalls() == 0
        # And the right one works.
        cli(b, "token", "issuer", "del", "sys")
        add_issuer(b, svc, "good")
        assert rc_of(b, "w", 5, "tok") == 0
        # The right CA but a certificate for another name: refused.
        with Service(cert=misnamed_cert(b.dir)) as mis:
            mis.add("tok2", sub="alice")
            add_issuer(b, mis, "misnamed")
            assert rc_of(b, "w", 5, "tok2") == 0x88
            b.wait_log(r"issuer misnamed failed: .*TLS handshake failed")
            assert mis.ncalls() == 0


if __name__ == "__main__":
    lib.run()
