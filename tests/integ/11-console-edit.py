#!/usr/bin/python3
"""11 console edit: screens 4 (Users), 5 (Roles and rules), 6 (Bindings and
bans) and `b` on the sessions screen, driven in tmux (tests/tui/tmux.py).

Embedded: a user added in the console logs in with mosquitto_pub using the
typed password; mismatched passwords show an error and add nothing;
disable/enable is seen by the store and by a login; a generated password is
shown once and works; the audit names the OS user as actor.
Attached (`warden console --socket`): a rule edit is previewed (which live
subscription goes), confirmed, and the live mosquitto_sub client stops
getting that topic; on_deny set in the console shows in `warden role show`;
an invalid rule shows the reason and changes nothing; `b` on the sessions
screen bans a client id (its reconnect is refused) and screen 6 lifts it.
`C` on the users screen (attached) pins a certificate from a PEM file and
unpins it again: the store, the PINS column and the audit actor agree; an
unreadable file shows why and pins nothing."""

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tui"))
import lib  # noqa: E402
import tlsutil  # noqa: E402
import tmux  # noqa: E402

ME = pwd.getpwuid(os.getuid()).pw_name


class Console:
    """A broker with its console in a tmux pane, on a free port and a temporary store."""

    def __init__(self):
        if lib.is_mosquitto():
            lib.skip("Warden's console")
        if not shutil.which("tmux"):
            lib.skip("tmux is not installed")
        self.dir = tempfile.mkdtemp(prefix="warden-console-edit-")
        self.store_dir = os.path.join(self.dir, "store")
        os.mkdir(self.store_dir)
        self.port = lib.free_port()
        self.conf = os.path.join(self.dir, "warden.conf")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\nanonymous_default allow\n"
                    "store_dir %s\nsys_interval 0\n" % (self.port, self.store_dir))
        self.err = os.path.join(self.dir, "stderr.log")
        self.sock = os.path.join(self.store_dir, "admin.sock")
        self.panes, self.procs = [], []
        self.pane = self.open([lib.warden_bin(), "-c", self.conf], stderr=self.err)
        self.pane.wait_for(r"\[Overview\]")
        lib.wait_until(lambda: os.path.exists(self.sock), 10, msg="no admin socket")

    def open(self, argv, stderr=None, cwd=None):
        p = tmux.Pane(argv, cwd or self.dir, stderr=stderr)
        self.panes.append(p)
        return p

    def log(self):
        try:
            with open(self.err, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cli_json(self, *args, ok=True):
        r = lib.cli(self, *(list(args) + ["--json"]), ok=ok)
        return json.loads(r.stdout) if r.stdout.strip() else None

    def pub(self, *args):
        """mosquitto_pub on this broker; returns its exit status."""
        return subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-V", "5",
                               "-q", "1"] + list(args), capture_output=True,
                              timeout=20).returncode

    def sub(self, out, *args):
        f = open(out, "w")
        p = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-V", "5",
                              "-v"] + list(args), stdout=f, stderr=subprocess.STDOUT)
        f.close()
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for p in self.panes:
            p.kill()
        if not os.environ.get("KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def quit(self):
        p = self.pane
        p.keys("q")
        p.wait_for(r"STOP THE BROKER")
        p.keys("y")
        rc = p.wait_exit(20)
        log = self.log()
        assert not lib.SANITIZER_RE.search(log), "sanitizer report:\n" + log[-3000:]
        assert rc == 0, "broker exited %d; log:\n%s" % (rc, log[-2000:])


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def audit_actors(c, action):
    r = lib.cli(c, "audit", "--limit", "200", "--json")
    out = []
    for line in r.stdout.splitlines():
        if not line.strip():
            continue
        v = json.loads(line)
        for a in (v if isinstance(v, list) else [v]):
            if a.get("action") == action:
                out.append(a.get("actor"))
    return out


def select_row(p, regex):
    """g (first row), then Down until the row matching regex is the selected one (by its
    position). Not the Home key: tmux sends it as ESC [ 1 ~, which xterm's terminfo lacks."""
    p.keys("g")
    s = p.wait_for(regex)
    lines = s.splitlines()
    first = 1  # the list starts under the title bar
    idx = next(i for i, l in enumerate(lines) if re.search(regex, l))
    for _ in range(idx - first):
        p.keys("Down")


@lib.case
def console_users_add_disable_password():
    c = Console()
    try:
        p = c.pane
        pw = "correct horse battery staple"
        p.keys("4")
        p.wait_for(r"\[Users\]")
        p.wait_for(r"0 users")
        # Passwords that differ: the form says so and nothing is added.
        p.keys("a")
        p.wait_for(r"Add a user")
        p.text("dave")
        p.keys("Tab", "Tab", "Tab")
        p.text(pw)
        p.keys("Tab")
        p.text(pw + "x")
        p.keys("Enter")
        p.wait_for(r"the passwords do not match")
        p.keys("Escape")
        p.wait_for(r"cancelled")
        assert c.cli_json("user", "list") == [], "a failed add changed the store"
        # Typed twice: added, and mosquitto_pub logs in with it.
        p.keys("a")
        p.wait_for(r"Add a user")
        p.text("dave")
        p.keys("Tab", "Tab", "Tab")
        p.text(pw)
        p.keys("Tab")
        p.text(pw)
        assert pw not in p.screen(), "a password shows on the screen"
        p.keys("Enter")
        p.wait_for(r"user 'dave' added")
        p.wait_for(r"dave\s+yes\s+-\s+0\s+0\s+0\s+never\s+argon2id")  # rules, pins, sessions
        u = c.cli_json("user", "show", "dave")
        assert u["enabled"] is True and u["password"] == "argon2id", u
        assert c.pub("-u", "dave", "-P", pw, "-t", "t/1", "-m", "hi") == 0, "login refused"
        assert c.pub("-u", "dave", "-P", pw + "x", "-t", "t/1", "-m", "hi") != 0
        assert ME in audit_actors(c, "user add"), "audit actor is not %s" % ME
        # `u`: the user's own rules on screen 5; a rule added there is in the store.
        p.keys("u")
        p.wait_for(r"user dave\s+\(own rules")
        p.keys("a")
        p.wait_for(r"New rule in user dave, at 1")
        p.keys("Tab", "Tab")
        p.text("devices/dave/#")
        p.keys("Enter")
        p.wait_for(r"No live subscription is affected.*Save\? \(y/N\)")
        p.keys("y")
        p.wait_for(r"1\. allow\s+publish,subscribe\s+devices/dave/#\s+qos 2")
        rules = c.cli_json("user", "show", "dave")["rules"]
        assert [(r["effect"], r["actions"], r["filter"]) for r in rules] == \
            [("allow", "publish,subscribe", "devices/dave/#")], rules
        p.keys("Escape")
        p.wait_for(r"\[Users\]")
        p.wait_for(r"dave\s+yes\s+-\s+1\s+")
        # Disable, then enable: the store and a login both see it.
        p.keys("e")
        p.wait_for(r"dave\s+NO")
        assert c.cli_json("user", "show", "dave")["enabled"] is False
        # The broker applies store changes within about a second.
        lib.wait_until(lambda: c.pub("-u", "dave", "-P", pw, "-t", "t/1", "-m", "hi") != 0, 10,
                       msg="a disabled user still logs in")
        p.keys("e")
        p.wait_for(r"dave\s+yes")
        assert c.cli_json("user", "show", "dave")["enabled"] is True
        lib.wait_until(lambda: c.pub("-u", "dave", "-P", pw, "-t", "t/1", "-m", "hi") == 0, 10,
                       msg="an enabled user cannot log in")
        # A generated password: shown once on the status line, and it works.
        p.keys("p")
        p.wait_for(r"Password of 'dave'")
        p.keys("Space")  # typed -> generated
        p.wait_for(r"< generated >")
        p.keys("Enter")
        s = p.wait_for(r"generated password \(shown once\): (\S+)")
        gen = re.search(r"generated password \(shown once\): (\S+)", s).group(1)
        assert c.pub("-u", "dave", "-P", gen, "-t", "t/1", "-m", "hi") == 0, "generated pw"
        lib.wait_until(lambda: c.pub("-u", "dave", "-P", pw, "-t", "t/1", "-m", "hi") != 0, 10,
                       msg="the old password still works")
        assert gen not in c.log(), "the generated password was logged"
        # Delete asks first.
        p.keys("d")
        p.wait_for(r"Delete user 'dave'.*\(y/N\)")
        p.keys("y")
        p.wait_for(r"user 'dave' deleted")
        p.wait_for(r"0 users")
        assert c.cli_json("user", "list") == []
        c.quit()
    finally:
        c.close()


@lib.case
def console_pins_a_certificate():
    c = Console()
    try:
        lib.cli(c, "user", "add", "meter", "--no-password")
        pem = tlsutil.p("client.pem")
        # Attached, from the PKI's directory: a relative path is resolved by the console
        # (the broker, which reads the file, runs elsewhere).
        a = c.open([lib.warden_bin(), "console", "--socket", c.sock], cwd=tlsutil.pki())
        a.wait_for(r"attached pid")
        a.keys("4")
        a.wait_for(r"meter\s+yes\s+-\s+0\s+0\s+0\s+never")
        # A file that is not there: the reason in the form, nothing pinned.
        a.keys("C")
        a.wait_for(r"Certificates of 'meter': 0 pinned")
        a.keys("Tab")
        a.text("no-such.pem")
        a.keys("Enter")
        a.wait_for(r"no-such\.pem")
        assert "Certificates of 'meter'" in a.screen(), "the form closed on an error"
        a.keys("Escape")
        assert c.cli_json("user", "cert", "list", "meter") == []
        # The real one.
        a.keys("C")
        a.wait_for(r"Certificates of 'meter': 0 pinned")
        a.keys("Tab")
        a.text("client.pem")
        a.keys("Enter")
        a.wait_for(r"user 'meter' pins certificate [0-9a-f]{64}")
        a.wait_for(r"meter\s+yes\s+-\s+0\s+1\s+0\s+never")
        pins = c.cli_json("user", "cert", "list", "meter")
        fp = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha256"],
                            capture_output=True, text=True, check=True).stdout
        fp = fp.split("=", 1)[1].strip().replace(":", "").lower()
        assert len(pins) == 1 and pins[0]["fingerprint"].replace(":", "").lower() == fp, \
            (pins, fp)
        assert "CN=client1" in pins[0]["subject"] and pins[0]["actor"] == ME, pins
        assert audit_actors(c, "user cert add") == [ME], audit_actors(c, "user cert add")
        # Unpin: the form lists the pin; choosing it asks first.
        a.keys("C")
        a.wait_for(r"Certificates of 'meter': 1 pinned")
        a.keys("Right")
        a.wait_for(r"unpin %s" % pins[0]["fingerprint"][:16])
        a.keys("Enter")
        a.wait_for(r"Unpin certificate %s\.\.\. from 'meter'\? \(y/N\)"
                   % pins[0]["fingerprint"][:16])
        a.keys("y")
        a.wait_for(r"user 'meter' no longer pins certificate")
        a.wait_for(r"meter\s+yes\s+-\s+0\s+0\s+0\s+never")
        assert c.cli_json("user", "cert", "list", "meter") == []
        assert audit_actors(c, "user cert del") == [ME]
        a.keys("q")
        assert a.wait_exit(10) == 0
        c.quit()
    finally:
        c.close()


@lib.case
def console_attached_rules_on_deny_ban():
    c = Console()
    try:
        pw = "reader password 12345"
        lib.cli(c, "role", "add", "readers")
        lib.cli(c, "role", "rule", "add", "readers", "allow", "subscribe,receive", "data/#")
        lib.cli(c, "role", "rule", "add", "readers", "allow", "subscribe,receive", "keep/#")
        lib.cli(c, "user", "add", "alice", "--role", "readers", "--password-stdin",
                input=pw + "\n")
        out = os.path.join(c.dir, "sub.out")
        c.sub(out, "-i", "alice-sub", "-u", "alice", "-P", pw, "-t", "data/#", "-t", "keep/#")
        a = c.open([lib.warden_bin(), "console", "--socket", c.sock])
        a.wait_for(r"attached pid \d+")
        a.keys("2")
        a.wait_for(r"alice-sub\s+alice\s+password")
        # A user added from the attached console (typed password) logs in.
        a.keys("4")
        a.wait_for(r"alice\s+yes\s+readers\s+0\s+0\s+1\s+")
        a.keys("a")
        a.wait_for(r"Add a user")
        a.text("erin")
        a.keys("Tab")
        a.text("readers")
        a.keys("Tab", "Tab")
        a.text("erin password 123")
        a.keys("Tab")
        a.text("erin password 123")
        a.keys("Enter")
        a.wait_for(r"user 'erin' added")
        assert c.cli_json("user", "show", "erin")["roles"] == ["readers"]
        assert c.pub("-u", "erin", "-P", "erin password 123", "-t", "data/0", "-m", "x") == 0
        assert c.pub("-u", "erin", "-P", "erin password 124", "-t", "data/0", "-m", "x") != 0
        assert re.search(r"connect client=\S+ user=erin .*result=success", c.log()), \
            c.log()[-1500:]
        assert "erin password 123" not in c.log()
        a.keys("2")
        assert c.pub("-t", "data/1", "-m", "before") == 0
        lib.wait_until(lambda: "data/1 before" in read(out), 10, msg="no delivery before")

        # Screen 5: edit rule 1 of readers (data/# -> other/#), preview, confirm.
        a.keys("5")
        a.wait_for(r"\[Roles and rules\]")
        a.wait_for(r"role readers")
        select_row(a, r"(?m)^\s+1\. allow\s+subscribe,receive\s+data/#")
        a.keys("e")
        a.wait_for(r"Rule 1 of role readers")
        a.keys("Tab", "Tab", "C-u")
        a.text("other/#")
        a.keys("Enter")
        a.wait_for(r"Removes 1 live subscription: alice-sub loses data/#\. Save\? \(y/N\)")
        a.keys("y")
        a.wait_for(r"rule 1 of role 'readers' replaced")
        a.wait_for(r"1\. allow\s+subscribe,receive\s+other/#")
        rules = c.cli_json("role", "show", "readers")["rules"]
        assert [r["filter"] for r in rules] == ["other/#", "keep/#"], rules
        lib.wait_until(lambda: re.search(r"subscription data/# of client=alice-sub removed",
                                         c.log()), 10, msg="subscription not removed")
        assert c.pub("-t", "data/2", "-m", "lost") == 0
        assert c.pub("-t", "keep/2", "-m", "kept") == 0
        lib.wait_until(lambda: "keep/2 kept" in read(out), 10, msg="keep/# stopped too")
        assert "data/2 lost" not in read(out), "removed subscription still delivers"
        assert ME in audit_actors(c, "role rule set"), "audit actor of the socket peer"

        # Move keep/# up (K): the preview finds nothing lost; one transaction reorders.
        select_row(a, r"(?m)^\s+2\. allow\s+subscribe,receive\s+keep/#")
        a.keys("K")
        a.wait_for(r"No live subscription is affected \(1 sessions use this list\)\. Save\?")
        a.keys("y")
        a.wait_for(r"rule 2 of role 'readers' moved to 1")
        rules = c.cli_json("role", "show", "readers")["rules"]
        assert [r["filter"] for r in rules] == ["keep/#", "other/#"], rules
        assert audit_actors(c, "role rule move") == [ME]

        # An invalid rule: the reason shows and the store is unchanged.
        a.keys("a")
        a.wait_for(r"New rule in role readers")
        a.keys("Tab", "Tab")
        a.text("bad/#/more")
        a.keys("Enter")
        a.wait_for(r"\(y/N\)")
        a.keys("y")
        a.wait_for(r"(?i)invalid|filter")
        assert len(c.cli_json("role", "show", "readers")["rules"]) == 2, "invalid rule stored"

        # on_deny: none -> disconnect, seen by `warden role show`.
        select_row(a, r"(?m)^role readers")
        a.keys("o")
        a.wait_for(r"on_deny of role 'readers'")
        a.keys("Right", "Right")
        a.wait_for(r"< disconnect >")
        a.keys("Enter")
        a.wait_for(r"role 'readers': on_deny disconnect")
        assert c.cli_json("role", "show", "readers")["on_deny"] == "disconnect"
        r = lib.cli(c, "role", "show", "readers")
        assert re.search(r"on_deny:\s+disconnect", r.stdout), r.stdout

        # `b` on the sessions screen: ban the client id; its reconnect is refused.
        a.keys("2")
        a.keys("/")
        a.text("alice-sub")
        a.keys("Enter")
        a.wait_for(r"1 of 1 sessions match")
        a.keys("b")
        a.wait_for(r"Ban: refuses connections")
        a.wait_for(r"Client id\s+alice-sub")
        a.keys("Enter")
        a.wait_for(r"banned client")
        bans = c.cli_json("ban", "list")
        assert len(bans) == 1 and bans[0]["kind"] == "client" and \
            bans[0]["value"] == "alice-sub" and bans[0]["actor"] == ME, bans
        # The live client is disconnected (Administrative action), its reconnect refused.
        lib.wait_until(lambda: re.search(r"disconnect client=alice-sub \S+ reason=0x98", c.log()),
                       10, msg="the live banned client was not disconnected")
        assert c.pub("-i", "alice-sub", "-t", "keep/3", "-m", "x") != 0, "banned id connected"
        assert re.search(r"connect client=alice-sub .*result=refused \(banned\)", c.log()), \
            c.log()[-1500:]

        # Screen 6 lifts it.
        a.keys("6")
        a.wait_for(r"\[Bindings and bans\]")
        a.wait_for(r"client\s+alice-sub\s+\S+ left")
        a.keys("d")
        a.wait_for(r"Lift the ban of client 'alice-sub'\? \(y/N\)")
        a.keys("y")
        a.wait_for(r"ban of .*lifted")
        assert c.cli_json("ban", "list") == []
        lib.wait_until(lambda: c.pub("-i", "alice-sub", "-t", "keep/3", "-m", "x") == 0, 10,
                       msg="a lifted ban still refuses")
        a.keys("q")
        assert a.wait_exit(10) == 0
        c.quit()
    finally:
        c.close()


lib.run()
