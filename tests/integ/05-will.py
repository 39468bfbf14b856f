#!/usr/bin/python3
"""05 will: published on abnormal close, keepalive timeout, 5.0 DISCONNECT 0x04
and takeover; not on normal DISCONNECT; Will Delay Interval; will QoS/retain."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402


def watcher(b, topic="will/#", qos=1, version=5):
    w = lib.client(b, "watcher-%d" % int(time.monotonic() * 1e6 % 1e6), version=version)
    w.sub(topic, qos=qos)
    return w


def expect_will(w, payload, timeout=3, what="will"):
    m = w.expect(timeout=timeout)
    assert m.payload == payload, "%s: expected payload %r, got %r on %r" % (what, payload, m.payload, m.topic)
    return m


@lib.case
def will_on_socket_drop():
    with lib.Broker() as b:
        w = watcher(b)
        for v in (3, 4, 5):
            c = lib.client(b, "drop%d" % v, version=v,
                           will={"topic": "will/drop%d" % v, "payload": b"dropped%d" % v, "qos": 1})
            c.close()
            m = expect_will(w, b"dropped%d" % v, what="v%d socket drop" % v)
            assert m.topic == "will/drop%d" % v
        w.expect_none(0.3)


@lib.case
def no_will_on_normal_disconnect():
    with lib.Broker() as b:
        w = watcher(b)
        for v in (3, 4, 5):
            c = lib.client(b, "norm%d" % v, version=v, will={"topic": "will/norm", "payload": b"nope"})
            c.disconnect()
        if True:   # 5.0 DISCONNECT 0x00 with properties is still normal
            c = lib.client(b, "norm5p", version=5, will={"topic": "will/norm", "payload": b"nope"})
            c.disconnect(reason=0, props={"ReasonString": "bye"})
        w.expect_none(1.0)


@lib.case
def will_on_disconnect_0x04():
    with lib.Broker() as b:
        w = watcher(b)
        c = lib.client(b, "dw", version=5, will={"topic": "will/dw", "payload": b"with-will", "qos": 1})
        c.disconnect(reason=0x04)
        expect_will(w, b"with-will", what="DISCONNECT 0x04")


@lib.case
def will_on_keepalive_timeout():
    with lib.Broker() as b:
        w = watcher(b)
        r = lib.Raw(b)
        t0 = time.monotonic()
        r.connect("kaw", version=4, keepalive=1, will={"topic": "will/ka", "payload": b"ka-expired"})
        limit = 9 if lib.is_mosquitto() else 4
        expect_will(w, b"ka-expired", timeout=limit, what="keepalive timeout")
        el = time.monotonic() - t0
        assert el >= 1.0, "will after %.2f s, before 1.5 x keepalive 1 s" % el


@lib.case
def will_on_takeover():
    with lib.Broker() as b:
        w = watcher(b)
        lib.client(b, "tk", version=4, will={"topic": "will/tk", "payload": b"taken"})
        lib.client(b, "tk", version=4)
        expect_will(w, b"taken", what="3.1.1 takeover")


@lib.case
def will_delay_interval():
    with lib.Broker() as b:
        w = watcher(b)
        c = lib.client(b, "wd", version=5, props={"SessionExpiryInterval": 60},
                       will={"topic": "will/wd", "payload": b"delayed",
                             "props": {"WillDelayInterval": 2}})
        c.close()
        t0 = time.monotonic()
        w.expect_none(1.2)    # not before the delay
        expect_will(w, b"delayed", timeout=4, what="will delay 2 s")
        el = time.monotonic() - t0
        assert 1.5 <= el <= 5.0, "will with delay 2 s published after %.2f s" % el


@lib.case
def will_delay_cancelled_by_reconnect():
    with lib.Broker() as b:
        w = watcher(b)
        c = lib.client(b, "wdc", version=5, props={"SessionExpiryInterval": 60},
                       will={"topic": "will/wdc", "payload": b"cancelled", "props": {"WillDelayInterval": 1}})
        c.close()
        time.sleep(0.2)
        c = lib.client(b, "wdc", version=5, clean=False, props={"SessionExpiryInterval": 60})
        assert c.session_present == 1
        w.expect_none(2.0)
        # and a takeover within the delay with a resumed session does not publish it
        c2 = lib.client(b, "wdt", version=5, props={"SessionExpiryInterval": 60},
                        will={"topic": "will/wdt", "payload": b"tk", "props": {"WillDelayInterval": 5}})
        lib.client(b, "wdt", version=5, clean=False, props={"SessionExpiryInterval": 60})
        c2.wait_disconnected(3)
        w.expect_none(1.0)


@lib.case
def will_delay_longer_than_session():
    with lib.Broker() as b:
        w = watcher(b)
        c = lib.client(b, "wds", version=5, props={"SessionExpiryInterval": 1},
                       will={"topic": "will/wds", "payload": b"session-end", "props": {"WillDelayInterval": 60}})
        c.close()
        t0 = time.monotonic()
        expect_will(w, b"session-end", timeout=4, what="will delay 60 s, session expiry 1 s")
        el = time.monotonic() - t0
        assert el >= 0.5, "will published after %.2f s, before the session ended" % el


@lib.case
def will_delay_then_session_expiry():
    # Will delay and session expiry share one timer: the will goes out at its
    # delay, and the session still ends at its expiry, not at the will's time.
    with lib.Broker() as b:
        w = watcher(b)
        c = lib.client(b, "wde", version=5, props={"SessionExpiryInterval": 3},
                       will={"topic": "will/wde", "payload": b"first", "props": {"WillDelayInterval": 1}})
        c.close()
        t0 = time.monotonic()
        expect_will(w, b"first", timeout=4, what="will delay 1 s, session expiry 3 s")
        el = time.monotonic() - t0
        assert el >= 0.5, "will with delay 1 s published after %.2f s" % el
        assert "session expired client=wde" not in b.log(), "the session ended with the will"
        b.wait_log(r"session expired client=wde\b", timeout=6)
        el = time.monotonic() - t0
        assert el >= 2.5, "session with expiry 3 s ended after %.2f s" % el
        c = lib.client(b, "wde", version=5, clean=False, props={"SessionExpiryInterval": 3})
        assert c.session_present == 0, "the expired session was resumed"


@lib.case
def will_qos_and_retain():
    with lib.Broker() as b:
        w = watcher(b, qos=2)
        c = lib.client(b, "wqr", version=4,
                       will={"topic": "will/qr", "payload": b"last-words", "qos": 2, "retain": True})
        c.close()
        m = expect_will(w, b"last-words", what="retained QoS 2 will")
        assert m.qos == 2, "will QoS 2 to a QoS 2 subscriber arrived at QoS %d" % m.qos
        assert m.retain == 0, "live will delivery to an existing subscriber has RETAIN=1"
        # a later subscriber gets it as a retained message
        late = lib.client(b, "late", version=4)
        late.sub("will/qr", qos=1)
        m = late.expect()
        assert m.payload == b"last-words" and m.retain == 1 and m.qos == 1, \
            "late subscriber: expected retained 'last-words' QoS 1, got %r retain=%d qos=%d" % (m.payload, m.retain, m.qos)
        # QoS 0 will is delivered at QoS 0
        c = lib.client(b, "wq0", version=5, will={"topic": "will/q0", "payload": b"q0", "qos": 0})
        c.close()
        m = expect_will(w, b"q0", what="QoS 0 will")
        assert m.qos == 0


@lib.case
def will_properties_forwarded():
    with lib.Broker() as b:
        w = watcher(b)
        c = lib.client(b, "wp", version=5,
                       will={"topic": "will/p", "payload": b"props", "qos": 1,
                             "props": {"ContentType": "text/plain", "UserProperty": ("k", "v"),
                                       "ResponseTopic": "reply/here"}})
        c.close()
        m = expect_will(w, b"props", what="will with properties")
        p = m.properties
        assert getattr(p, "ContentType", None) == "text/plain", "ContentType not forwarded: %r" % p
        assert getattr(p, "ResponseTopic", None) == "reply/here", "ResponseTopic not forwarded: %r" % p
        assert ("k", "v") in (getattr(p, "UserProperty", None) or []), "UserProperty not forwarded: %r" % p


lib.run()
