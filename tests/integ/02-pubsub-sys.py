#!/usr/bin/python3
"""$SYS topics (contract.md, $SYS): published retained every sys_interval
seconds, plausible values, not matched by '#'."""
import re
import time

import lib

import pubsub_util as u

SYS_CONF = "sys_interval 1\n"

SYS_TOPICS = [
    "$SYS/broker/version",
    "$SYS/broker/uptime",
    "$SYS/broker/clients/connected",
    "$SYS/broker/clients/total",
    "$SYS/broker/messages/received",
    "$SYS/broker/messages/sent",
    "$SYS/broker/bytes/received",
    "$SYS/broker/bytes/sent",
    "$SYS/broker/subscriptions/count",
    "$SYS/broker/retained messages/count",
] + ["$SYS/broker/load/%s/%s" % (what, per)
     for what in ("messages/received", "messages/sent", "bytes/received", "bytes/sent",
                  "connections")
     for per in ("1min", "5min", "15min")]


class SysWatch:
    """A 5.0 client subscribed to $SYS/#; keeps the latest value per topic."""

    def __init__(self, b, cid="syswatch"):
        self.c = lib.client(b, cid, version=5)
        self.c.sub("$SYS/#", qos=0)
        self.latest = {}
        self.count = {}

    def pump(self, timeout):
        """Read messages for up to timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                m = self.c.expect(timeout=min(left, 0.2))
            except AssertionError:
                continue
            self.latest[m.topic] = m.payload.decode("utf-8", "replace")
            if not m.retain:    # a periodic update, not the copy sent on subscribe
                self.count[m.topic] = self.count.get(m.topic, 0) + 1

    def wait(self, pred, timeout, what):
        """Pump until pred(latest) is true; AssertionError on the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            if pred(self.latest):
                return
            left = deadline - time.monotonic()
            assert left > 0, "expected %s within %ss, got %r" % (what, timeout, {
                k: v for k, v in self.latest.items() if "load" not in k})
            self.pump(min(left, 0.3))

    def number(self, topic, what=""):
        v = self.latest.get(topic)
        assert v is not None, "expected a value on %s, got none" % topic
        m = re.match(r"^\s*(\d+(\.\d+)?)", v)
        assert m, "expected a number on %s, got %r" % (topic, v)
        return float(m.group(1))

    def fresh(self, topic, timeout):
        """Wait for the next publication of topic after now; return its payload."""
        before = self.count.get(topic, 0)
        deadline = time.monotonic() + timeout
        while self.count.get(topic, 0) <= before:
            left = deadline - time.monotonic()
            assert left > 0, "expected a new value on %s within %ss, got none" % (topic, timeout)
            self.pump(min(left, 0.2))
        return self.latest[topic]


@lib.case
def sys_topics_present():
    with lib.Broker(extra=SYS_CONF) as b:
        w = SysWatch(b)
        w.wait(lambda d: all(t in d for t in SYS_TOPICS), 5, "every $SYS topic of contract.md")


@lib.case
def sys_topics_are_retained():
    with lib.Broker(extra=SYS_CONF) as b:
        w = SysWatch(b)
        w.wait(lambda d: "$SYS/broker/uptime" in d, 4, "$SYS/broker/uptime")
        late = lib.client(b, "late", version=4)
        late.sub("$SYS/broker/version", qos=0)
        m = late.expect(timeout=3)
        assert m.retain, "expected $SYS/broker/version with RETAIN=1 on subscribe, got retain=%d" % m.retain


@lib.case
def sys_version_is_warden():
    u.warden_only("mosquitto reports 'mosquitto version X'")
    with lib.Broker(extra=SYS_CONF) as b:
        w = SysWatch(b)
        w.wait(lambda d: "$SYS/broker/version" in d, 4, "$SYS/broker/version")
        v = w.latest["$SYS/broker/version"]
        assert re.match(r"^warden \d+\.\d+\.\d+", v), "expected 'warden X.Y.Z', got %r" % v


@lib.case
def sys_uptime_plausible_and_growing():
    with lib.Broker(extra=SYS_CONF) as b:
        w = SysWatch(b)
        v1 = w.fresh("$SYS/broker/uptime", 4)
        assert re.match(r"^\d+ seconds$", v1), "expected 'N seconds', got %r" % v1
        n1 = int(v1.split()[0])
        assert 0 <= n1 < 30, "expected uptime below 30 s for a fresh broker, got %d" % n1
        w.wait(lambda d: int(d["$SYS/broker/uptime"].split()[0]) > n1, 4, "uptime to grow")


@lib.case
def sys_clients_connected_counts():
    with lib.Broker(extra=SYS_CONF) as b:
        w = SysWatch(b)
        w.fresh("$SYS/broker/clients/connected", 4)
        base = w.number("$SYS/broker/clients/connected")
        assert base >= 1, "expected clients/connected >= 1 (the watcher), got %s" % base
        extra = [lib.client(b, "cc%d" % i, version=4) for i in range(3)]
        w.wait(lambda d: float(d["$SYS/broker/clients/connected"]) >= base + 3, 5,
               "clients/connected >= %d" % (base + 3))
        total = w.number("$SYS/broker/clients/total")
        assert total >= base + 3, "expected clients/total >= %d, got %s" % (base + 3, total)
        for c in extra:
            c.disconnect()
        w.wait(lambda d: float(d["$SYS/broker/clients/connected"]) <= base, 5,
               "clients/connected back to %d" % base)


@lib.case
def sys_messages_received_grows():
    with lib.Broker(extra=SYS_CONF) as b:
        w = SysWatch(b)
        w.fresh("$SYS/broker/messages/received", 4)
        r0 = w.number("$SYS/broker/messages/received")
        b0 = w.number("$SYS/broker/bytes/received")
        p = lib.client(b, "mrp", version=4)
        for i in range(5):
            p.pub("mr/t", b"x" * 100, qos=1)
        w.wait(lambda d: float(d["$SYS/broker/messages/received"]) >= r0 + 5, 5,
               "messages/received >= %d" % (r0 + 5))
        w.wait(lambda d: float(d["$SYS/broker/bytes/received"]) >= b0 + 500, 5,
               "bytes/received >= %d" % (b0 + 500))


@lib.case
def sys_messages_sent_grows():
    with lib.Broker(extra=SYS_CONF) as b:
        w = SysWatch(b)
        w.fresh("$SYS/broker/messages/sent", 4)
        s0 = w.number("$SYS/broker/messages/sent")
        s = lib.client(b, "mss", version=5)
        s.sub("ms/t", qos=1)
        p = lib.client(b, "msp", version=5)
        for i in range(4):
            p.pub("ms/t", b"y", qos=1)
        u.collect(s, 4)
        w.wait(lambda d: float(d["$SYS/broker/messages/sent"]) >= s0 + 4, 5,
               "messages/sent >= %d" % (s0 + 4))


@lib.case
def sys_subscription_and_retained_counts():
    with lib.Broker(extra=SYS_CONF) as b:
        w = SysWatch(b)
        w.fresh("$SYS/broker/subscriptions/count", 4)
        s0 = w.number("$SYS/broker/subscriptions/count")
        r0 = w.number("$SYS/broker/retained messages/count")
        c = lib.client(b, "subs", version=5)
        c.sub([("sc/1", 0), ("sc/2", 0), ("sc/3", 1)])
        c.pub("rc/1", b"r", qos=1, retain=True)
        c.pub("rc/2", b"r", qos=1, retain=True)
        w.wait(lambda d: float(d["$SYS/broker/subscriptions/count"]) >= s0 + 3, 5,
               "subscriptions/count >= %d" % (s0 + 3))
        w.wait(lambda d: float(d["$SYS/broker/retained messages/count"]) >= r0 + 2, 5,
               "retained messages/count >= %d" % (r0 + 2))


@lib.case
def hash_does_not_get_sys():
    with lib.Broker(extra=SYS_CONF) as b:
        w = SysWatch(b)
        w.wait(lambda d: "$SYS/broker/uptime" in d, 4, "$SYS/broker/uptime")
        h5 = lib.client(b, "hash5", version=5)
        h5.sub("#", qos=0)
        h4 = lib.client(b, "hash4", version=4)
        h4.sub("+/broker/#", qos=0)
        h4.sub("+/+/uptime", qos=0)
        n = w.count.get("$SYS/broker/uptime", 0)
        w.wait(lambda d: w.count.get("$SYS/broker/uptime", 0) >= n + 2, 4,
               "two more $SYS updates")
        h5.expect_none(timeout=0.2)
        h4.expect_none(timeout=0.2)
        # but ordinary messages still reach '#'
        h4.pub("x/broker/y", b"ok", qos=1)
        m = h5.expect(timeout=3)
        assert m.topic == "x/broker/y", "expected x/broker/y on '#', got %s" % m.topic


@lib.case
def sys_load_values_plausible():
    with lib.Broker(extra=SYS_CONF) as b:
        w = SysWatch(b)
        loads = [t for t in SYS_TOPICS if "/load/" in t]
        w.wait(lambda d: all(t in d for t in loads), 4, "every load topic")
        for t in loads:
            v = w.number(t)
            assert v >= 0, "expected a non-negative rate on %s, got %r" % (t, w.latest[t])
        p = lib.client(b, "lvp", version=4)
        for i in range(50):
            p.pub("lv/t", b"z" * 10, qos=1)
        w.wait(lambda d: float(d["$SYS/broker/load/messages/received/1min"]) > 0, 5,
               "load/messages/received/1min > 0 after 50 messages")
        w.wait(lambda d: float(d["$SYS/broker/load/bytes/received/1min"]) > 0, 5,
               "load/bytes/received/1min > 0")
        w.wait(lambda d: float(d["$SYS/broker/load/connections/1min"]) > 0, 5,
               "load/connections/1min > 0 after connects")
        one = float(w.latest["$SYS/broker/load/messages/received/1min"])
        fifteen = float(w.latest["$SYS/broker/load/messages/received/15min"])
        assert one >= fifteen, "expected the 1min rate >= the 15min rate right after a burst, got %s < %s" % (
            one, fifteen)


lib.run()
