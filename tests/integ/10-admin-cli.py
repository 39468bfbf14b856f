#!/usr/bin/python3
"""10 admin: `warden user|role|client|ban|audit|store` through the real binary.

Every command and its error paths (exit 1 with a one-line reason, exit 2 for a
malformed command line), --json output, the store checked afterwards with
`warden user show`, -c FILE / --store DIR anywhere, a password from a terminal
(pty), two processes at once (a reader polls the generation counter while a
writer holds a transaction), and kill -9 of a writer inside its transaction,
after which `warden store verify` passes and nothing of the write is left.
Each case uses its own temporary store."""

import json
import os
import pty
import pwd
import re
import select
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

PASSWORD = "correct horse battery staple"


def warden_only():
    if lib.is_mosquitto():
        lib.skip("Warden command line")


def no_sanitizer(r, args):
    m = lib.SANITIZER_RE.search(r.stderr or "")
    assert not m, "sanitizer report from warden %s: %s" % (" ".join(args), r.stderr[-2000:])


class Store:
    """A temporary store directory and a runner bound to it."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="warden-cli-")
        self.dir = os.path.join(self.tmp.name, "store")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.tmp.cleanup()

    def run(self, *args, expect=0, input=None, env=None, store=True, timeout=20):
        args = [str(a) for a in args]
        full = (["--store", self.dir] if store else []) + args
        e = dict(os.environ)
        if env:
            e.update(env)
        r = lib.run_warden(full, timeout=timeout, input=input, env=e)
        no_sanitizer(r, full)
        if expect is not None:
            assert r.returncode == expect, "warden %s: exit %d, expected %d (stdout %r, stderr %r)" % (
                " ".join(args), r.returncode, expect, r.stdout[-500:], r.stderr[-500:])
        if expect == 1:
            lines = [l for l in r.stderr.splitlines() if l.strip()]
            assert len(lines) == 1, "warden %s: expected a one-line reason, got %r" % (
                " ".join(args), r.stderr)
        return r

    def json(self, *args, **kw):
        r = self.run(*args, "--json", **kw)
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            raise AssertionError("warden %s --json: not JSON: %r (%s)" % (" ".join(args), r.stdout, e))

    def fail(self, *args, words=(), expect=1, **kw):
        """Run a command that must fail, check the reason, and that nothing changed."""
        before = self.generation() if os.path.exists(os.path.join(self.dir, "data.mdb")) else None
        r = self.run(*args, expect=expect, **kw)
        for w in words:
            assert w.lower() in r.stderr.lower(), "warden %s: reason %r lacks %r" % (
                " ".join(str(a) for a in args), r.stderr, w)
        if before is not None:
            after = self.generation()
            assert after == before, "warden %s failed but moved the generation %d -> %d" % (
                " ".join(str(a) for a in args), before, after)
        return r

    def generation(self):
        return self.json("store", "info")["generation"]

    def add_user(self, name, *extra):
        return self.run("user", "add", name, "--password-stdin", *extra, input=PASSWORD + "\n")


def me():
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return "uid:%d" % os.getuid()


@lib.case
def user_lifecycle():
    warden_only()
    with Store() as s:
        s.run("role", "add", "ops", "--description", "operators")
        r = s.add_user("alice", "--role", "ops", "--note", "lab gateway")
        assert "alice" in r.stdout
        u = s.json("user", "show", "alice")
        assert u["name"] == "alice" and u["enabled"] is True, u
        assert u["password"] == "argon2id", u
        assert u["roles"] == ["ops"], u
        assert u["note"] == "lab gateway", u
        assert u["rules"] == [] and u["last_login"] is None, u
        assert u["password_needs_rehash"] is False, u
        human = s.run("user", "show", "alice").stdout
        assert re.search(r"^roles:\s+ops", human, re.M), human
        assert "$argon2id$" not in human and "$argon2id$" not in json.dumps(u), "hash shown"
        lst = s.json("user", "list")
        assert [x["name"] for x in lst] == ["alice"], lst
        assert "alice" in s.run("user", "list").stdout

        g = s.generation()
        s.run("user", "disable", "alice")
        assert s.json("user", "show", "alice")["enabled"] is False
        s.run("user", "enable", "alice")
        assert s.json("user", "show", "alice")["enabled"] is True
        s.run("user", "passwd", "alice", "--password-stdin", input="another long password\n")
        s.run("user", "passwd", "alice", "--no-password")
        assert s.json("user", "show", "alice")["password"] is None
        assert s.generation() == g + 4, "each change moves the generation once"

        s.run("user", "role", "del", "alice", "ops")
        assert s.json("user", "show", "alice")["roles"] == []
        s.run("user", "role", "add", "alice", "ops")
        s.fail("user", "role", "add", "alice", "ops", words=["already"])
        s.fail("user", "role", "add", "alice", "nope", words=["unknown role", "nope"])
        s.fail("user", "role", "add", "nobody", "ops", words=["unknown user"])
        s.fail("user", "role", "del", "alice", "anonymous", words=["does not have"])

        s.run("user", "del", "alice")
        s.fail("user", "show", "alice", words=["unknown user 'alice'"])
        s.fail("user", "del", "alice", words=["unknown user"])
        s.fail("user", "enable", "ghost", words=["unknown user"])


@lib.case
def user_add_errors():
    warden_only()
    with Store() as s:
        s.run("role", "add", "ops")
        # no password option and no terminal: refused, says what to use
        s.fail("user", "add", "bob", words=["--password-stdin"], expect=2)
        s.fail("user", "add", "bob", "--password-stdin", input="short\n",
               words=["too short", "12"])
        s.fail("user", "add", "bob", "--password-stdin", input="", words=["no password"])
        s.fail("user", "add", "bob", "--password-stdin", "--no-password", expect=2)
        s.fail("user", "add", "bob", "--role", "nope", "--no-password", words=["unknown role 'nope'"])
        s.fail("user", "add", "bad\x01name", "--no-password", words=["invalid user name"])
        s.fail("user", "add", "--no-password", expect=2, words=["missing"])
        s.fail("user", "add", "a", "b", "--no-password", expect=2, words=["unexpected"])
        s.fail("user", "add", "bob", "--bogus", expect=2, words=["unknown option"])
        s.fail("user", "frobnicate", expect=2, words=["unknown command"])
        s.fail("user", "add", "bob", "--role", expect=2, words=["needs a value"])
        s.fail("user", "show", "bob", words=["unknown user"])
        s.add_user("bob")
        s.fail("user", "add", "bob", "--password-stdin", input=PASSWORD + "\n",
               words=["already exists"])
        # CRLF and a trailing newline are stripped: 12 characters exactly is enough
        s.run("user", "add", "twelve", "--password-stdin", input="abcdefghijkl\r\n")
        # a password may contain UTF-8; length counts characters
        s.fail("user", "add", "utf", "--password-stdin", input="ééééééééééé\n", words=["too short"])
        s.run("user", "add", "utf", "--password-stdin", input="éééééééééééé\n")
        assert sorted(x["name"] for x in s.json("user", "list")) == ["bob", "twelve", "utf"]


@lib.case
def generated_and_no_password():
    warden_only()
    with Store() as s:
        out = s.json("user", "add", "gen", "--generate-password")
        assert out["ok"] is True and re.fullmatch(r"[A-Za-z0-9_-]{24}", out["password"]), out
        r = s.run("user", "add", "gen2", "--generate-password")
        m = re.search(r"generated password \(shown once\): (\S+)", r.stdout)
        assert m and len(m.group(1)) == 24, r.stdout
        s.run("user", "add", "device", "--no-password")
        u = s.json("user", "show", "device")
        assert u["password"] is None, u
        assert "certificate or token" in s.run("user", "show", "device").stdout
        out = s.json("user", "passwd", "device", "--generate-password")
        assert len(out["password"]) == 24
        assert s.json("user", "show", "device")["password"] == "argon2id"


@lib.case
def password_from_terminal():
    warden_only()
    with Store() as s:
        def run_tty(args, answers):
            master, slave = pty.openpty()
            p = subprocess.Popen([lib.warden_bin()] + args + ["--store", s.dir], stdin=slave,
                                 stdout=subprocess.PIPE, stderr=slave, close_fds=True)
            os.close(slave)
            seen = b""
            deadline = time.monotonic() + 15
            pending = list(answers)
            answered = 0
            try:
                while time.monotonic() < deadline:
                    r, _, _ = select.select([master], [], [], 0.2)
                    if r:
                        try:
                            chunk = os.read(master, 1024)
                        except OSError:
                            chunk = b""
                        if not chunk:
                            break
                        seen += chunk
                        prompts = seen.count(b"Password for") + seen.count(b"Retype")
                        if pending and answered < prompts and seen.endswith(b": "):
                            os.write(master, (pending.pop(0) + "\n").encode())
                            answered += 1
                    elif p.poll() is not None:
                        break
                out, _ = p.communicate(timeout=10)
            finally:
                os.close(master)
                if p.poll() is None:
                    p.kill()
                    p.wait()
            text = seen.decode("utf-8", "replace")
            assert not lib.SANITIZER_RE.search(text), text
            return p.returncode, text, out.decode()

        rc, tty, out = run_tty(["user", "add", "ttyuser"], [PASSWORD, PASSWORD])
        assert rc == 0, "exit %d: %r %r" % (rc, tty, out)
        assert "Password for ttyuser" in tty and "Retype" in tty, tty
        assert PASSWORD not in tty, "password echoed: %r" % tty
        assert s.json("user", "show", "ttyuser")["password"] == "argon2id"
        rc, tty, out = run_tty(["user", "add", "mismatch"], [PASSWORD, PASSWORD + "x"])
        assert rc == 1 and "do not match" in tty, (rc, tty)
        s.fail("user", "show", "mismatch", words=["unknown user"])


@lib.case
def roles_and_force():
    warden_only()
    with Store() as s:
        s.run("role", "add", "ops", "--description", "operators")
        s.fail("role", "add", "ops", words=["already exists"])
        s.fail("role", "add", "bad name", words=["invalid role name"])
        names = {r["name"]: r for r in s.json("role", "list")}
        assert set(names) == {"anonymous", "default", "ops"}, names
        assert names["anonymous"]["builtin"] and names["default"]["builtin"], names
        assert not names["ops"]["builtin"]
        r = s.json("role", "show", "ops")
        assert r["description"] == "operators" and r["rules"] == [] and r["users"] == 0, r
        s.fail("role", "del", "default", words=["built in"])
        s.fail("role", "del", "anonymous", words=["built in"])
        s.fail("role", "show", "nope", words=["unknown role"])
        s.add_user("alice", "--role", "ops")
        s.add_user("bob", "--role", "ops")
        s.fail("role", "del", "ops", words=["alice", "bob", "--force"])
        assert s.json("user", "show", "alice")["roles"] == ["ops"]
        out = s.json("role", "del", "ops", "--force")
        assert out["ok"] and "2 users" in out["message"], out
        assert s.json("user", "show", "alice")["roles"] == []
        assert s.json("user", "show", "bob")["roles"] == []
        s.fail("role", "del", "ops", words=["unknown role"])
        assert "role del" in [e["action"] for e in s.json("audit")]


@lib.case
def last_rule_of_a_held_role_needs_force():
    warden_only()
    with Store() as s:
        s.run("role", "add", "ops")
        s.run("role", "rule", "add", "ops", "allow", "all", "x/#")
        s.run("role", "rule", "add", "ops", "deny", "publish", "x/y")
        s.add_user("carl", "--role", "ops")
        s.run("role", "rule", "del", "ops", "2")  # not the last one: no question asked
        s.fail("role", "rule", "del", "ops", "1", words=["last rule", "carl", "--force"])
        assert len(s.json("role", "show", "ops")["rules"]) == 1
        s.run("role", "rule", "del", "ops", "1", "--force")
        assert s.json("role", "show", "ops")["rules"] == []
        s.run("role", "add", "lonely")
        s.run("role", "rule", "add", "lonely", "allow", "all", "z")
        s.run("role", "rule", "del", "lonely", "1")  # nobody holds it


@lib.case
def rule_set_and_move():
    warden_only()
    with Store() as s:
        s.run("role", "add", "r")
        for f in ("a/#", "b/#", "c/#"):
            s.run("role", "rule", "add", "r", "allow", "publish", f)
        s.run("role", "rule", "set", "r", "2", "deny", "all", "bb/#", "--qos", "1", "--no-retain")
        s.run("role", "rule", "move", "r", "3", "1")
        rules = s.json("role", "show", "r")["rules"]
        assert [(r["effect"], r["actions"], r["filter"], r["qos"], r["retain"]) for r in rules] == [
            ("allow", "publish", "c/#", 2, True), ("allow", "publish", "a/#", 2, True),
            ("deny", "all", "bb/#", 1, False)], rules
        s.fail("role", "rule", "move", "r", "4", "1", words=["no rule 4"])
        s.fail("role", "rule", "move", "r", "1", "9", words=["no rule 9"])
        s.fail("role", "rule", "set", "r", "0", "allow", "all", "x", words=["invalid rule number"])
        s.fail("role", "rule", "set", "r", "1", "allow", "all", "x/#/y", words=["x/#/y"])
        s.fail("role", "rule", "set", "r", "1", "permit", "all", "x", expect=2)
        s.fail("role", "rule", "set", "nope", "1", "allow", "all", "x", words=["nope"])
        assert s.json("role", "show", "r")["rules"] == rules
        s.run("user", "add", "u", "--no-password")
        s.run("user", "rule", "add", "u", "allow", "all", "u/#")
        s.run("user", "rule", "set", "u", "1", "deny", "publish", "u/x")
        s.run("user", "rule", "move", "u", "1", "1")
        rules = s.json("user", "show", "u")["rules"]
        assert [(r["effect"], r["filter"]) for r in rules] == [("deny", "u/x")], rules
        actions = [a["action"] for a in s.json("audit")]
        assert actions.count("role rule set") == 1 and actions.count("role rule move") == 1, actions
        assert actions.count("user rule set") == 1, actions


@lib.case
def rules():
    warden_only()
    with Store() as s:
        s.run("role", "add", "sensors")
        s.run("role", "rule", "add", "sensors", "allow", "publish", "sensors/%u/#", "--qos", "1")
        s.run("role", "rule", "add", "sensors", "allow", "subscribe,receive", "cmd/%c/+")
        s.run("role", "rule", "add", "sensors", "deny", "all", "sensors/secret/#", "--at", "1",
              "--no-retain")
        rules = s.json("role", "show", "sensors")["rules"]
        assert [(r["index"], r["effect"], r["filter"]) for r in rules] == [
            (1, "deny", "sensors/secret/#"), (2, "allow", "sensors/%u/#"), (3, "allow", "cmd/%c/+")], rules
        assert rules[0]["retain"] is False and rules[0]["actions"] == "all"
        assert rules[1]["qos"] == 1 and rules[1]["actions"] == "publish"
        assert rules[2]["actions"] == "subscribe,receive" and rules[2]["qos"] == 2
        table = s.run("role", "show", "sensors").stdout
        assert re.search(r"^\s+1\s+deny\s+all\s+sensors/secret/#", table, re.M), table

        s.fail("role", "rule", "add", "sensors", "allow", "all", "a/#/b", words=["a/#/b"])
        s.fail("role", "rule", "add", "sensors", "allow", "all", "a+/b", words=["invalid topic filter"])
        s.fail("role", "rule", "add", "sensors", "allow", "all", "x/%q", words=["placeholder"])
        s.fail("role", "rule", "add", "sensors", "allow", "read", "x", words=["invalid actions"])
        s.fail("role", "rule", "add", "sensors", "permit", "all", "x", expect=2, words=["allow or deny"])
        s.fail("role", "rule", "add", "sensors", "allow", "all", "x", "--qos", "3", words=["--qos"])
        s.fail("role", "rule", "add", "sensors", "allow", "all", "x", "--at", "9", words=["3 rules"])
        s.fail("role", "rule", "add", "sensors", "allow", "all", "x", "--at", "0", words=["--at"])
        s.fail("role", "rule", "add", "nope", "allow", "all", "x", words=["unknown role"])
        s.fail("role", "rule", "add", "sensors", "allow", "all", expect=2)
        s.fail("role", "rule", "del", "sensors", "4", words=["no rule 4"])
        s.fail("role", "rule", "del", "sensors", "first", words=["invalid rule number"])
        s.run("role", "rule", "del", "sensors", "1")
        rules = s.json("role", "show", "sensors")["rules"]
        assert [r["filter"] for r in rules] == ["sensors/%u/#", "cmd/%c/+"], rules

        s.add_user("alice")
        s.run("user", "rule", "add", "alice", "allow", "publish,subscribe", "home/%u/#")
        s.run("user", "rule", "add", "alice", "deny", "receive", "home/%u/private", "--at", "1")
        u = s.json("user", "show", "alice")
        assert [r["filter"] for r in u["rules"]] == ["home/%u/private", "home/%u/#"], u
        s.fail("user", "rule", "add", "alice", "allow", "all", "a/#/b", words=["a/#/b"])
        s.fail("user", "rule", "add", "ghost", "allow", "all", "a", words=["unknown user"])
        s.fail("user", "rule", "del", "alice", "3", words=["no rule 3"])
        s.run("user", "rule", "del", "alice", "2")
        assert [r["filter"] for r in s.json("user", "show", "alice")["rules"]] == ["home/%u/private"]


@lib.case
def client_bindings():
    warden_only()
    with Store() as s:
        s.add_user("alice")
        s.run("user", "add", "gw", "--no-password")
        s.run("client", "bind", "gw-0001", "gw")
        s.run("client", "bind", "--prefix", "plant-", "alice")
        s.run("client", "bind", "--regex", "mac-[0-9a-f]{12}", "gw")
        lst = s.json("client", "list")
        got = sorted((b["kind"], b["pattern"], b["user"]) for b in lst)
        assert got == [("exact", "gw-0001", "gw"), ("prefix", "plant-", "alice"),
                       ("regex", "mac-[0-9a-f]{12}", "gw")], lst
        assert "plant-" in s.run("client", "list").stdout
        u = s.json("user", "show", "gw")
        assert {"kind": "exact", "pattern": "gw-0001"} in u["client_ids"], u
        s.fail("client", "bind", "gw-0001", "alice", words=["already bound", "gw"])
        s.fail("client", "bind", "--regex", "mac-[", "gw", words=["invalid regular expression"])
        s.fail("client", "bind", "x", "ghost", words=["unknown user"])
        s.fail("client", "bind", "x", "--prefix", "p", "gw", expect=2, words=["exactly one"])
        s.fail("client", "bind", "gw", expect=2)
        s.fail("client", "unbind", expect=2, words=["exactly one"])
        s.fail("client", "unbind", "--prefix", "nope-", words=["no prefix binding"])
        s.run("client", "unbind", "--prefix", "plant-")
        s.run("client", "unbind", "gw-0001")
        assert [b["pattern"] for b in s.json("client", "list")] == ["mac-[0-9a-f]{12}"]
        # deleting the user deletes its bindings in the same transaction
        r = s.run("user", "del", "gw")
        assert "bindings" in r.stdout, r.stdout
        assert s.json("client", "list") == []
        # a client id starting with '-' after "--"
        s.run("client", "bind", "--", "-odd", "alice")
        assert s.json("client", "list")[0]["pattern"] == "-odd"


@lib.case
def bans():
    warden_only()
    with Store() as s:
        now = time.time()
        s.run("ban", "add", "--address", "10.1.2.3/8", "--for", "2h", "--reason", "port scan")
        s.run("ban", "add", "--address", "2001:db8::1")
        s.run("ban", "add", "--user", "mallory", "--until", "2099-01-01T00:00:00Z")
        s.run("ban", "add", "--client", "evil-1", "--until", "30m")
        lst = {(b["kind"], b["value"]): b for b in s.json("ban", "list")}
        assert set(lst) == {("address", "10.0.0.0/8"), ("address", "2001:db8::1/128"),
                            ("user", "mallory"), ("client", "evil-1")}, lst
        b = lst[("address", "10.0.0.0/8")]
        assert b["reason"] == "port scan" and b["actor"] == me() and b["active"], b
        until = time.mktime(time.strptime(b["until"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        assert abs(until - (now + 7200)) < 120, (b, now)
        assert lst[("user", "mallory")]["until"] == "2099-01-01T00:00:00Z"
        assert lst[("address", "2001:db8::1/128")]["until"] is None
        assert "permanent" in s.run("ban", "list").stdout

        s.fail("ban", "add", "--address", "10.0.0.0/33", words=["invalid address"])
        s.fail("ban", "add", "--address", "300.1.1.1", words=["invalid address"])
        s.fail("ban", "add", "--address", "10.0.0.9/8", words=["already banned"])
        s.fail("ban", "add", "--client", "c", "--for", "10", words=["invalid duration"])
        s.fail("ban", "add", "--client", "c", "--for", "5y", words=["invalid duration"])
        s.fail("ban", "add", "--client", "c", "--for", "-5m", words=["invalid duration"])
        s.fail("ban", "add", "--client", "c", "--until", "2001-01-01T00:00:00Z", words=["past"])
        s.fail("ban", "add", "--client", "c", "--until", "tomorrow", words=["invalid time"])
        s.fail("ban", "add", "--client", "c", "--for", "1h", "--until", "2h", expect=2)
        s.fail("ban", "add", "--reason", "x", expect=2, words=["exactly one"])
        s.fail("ban", "add", "--client", "c", "--user", "u", expect=2, words=["exactly one"])
        s.fail("ban", "del", "--user", "nobody", words=["no ban"])
        s.run("ban", "del", "--address", "10.200.0.0/8")   # same range, other spelling
        s.run("ban", "del", "--client", "evil-1")
        assert len(s.json("ban", "list")) == 2


@lib.case
def audit_log():
    warden_only()
    with Store() as s:
        s.run("role", "add", "ops")
        s.add_user("alice")
        s.run("ban", "add", "--user", "mallory")
        s.fail("user", "add", "alice", "--no-password", words=["already exists"])
        entries = s.json("audit")
        assert [(e["action"], e["target"]) for e in entries] == [
            ("role add", "ops"), ("user add", "alice"), ("ban add", "user mallory")], entries
        assert all(e["actor"] == me() and e["result"] == "ok" for e in entries), entries
        assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
        last = s.json("audit", "--limit", "1")
        assert len(last) == 1 and last[0]["action"] == "ban add", last
        assert "user add" in s.run("audit").stdout
        s.fail("audit", "--limit", "0", words=["--limit"])
        s.fail("audit", "extra", expect=2)

        # --follow prints new entries as they are made; SIGTERM ends it with 0
        p = subprocess.Popen([lib.warden_bin(), "audit", "--follow", "--json", "--limit", "1",
                              "--store", s.dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            first = p.stdout.readline()
            assert json.loads(first)["action"] == "ban add", first
            s.run("role", "add", "followed")
            r, _, _ = select.select([p.stdout], [], [], 10)
            assert r, "audit --follow printed nothing within 10 s"
            line = json.loads(p.stdout.readline())
            assert line["action"] == "role add" and line["target"] == "followed", line
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                _, err = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
                raise AssertionError("audit --follow ignored SIGTERM")
        assert p.returncode == 0, "audit --follow exit %d" % p.returncode
        assert not lib.SANITIZER_RE.search(err), err


@lib.case
def config_file_and_store_option():
    warden_only()
    with Store() as s:
        conf = os.path.join(s.tmp.name, "w.conf")
        cdir = os.path.join(s.tmp.name, "from-conf")
        with open(conf, "w") as f:
            f.write("store_dir %s\npassword_min_length 4\naudit_max_entries 3\n"
                    "password_opslimit 1\npassword_memlimit 8m\n" % cdir)
        # -c anywhere: the store goes to store_dir, the short minimum applies
        r = lib.run_warden(["user", "add", "-c", conf, "tiny", "--password-stdin"], input="abcd\n")
        no_sanitizer(r, ["user", "add"])
        assert r.returncode == 0, r.stderr
        assert os.path.exists(os.path.join(cdir, "data.mdb"))
        r = lib.run_warden(["-c", conf, "--json", "user", "show", "tiny"])
        assert r.returncode == 0 and json.loads(r.stdout)["name"] == "tiny", r
        for i in range(5):
            assert lib.run_warden(["role", "add", "r%d" % i, "-c", conf]).returncode == 0
        r = lib.run_warden(["audit", "--json", "-c", conf])
        assert [e["target"] for e in json.loads(r.stdout)] == ["r2", "r3", "r4"], r.stdout
        # --store wins over store_dir
        r = lib.run_warden(["-c", conf, "--store", s.dir, "role", "add", "elsewhere"])
        assert r.returncode == 0, r.stderr
        assert "elsewhere" in [x["name"] for x in s.json("role", "list")]
        r = lib.run_warden(["role", "show", "elsewhere", "-c", conf])
        assert r.returncode == 1 and "unknown role" in r.stderr
        # a bad configuration file is a failure with its file:line
        bad = os.path.join(s.tmp.name, "bad.conf")
        with open(bad, "w") as f:
            f.write("password_min_length 0\n")
        r = lib.run_warden(["user", "list", "-c", bad])
        assert r.returncode == 1 and "bad.conf:1" in r.stderr, r.stderr
        # read commands do not create a store
        missing = os.path.join(s.tmp.name, "missing")
        r = lib.run_warden(["user", "list", "--store", missing])
        assert r.returncode == 1 and "no store" in r.stderr, r.stderr
        assert not os.path.exists(missing)
        r = lib.run_warden(["--store"])
        assert r.returncode == 2, r


@lib.case
def store_commands():
    warden_only()
    with Store() as s:
        s.add_user("alice")
        mode = stat.S_IMODE(os.stat(s.dir).st_mode)
        assert mode == 0o700, "store dir mode %o" % mode
        for f in ("data.mdb", "lock.mdb"):
            mode = stat.S_IMODE(os.stat(os.path.join(s.dir, f)).st_mode)
            assert mode == 0o600, "%s mode %o" % (f, mode)
        info = s.json("store", "info")
        assert info["schema"] == 4 and info["records"]["users"] == 1, info
        assert info["records"]["roles"] == 2 and info["generation"] >= 2, info
        assert "generation" in s.run("store", "info").stdout
        v = s.json("store", "verify")
        assert v["ok"] is True and v["problems"] == 0 and v["records"] > 0, v
        assert "all decode" in s.run("store", "verify").stdout

        backup = os.path.join(s.tmp.name, "backup.mdb")
        s.run("store", "backup", backup)
        assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
        s.fail("store", "backup", backup, words=["exists"])
        s.fail("store", "backup", expect=2)
        restored = os.path.join(s.tmp.name, "restored")
        os.mkdir(restored, 0o700)
        os.rename(backup, os.path.join(restored, "data.mdb"))
        r = lib.run_warden(["user", "show", "alice", "--json", "--store", restored])
        assert r.returncode == 0 and json.loads(r.stdout)["name"] == "alice", r

        t = s.json("store", "tune", "--target-ms", "40", store=False)
        assert t["configured"]["opslimit"] == 2 and t["configured"]["memlimit"] == 19 << 20, t
        assert 0 < t["configured"]["ms"] < 5000, t
        assert "suggest" not in t or t["suggest"]["ms"] <= 40, t
        assert "OPSLIMIT" in s.run("store", "tune", store=False).stdout
        s.fail("store", "tune", "--target-ms", "x", words=["--target-ms"], store=False)
        s.fail("store", "frob", expect=2)


@lib.case
def reader_sees_generation_move_during_write():
    """Two processes: a writer holding its transaction, a reader polling the generation."""
    warden_only()
    with Store() as s:
        s.run("role", "add", "seed")
        g0 = s.generation()
        env = dict(os.environ, WARDEN_TEST_SLOW_TXN="1500")
        w = subprocess.Popen([lib.warden_bin(), "role", "add", "slow", "--store", s.dir],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        seen = []
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                t0 = time.monotonic()
                g = s.generation()
                assert time.monotonic() - t0 < 1.2, "store info waited for the writer"
                seen.append(g)
                if g > g0:
                    break
                time.sleep(0.05)
            out, err = w.communicate(timeout=15)
        finally:
            if w.poll() is None:
                w.kill()
                w.wait()
        assert w.returncode == 0, err
        assert not lib.SANITIZER_RE.search(err), err
        assert seen[0] == g0 and seen[-1] == g0 + 1, "generations seen: %r" % seen
        assert seen.count(g0) >= 3, "the reader ran while the write was open: %r" % seen

        # several writers at once: all succeed, each moves the generation once
        procs = [subprocess.Popen([lib.warden_bin(), "role", "add", "par%d" % i, "--store", s.dir],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(6)]
        for p in procs:
            _, err = p.communicate(timeout=20)
            assert p.returncode == 0, err
        assert s.generation() == g0 + 7
        names = {r["name"] for r in s.json("role", "list")}
        assert {"par%d" % i for i in range(6)} <= names, names


@lib.case
def kill_writer_mid_transaction():
    warden_only()
    with Store() as s:
        s.add_user("before")
        g0 = s.generation()
        env = dict(os.environ, WARDEN_TEST_SLOW_TXN="30000")
        p = subprocess.Popen([lib.warden_bin(), "user", "add", "victim", "--no-password",
                              "--note", "x" * 500, "--store", s.dir], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
        try:
            line = ""
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and "holding the write transaction" not in line:
                r, _, _ = select.select([p.stderr], [], [], 0.5)
                if r:
                    line = p.stderr.readline()
                    if not line:
                        break
            assert "holding the write transaction" in line, "writer never reached its commit: %r" % line
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == -signal.SIGKILL
        v = s.json("store", "verify")
        assert v["ok"] and v["problems"] == 0, v
        s.fail("user", "show", "victim", words=["unknown user"])
        assert s.generation() == g0, "a killed write moved the generation"
        # the dead writer's lock is recovered: the next write goes through promptly
        t0 = time.monotonic()
        s.add_user("after")
        assert time.monotonic() - t0 < 10
        assert sorted(u["name"] for u in s.json("user", "list")) == ["after", "before"]
        assert s.json("store", "verify")["ok"]


@lib.case
def kill_reader_mid_transaction():
    """A reader killed inside its transaction leaves a stale slot; the next open clears it.
    (LMDB resets the reader table when the first process opens the store, so a
    long-lived process, `audit --follow` standing in for the broker, keeps it open.)"""
    warden_only()
    with Store() as s:
        s.add_user("alice")
        keeper = subprocess.Popen([lib.warden_bin(), "audit", "--follow", "--json", "--store",
                                   s.dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        p = None
        try:
            first = keeper.stdout.readline()
            assert json.loads(first)["action"] == "user add", first
            env = dict(os.environ, WARDEN_TEST_SLOW_READ="30000")
            p = subprocess.Popen([lib.warden_bin(), "user", "list", "--store", s.dir],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=env)
            line = ""
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and "holding a read transaction" not in line:
                r, _, _ = select.select([p.stderr], [], [], 0.5)
                if r:
                    line = p.stderr.readline()
                    if not line:
                        break
            assert "holding a read transaction" in line, "reader never held its txn: %r" % line
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
            info = s.json("store", "info")
            assert info["stale_readers_cleared"] == 1, info
            assert s.json("store", "info")["stale_readers_cleared"] == 0
            assert s.json("store", "verify")["ok"]
            s.add_user("bob")
        finally:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
            keeper.send_signal(signal.SIGTERM)
            try:
                _, err = keeper.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                keeper.kill()
                keeper.communicate()
                raise AssertionError("audit --follow ignored SIGTERM")
        assert keeper.returncode == 0 and not lib.SANITIZER_RE.search(err), err


@lib.case
def help_and_usage():
    warden_only()
    r = lib.run_warden(["user", "--help"])
    assert r.returncode == 0 and "warden user add NAME" in r.stdout, r
    r = lib.run_warden(["ban", "add", "--help"])
    assert r.returncode == 0 and "--address CIDR" in r.stdout, r
    r = lib.run_warden(["store"])
    assert r.returncode == 2 and "warden store verify" in r.stderr, r


lib.run()
