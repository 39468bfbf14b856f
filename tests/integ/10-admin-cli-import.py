#!/usr/bin/python3
"""10 admin: `warden import mosquitto` through the real binary: files made by
Debian's mosquitto_passwd and mosquitto_ctrl plus hand-written acl_files, bad
lines (refused whole, FILE:LINE named; --skip-bad), a re-import that collides
(nothing changes), and kill -9 of a large import inside its transaction:
afterwards the store verifies and holds none of it, and a second run imports
all of it."""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

ACL = """# anonymous clients
topic read public/#

user alice
topic readwrite home/alice/#
topic deny home/alice/secret

user carol
topic write carol/out

pattern read devices/%u/#
"""


def needs(*progs):
    if lib.is_mosquitto():
        lib.skip("Warden command line")
    for p in progs:
        if not shutil.which(p):
            lib.skip("%s not installed" % p)


def w(args, expect=0, env=None, timeout=60):
    e = dict(os.environ)
    if env:
        e.update(env)
    r = lib.run_warden([str(a) for a in args], timeout=timeout, env=e)
    assert not lib.SANITIZER_RE.search(r.stderr), r.stderr[-2000:]
    assert r.returncode == expect, "warden %s: exit %d, expected %d (%r %r)" % (
        " ".join(str(a) for a in args), r.returncode, expect, r.stdout[-400:], r.stderr[-400:])
    return r


def wj(args, **kw):
    return json.loads(w(list(args) + ["--json"], **kw).stdout)


def passwd_file(d, users):
    path = os.path.join(d, "passwd")
    first = True
    for name, pw, sha512 in users:
        cmd = ["mosquitto_passwd"] + (["-c"] if first else []) + (["-H", "sha512"] if sha512 else [])
        subprocess.run(cmd + ["-b", path, name, pw], check=True, capture_output=True, timeout=20)
        first = False
    return path


def write(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


@lib.case
def import_passwd_and_acl():
    needs("mosquitto_passwd")
    with tempfile.TemporaryDirectory(prefix="warden-import-") as d:
        store = os.path.join(d, "store")
        pw = passwd_file(d, [("alice", "alice-password-1", False), ("bob", "bob-password-22", True)])
        acl = write(d, "acl", ACL)
        out = wj(["import", "mosquitto", "--passwd", pw, "--acl", acl, "--store", store])
        assert out["ok"] and out["users"] == 3 and out["users_without_password"] == 1, out
        assert out["rules"] == 5, out
        users = {u["name"]: u for u in wj(["user", "list", "--store", store])}
        assert users["alice"]["password"] == "pbkdf2-sha512", users      # $7$ (default)
        assert users["bob"]["password"] == "sha512-crypt", users         # $6$ (-H sha512)
        assert users["carol"]["password"] is None, users                 # acl_file only
        alice = wj(["user", "show", "alice", "--store", store])
        assert alice["password_needs_rehash"] is True, alice
        # Mosquitto checks deny lines first: they come first
        assert [(r["effect"], r["actions"], r["filter"]) for r in alice["rules"]] == [
            ("deny", "all", "home/alice/secret"), ("allow", "all", "home/alice/#")], alice
        anon = wj(["role", "show", "anonymous", "--store", store])
        assert [(r["actions"], r["filter"]) for r in anon["rules"]] == [
            ("subscribe,receive", "public/#")], anon
        dflt = wj(["role", "show", "default", "--store", store])
        assert [(r["actions"], r["filter"]) for r in dflt["rules"]] == [
            ("subscribe,receive", "devices/%u/#")], dflt
        carol = wj(["user", "show", "carol", "--store", store])
        assert [(r["actions"], r["filter"]) for r in carol["rules"]] == [("publish", "carol/out")]
        assert "import mosquitto" in [e["action"] for e in wj(["audit", "--store", store])]

        # importing again collides: refused whole, nothing moves
        g = wj(["store", "info", "--store", store])["generation"]
        r = w(["import", "mosquitto", "--passwd", pw, "--store", store], expect=1)
        assert "already exists" in r.stderr, r.stderr
        assert wj(["store", "info", "--store", store])["generation"] == g
        assert wj(["store", "verify", "--store", store])["ok"]


@lib.case
def import_bad_lines():
    needs("mosquitto_passwd")
    with tempfile.TemporaryDirectory(prefix="warden-import-") as d:
        store = os.path.join(d, "store")
        pw = passwd_file(d, [("alice", "alice-password-1", False)])
        with open(pw) as f:
            good = f.read()
        bad = write(d, "bad-passwd", good + "mallory:plaintext\n" + good.replace("alice", "zoe"))
        r = w(["import", "mosquitto", "--passwd", bad, "--store", store], expect=1)
        assert "bad-passwd:2" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not os.path.exists(os.path.join(store, "data.mdb")) or \
            wj(["user", "list", "--store", store]) == [], "a refused import left users"
        badacl = write(d, "bad-acl", "user x\ntopic sideways a/b\ntopic read a/#/b\n")
        r = w(["import", "mosquitto", "--acl", badacl, "--store", store], expect=1)
        assert "bad-acl:" in r.stderr, r.stderr
        out = wj(["import", "mosquitto", "--passwd", bad, "--skip-bad", "--store", store])
        assert out["users"] == 2 and out["skipped"] == 1, out
        assert "bad-passwd:2" in out["first_skipped"], out
        w(["import", "mosquitto", "--passwd", os.path.join(d, "missing"), "--store", store],
          expect=1)
        w(["import", "mosquitto", "--store", store], expect=2)
        w(["import", "mosquitto", "--passwd", bad, "--bogus", "--store", store], expect=2)


@lib.case
def import_dynsec():
    needs("mosquitto_ctrl")
    with tempfile.TemporaryDirectory(prefix="warden-import-") as d:
        store = os.path.join(d, "store")
        dyn = os.path.join(d, "dynsec.json")
        subprocess.run(["mosquitto_ctrl", "dynsec", "init", dyn, "admin", "admin-password-1"],
                       check=True, capture_output=True, timeout=30)
        out = wj(["import", "mosquitto", "--dynsec", dyn, "--store", store])
        assert out["users"] == 1 and out["roles"] == 1, out
        assert out["ignored"] >= 1, out     # the unsubscribePattern ACL
        admin = wj(["user", "show", "admin", "--store", store])
        assert admin["roles"] == ["admin"] and admin["password"] == "pbkdf2-sha512", admin
        role = wj(["role", "show", "admin", "--store", store])
        assert any(r["filter"] == "$CONTROL/dynamic-security/#" for r in role["rules"]), role
        # defaultACLAccess: publishClientReceive true becomes "allow receive #" for everyone
        dflt = wj(["role", "show", "default", "--store", store])
        assert [(r["effect"], r["actions"], r["filter"]) for r in dflt["rules"]] == [
            ("allow", "receive", "#")], dflt


@lib.case
def kill_during_large_import():
    needs("mosquitto_passwd")
    with tempfile.TemporaryDirectory(prefix="warden-import-") as d:
        store = os.path.join(d, "store")
        one = passwd_file(d, [("u", "a-long-password-1", True)])
        with open(one) as f:
            hash_ = f.read().strip().split(":", 1)[1]
        n = 3000
        big = write(d, "big", "".join("user%05d:%s\n" % (i, hash_) for i in range(n)))
        w(["role", "add", "seed", "--store", store])
        g0 = wj(["store", "info", "--store", store])["generation"]
        env = dict(os.environ, WARDEN_TEST_SLOW_TXN="30000")
        p = subprocess.Popen([lib.warden_bin(), "import", "mosquitto", "--passwd", big,
                              "--store", store], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
        try:
            line = ""
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and "holding the write transaction" not in line:
                r, _, _ = select.select([p.stderr], [], [], 0.5)
                if r:
                    line = p.stderr.readline()
                    if not line:
                        break
            assert "holding the write transaction" in line, "import never reached its commit"
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        v = wj(["store", "verify", "--store", store])
        assert v["ok"] and v["problems"] == 0, v
        assert wj(["user", "list", "--store", store]) == [], "part of a killed import is visible"
        assert wj(["store", "info", "--store", store])["generation"] == g0
        out = wj(["import", "mosquitto", "--passwd", big, "--store", store], timeout=120)
        assert out["users"] == n, out
        info = wj(["store", "info", "--store", store])
        assert info["records"]["users"] == n and info["generation"] > g0, info
        assert wj(["store", "verify", "--store", store])["ok"]


lib.run()
