"""Helpers for the 08-tls-*.py tests: a test PKI made at run time with
share/make-test-pki.sh (one per test file, removed at exit), broker
configurations with a TLS listener, and TLS clients (Paho, mosquitto_pub/sub,
openssl s_client, the WolfSSL client in tests/tls/)."""

import atexit
import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import lib

_pki = None


def pki():
    """Directory of a fresh test PKI (made once per process)."""
    global _pki
    if _pki is None:
        d = tempfile.mkdtemp(prefix="warden-pki-")
        if not os.environ.get("KEEP_TMP"):
            atexit.register(shutil.rmtree, d, True)
        r = subprocess.run([os.path.join(lib.REPO, "share", "make-test-pki.sh"), d],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, "make-test-pki.sh failed: %s" % r.stderr
        _pki = d
    return _pki


def p(name):
    return os.path.join(pki(), name)


def tls_conf(keys="", plain_port=None, cert="server", anonymous=True):
    """A config whose first listener ({port}) is TLS with extra listener keys;
    plain_port adds a plain listener beside it."""
    text = ("listener {port} 127.0.0.1\n"
            "allow_anonymous %s\n%s"
            "certfile %s\nkeyfile %s\n" % ("true" if anonymous else "false",
                                           "anonymous_default allow\n" if anonymous else "",
                                           p(cert + ".pem"), p(cert + ".key")))
    text += keys
    if plain_port:
        text += "listener %d 127.0.0.1\nallow_anonymous %s\n%s" % (
            plain_port, "true" if anonymous else "false",
            "anonymous_default allow\n" if anonymous else "")
    text += "store_dir {store_dir}\n"
    return text


MTLS = "cafile %s\nrequire_certificate true\nuse_identity_as_username true\n"


def mtls(extra=""):
    return MTLS % p("ca.pem") + extra


def tls_args(client="client", ca="ca"):
    a = ["--cafile", p(ca + ".pem")]
    if client:
        a += ["--cert", p(client + ".pem"), "--key", p(client + ".key")]
    return a


def paho(b, client_id, version=5, client="client", connect=True, expect_rc=0, port=None,
         timeout=5):
    """A lib.Client over TLS (hostname checked against 127.0.0.1)."""
    c = lib.client(b, client_id, version=version, connect=False)
    c.c.tls_set(ca_certs=p("ca.pem"),
                certfile=p(client + ".pem") if client else None,
                keyfile=p(client + ".key") if client else None)
    if connect:
        c.connect(expect_rc=expect_rc, timeout=timeout)
    return c


def paho_fails(b, client_id, client="client", version=4):
    """Connecting must fail during TLS (no CONNACK). Returns the exception text."""
    c = lib.client(b, client_id, version=version, connect=False)
    c.c.tls_set(ca_certs=p("ca.pem"),
                certfile=p(client + ".pem") if client else None,
                keyfile=p(client + ".key") if client else None)
    try:
        c.connect(expect_rc=None, timeout=5)
    except (ssl.SSLError, OSError, AssertionError) as e:
        return str(e) or type(e).__name__
    raise AssertionError("%s: TLS connection with %s was accepted (CONNACK %r)"
                         % (client_id, client, c.connack))


def ssl_context(client="client"):
    ctx = ssl.create_default_context(cafile=p("ca.pem"))
    if client:
        ctx.load_cert_chain(p(client + ".pem"), p(client + ".key"))
    return ctx


def s_client(port, *args, timeout=10):
    """openssl s_client against 127.0.0.1:port with stdin closed; CompletedProcess (text)."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + list(args)
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def negotiated(r):
    """The protocol an s_client run negotiated ("TLSv1.3"), None if the handshake failed."""
    m = re.search(r"New, (TLSv1\.\d), Cipher is (?!\(NONE\))", r.stdout)
    return m.group(1) if m else None


def wolf_client(port, word, tls12=True):
    """tests/tls/tls_client (built on demand): offer only suites containing word."""
    exe = os.path.join(lib.REPO, "build", "tests", "tls_client")
    r = subprocess.run(["make", "-s", "-C", lib.REPO, "build/tests/tls_client"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "cannot build tls_client: %s" % r.stderr
    args = [exe, "127.0.0.1", str(port), word] + (["--tls12"] if tls12 else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=15)


def raw_tls(b, client="client", port=None):
    """A blocking TLS socket to the broker (for lib.Raw-like use)."""
    s = socket.create_connection(("127.0.0.1", port or b.port), timeout=5)
    return ssl_context(client).wrap_socket(s, server_hostname="127.0.0.1")


def expect_eof(raw, timeout=3):
    """The server closes a lib.Raw connection within timeout; whatever it sends first
    (a TLS alert) is ignored."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([raw.sock], [], [], max(0, deadline - time.monotonic()))
        if not r:
            break
        try:
            data = raw.sock.recv(4096)
        except OSError:
            return
        if not data:
            return
    raise AssertionError("connection still open after %ss" % timeout)
