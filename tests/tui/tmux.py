"""Drive Warden's console in tmux (tests/integ/10-console.py uses this).

Each Pane runs one command in its own tmux server (-L with a unique name),
so that kill-server only ever stops what the test started. Fixed size
120x36, TERM=xterm, LANG=C.UTF-8, NO_COLOR=1. wait_for() polls capture-pane
until a regex shows or a deadline passes; there are no fixed sleeps.
"""

import os
import re
import shlex
import subprocess
import time

_count = 0


class Pane:
    def __init__(self, argv, cwd, width=120, height=36, env=None, stderr=None):
        global _count
        _count += 1
        self.sock = "warden-test-%d-%d" % (os.getpid(), _count)
        self.exit_path = os.path.join(cwd, "exit-%s" % self.sock)
        e = {"TERM": "xterm", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "NO_COLOR": "1",
             "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=1"),
             "UBSAN_OPTIONS": os.environ.get("UBSAN_OPTIONS", "print_stacktrace=1")}
        e.update(env or {})
        envs = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in e.items())
        redir = " 2>%s" % shlex.quote(stderr) if stderr else ""
        cmd = "cd %s && env %s %s%s; echo $? > %s" % (
            shlex.quote(cwd), envs, " ".join(shlex.quote(a) for a in argv), redir,
            shlex.quote(self.exit_path))
        self._tmux("new-session", "-d", "-x", str(width), "-y", str(height), "sh", "-c", cmd)

    def _tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null"] + list(args),
                              capture_output=True, text=True, timeout=10, check=check)

    def screen(self):
        r = self._tmux("capture-pane", "-p", check=False)
        return r.stdout if r.returncode == 0 else ""

    def keys(self, *keys):
        self._tmux("send-keys", *keys, check=False)

    def text(self, s):
        self._tmux("send-keys", "-l", s, check=False)

    def wait_for(self, regex, timeout=10):
        pat = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen()
            if pat.search(s):
                return s
            if time.monotonic() >= deadline:
                raise AssertionError("screen never showed /%s/ within %ss; screen:\n%s"
                                     % (regex, timeout, s))
            time.sleep(0.05)

    def wait_exit(self, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(self.exit_path) as f:
                    v = f.read().strip()
                if v:
                    return int(v)
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise AssertionError("command did not exit within %ss; screen:\n%s"
                                     % (timeout, self.screen()))
            time.sleep(0.05)

    def kill(self):
        self._tmux("kill-server", check=False)
