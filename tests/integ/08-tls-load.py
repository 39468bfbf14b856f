#!/usr/bin/python3
"""08 TLS: 200 concurrent mutual-TLS handshakes (non-blocking clients) all
complete and get a CONNACK, while an existing TLS client keeps exchanging
messages with bounded latency."""

import os
import selectors
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import tlsutil as T  # noqa: E402

N = 200


def handshake_many(port, n, deadline_s=40):
    """Open n TLS connections at once, drive them with one selector, send
    CONNECT on each and wait for its CONNACK. Returns the count that got one."""
    ctx = T.ssl_context("client")
    sel = selectors.DefaultSelector()
    state = {}
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        t = ctx.wrap_socket(s, server_hostname="127.0.0.1", do_handshake_on_connect=False)
        state[t] = {"phase": "hs", "buf": b"", "id": "load-%d" % i}
        sel.register(t, selectors.EVENT_READ | selectors.EVENT_WRITE)
    done = 0
    deadline = time.monotonic() + deadline_s
    while state and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.2):
            t = key.fileobj
            st = state.get(t)
            if st is None:
                continue
            try:
                if st["phase"] == "hs":
                    t.do_handshake()
                    t.sendall(lib.pkt_connect(st["id"], version=4))
                    st["phase"] = "connack"
                    sel.modify(t, selectors.EVENT_READ)
                    continue
                data = t.recv(64)
                if not data:
                    raise OSError("closed")
                st["buf"] += data
                if len(st["buf"]) >= 4:
                    assert st["buf"][:4] == b"\x20\x02\x00\x00", st["buf"]
                    done += 1
                    sel.unregister(t)
                    del state[t]
                    st["sock"] = t
                    kept.append(t)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except (OSError, ssl.SSLError) as e:
                sel.unregister(t)
                del state[t]
                t.close()
                errors.append(str(e))
    for t in state:
        t.close()
    return done


kept = []
errors = []


@lib.case
def concurrent_handshakes_while_client_exchanges():
    if lib.is_mosquitto():
        lib.skip("Warden log lines")
    with lib.Broker(conf=T.tls_conf(T.mtls())) as b:
        sub = T.paho(b, "steady-sub", version=5)
        sub.sub("steady/#", qos=1)
        pub = T.paho(b, "steady-pub", version=5, client="client-rsa")
        stop = threading.Event()
        lat = []
        failures = []

        def exchange():
            i = 0
            while not stop.is_set() and i < 2000:
                t0 = time.monotonic()
                try:
                    pub.pub("steady/%d" % i, b"%d" % i, qos=1, timeout=10)
                    m = sub.expect(timeout=10)
                    assert m.payload == b"%d" % i, m.payload
                except AssertionError as e:
                    failures.append(str(e))
                    return
                lat.append(time.monotonic() - t0)
                i += 1
                time.sleep(0.02)

        th = threading.Thread(target=exchange, daemon=True)
        th.start()
        t0 = time.monotonic()
        n = handshake_many(b.port, N)
        took = time.monotonic() - t0
        stop.set()
        th.join(15)
        for t in kept:
            t.close()
        assert n == N, "%d of %d handshakes got a CONNACK in %.1fs; errors: %r" % (
            n, N, took, errors[:5])
        assert not failures, "steady client failed during the handshakes: %r" % failures
        assert len(lat) >= 1, "steady client exchanged no message during the handshakes"
        assert max(lat) < 5.0, "a message took %.2fs during the handshakes" % max(lat)
        sys.stderr.write("  %d handshakes in %.2fs; steady round trips: %d, max %.0f ms\n"
                         % (n, took, len(lat), max(lat) * 1000))


lib.run()
