"""presencectl (docs/PRESENCECTL.md) against a real system: each command's
human and --json output, --help everywhere, and the documented exit codes
for a wrong URL, a refused token, an unknown user and a registry or a
persister that is down; status shows every process's health, readiness,
version (the project's) and uptime, reading the registry's and the
persister's own metrics ports; watch prints events of a v1 client and ends
cleanly on SIGINT.

The binary comes from PRS_PRESENCECTL_BIN (set by CMake).
"""

import http.server
import json
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import jwt

from harness import REPO, WAIT, SystemTestCase, free_port, q, uid

EXIT_OK, EXIT_USAGE, EXIT_CONNECT, EXIT_AUTH = 0, 1, 2, 3
EXIT_NOT_FOUND, EXIT_UNAVAILABLE, EXIT_SERVER = 4, 5, 6

COMMANDS = ("status", "online", "user", "query", "threads", "kick", "watch")


def project_version():
    """X.Y.Z of project(presence VERSION X.Y.Z) in the top CMakeLists.txt:
    the version every binary reports."""
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        m = re.search(r"project\(presence\s+VERSION\s+([0-9.]+)", f.read())
    if m is None:
        raise RuntimeError("no project(presence VERSION ...) in "
                           "CMakeLists.txt")
    return m.group(1)


def ctl_bin():
    path = os.environ.get("PRS_PRESENCECTL_BIN")
    if not path:
        raise RuntimeError("PRS_PRESENCECTL_BIN is not set (see CMake)")
    return path


class Lines:
    """Reads a stream line by line on a thread, so that a test can wait
    for a line with a timeout."""

    def __init__(self, stream):
        self.q = queue.Queue()
        self.seen = []
        self.t = threading.Thread(target=self._run, args=(stream,),
                                  daemon=True)
        self.t.start()

    def _run(self, stream):
        for line in iter(stream.readline, ""):
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def expect(self, pred, timeout=WAIT, what="a line"):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s within %.0f s; got %r"
                                     % (what, timeout, self.seen))
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("stream ended waiting for %s; got %r"
                                     % (what, self.seen))
            self.seen.append(line)
            if pred(line):
                return line

    def rest(self, timeout=WAIT):
        """Every line until the stream ends."""
        deadline = time.monotonic() + timeout
        out = []
        while time.monotonic() < deadline:
            try:
                line = self.q.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                return out
            out.append(line)
            self.seen.append(line)
        raise AssertionError("stream did not end; got %r" % out)


class CtlBase(SystemTestCase):
    def url(self, gw=0):
        return "http://127.0.0.1:%d" % self.sys.port(gw)

    def metrics_url(self, proc):
        port = (self.sys.registry_metrics_port if proc == "registry"
                else self.sys.persister_metrics_port)
        return "http://127.0.0.1:%d/metrics" % port

    def ctl(self, *args, url=None, token_file=None, timeout=30, env=None,
            procs=True):
        """Runs presencectl; returns the CompletedProcess (text). status
        reads this System's registry and persister metrics ports (not the
        default ports, which another system may hold) unless procs is
        False or the arguments name them."""
        argv = [ctl_bin(), "--url", url or self.url()]
        if token_file is not None:
            argv += ["--token-file", token_file]
        argv += list(args)
        if procs and "status" in args:
            for proc in ("registry", "persister"):
                opt = "--%s-metrics" % proc
                if not any(a == opt or a.startswith(opt + "=")
                           for a in args):
                    argv += [opt, self.metrics_url(proc)]
        e = dict(os.environ)
        e.pop("PRESENCE_URL", None)
        e.pop("PRESENCE_TOKEN_FILE", None)
        e.update(env or {})
        return subprocess.run(argv, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout,
                              env=e)

    def ok(self, *args, **kw):
        r = self.ctl(*args, **kw)
        self.assertEqual(r.returncode, EXIT_OK, self.show(r))
        return r

    def ok_json(self, *args, **kw):
        r = self.ok("--json", *args, **kw)
        return json.loads(r.stdout)

    def fails(self, code, *args, **kw):
        r = self.ctl(*args, **kw)
        self.assertEqual(r.returncode, code, self.show(r))
        self.assertTrue(r.stderr.startswith("presencectl: ") or
                        r.stderr.startswith("Usage: "), self.show(r))
        return r

    @staticmethod
    def show(r):
        return "exit %s\n--- stdout\n%s--- stderr\n%s" % (
            r.returncode, r.stdout, r.stderr)

    def token_file(self, token):
        fd, path = tempfile.mkstemp(prefix="prs-ctl-", dir=self.sys.tmp)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return path

    def watch(self, *args, token_file=None, url=None):
        argv = [ctl_bin(), "--url", url or self.url()]
        if token_file is not None:
            argv += ["--token-file", token_file]
        argv += ["watch"] + list(args)
        p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True)
        self.addCleanup(self._reap, p)
        return p, Lines(p.stdout), Lines(p.stderr)

    @staticmethod
    def _reap(p):
        if p.poll() is None:
            p.kill()
        p.wait(5)
        for f in (p.stdout, p.stderr):
            if f is not None:
                f.close()


# ---------------------------------------------------------------- auth none

class CtlTest(CtlBase):
    AUTH = "none"
    GATEWAYS = 2

    def test_help_everywhere(self):
        r = self.ok("--help")
        for cmd in COMMANDS:
            self.assertIn("  %s " % cmd, r.stdout)
        self.assertIn("Exit codes", r.stdout)
        for cmd in COMMANDS:
            r = self.ok(cmd, "--help")
            self.assertIn("Usage: presencectl [OPTIONS] %s" % cmd, r.stdout)
            self.assertEqual(self.ok("help", cmd).stdout, r.stdout)
        self.assertIn("presencectl ", self.ok("--version").stdout)

    def test_usage_errors(self):
        self.fails(EXIT_USAGE)
        self.fails(EXIT_USAGE, "frobnicate")
        self.fails(EXIT_USAGE, "user")
        self.fails(EXIT_USAGE, "user", "a", "b")
        self.fails(EXIT_USAGE, "kick")
        self.fails(EXIT_USAGE, "query")
        self.fails(EXIT_USAGE, "threads", "t1", "members", "frob", "x")
        self.fails(EXIT_USAGE, "threads", "t1", "members", "add")
        self.fails(EXIT_USAGE, "threads", "t1", "people")
        self.fails(EXIT_USAGE, "online", "--thread")
        self.fails(EXIT_USAGE, "user", "a", "--limit", "0")
        self.fails(EXIT_USAGE, "user", "a", "--limit", "1001")
        self.fails(EXIT_USAGE, "query", "--bogus", "a")
        self.fails(EXIT_USAGE, "user", "x" * 129)
        self.fails(EXIT_USAGE, "user", "a\tb")
        self.fails(EXIT_USAGE, "online", url="ftp://127.0.0.1:1")
        self.fails(EXIT_USAGE, "online",
                   token_file=os.path.join(self.sys.tmp, "missing"))
        # --json on a usage error prints nothing on stdout
        r = self.fails(EXIT_USAGE, "--json", "user")
        self.assertEqual(r.stdout, "")

    def test_status_of_two_gateways(self):
        urls = "%s,%s" % (self.url(0), self.url(1))
        r = self.ok("status", url=urls)
        for gw in (0, 1):
            self.assertIn("gateway %s\n" % self.url(gw), r.stdout)
        # two gateways, then the registry and the persister
        self.assertEqual(r.stdout.count("  health     ok"), 4, r.stdout)
        self.assertEqual(r.stdout.count("  ready      yes"), 4, r.stdout)
        self.assertIn("  persister  ok", r.stdout)
        version = project_version()
        # two gateways, the registry and the persister: one version each
        self.assertEqual(r.stdout.count("  version    %s\n" % version), 4,
                         r.stdout)
        self.assertEqual(len(re.findall(r"^  uptime     [0-9]", r.stdout,
                                        re.M)), 4, r.stdout)
        self.assertNotIn("not exported", r.stdout)
        self.assertIn("registry %s\n  health     ok\n  ready      yes\n"
                      % self.metrics_url("registry"), r.stdout)
        self.assertIn("persister %s\n  health     ok\n  ready      yes\n"
                      % self.metrics_url("persister"), r.stdout)
        self.assertIn("  postgres   up\n  registry   connected", r.stdout)
        doc = self.ok_json("status", url=urls)
        self.assertIs(doc["ok"], True)
        self.assertEqual([g["url"] for g in doc["gateways"]],
                         [self.url(0), self.url(1)])
        for g in doc["gateways"]:
            self.assertIs(g["healthy"], True, g)
            self.assertIs(g["ready"], True, g)
            self.assertIsNone(g["ready_message"], g)
            self.assertEqual(g["persister"], "ok", g)
            self.assertEqual(g["metrics"]["presence_gateway_registry_ready"],
                             1, g)
            self.assertIsInstance(g["metrics"]["presence_gateway_sessions"],
                                  int, g)
        reg, pst = doc["registry"], doc["persister"]
        self.assertEqual(reg["url"], self.metrics_url("registry"))
        self.assertEqual(pst["url"], self.metrics_url("persister"))
        self.assertEqual(reg["metrics"]["presence_registry_ready"], 1)
        self.assertEqual(pst["metrics"]["presence_persister_postgres_up"], 1)
        self.assertEqual(
            pst["metrics"]["presence_persister_registry_connected"], 1)
        now = time.time()
        for p in doc["gateways"] + [reg, pst]:
            self.assertIs(p["healthy"], True, p)
            self.assertIs(p["ready"], True, p)
            self.assertIsNone(p["ready_message"], p)
            self.assertNotIn("error", p)
            self.assertEqual(p["version"], version, p)
            # started before this test, after the tests began (an hour is
            # far more than a run of this file takes)
            self.assertIsInstance(p["uptime_seconds"], int, p)
            self.assertGreaterEqual(p["uptime_seconds"], 0, p)
            self.assertLess(p["uptime_seconds"], 3600, p)
            started = [v for k, v in p["metrics"].items()
                       if k.endswith("_start_time_seconds")]
            self.assertEqual(len(started), 1, p)
            self.assertLessEqual(started[0], now, p)
            self.assertLessEqual(abs(now - started[0] - p["uptime_seconds"]),
                                 60, p)

    def test_version_is_the_builds(self):
        version = project_version()
        r = subprocess.run([os.environ["PRS_REGISTRY_BIN"], "--version"],
                           stdout=subprocess.PIPE, universal_newlines=True,
                           timeout=30)
        self.assertIn(version, r.stdout.split())
        self.assertEqual(self.ok("--version").stdout.strip(),
                         "presencectl %s" % version)

    def test_status_skips_processes(self):
        r = self.ok("status", "--registry-metrics", "",
                    "--persister-metrics=")
        self.assertIn("gateway %s\n" % self.url(), r.stdout)
        self.assertNotIn("registry http", r.stdout)
        self.assertNotIn("persister http", r.stdout)
        doc = self.ok_json("status", "--registry-metrics", "",
                           "--persister-metrics", "")
        self.assertIsNone(doc["registry"])
        self.assertIsNone(doc["persister"])
        self.assertEqual(len(doc["gateways"]), 1)

    def test_status_wrong_metrics_urls(self):
        # nothing listens there
        port = free_port()
        r = self.fails(EXIT_CONNECT, "status", "--registry-metrics",
                       "http://127.0.0.1:%d/metrics" % port)
        self.assertIn("registry http://127.0.0.1:%d/metrics\n"
                      "  health     unreachable: cannot reach" % port,
                      r.stdout)
        self.assertIn("--registry-metrics", r.stderr)
        # the persister's port given as the registry's
        r = self.ctl("--json", "status", "--registry-metrics",
                     self.metrics_url("persister"))
        self.assertEqual(r.returncode, EXIT_CONNECT, self.show(r))
        doc = json.loads(r.stdout)
        self.assertIs(doc["ok"], False)
        self.assertIs(doc["registry"]["healthy"], False)
        self.assertEqual(doc["registry"]["error"]["exit"], EXIT_CONNECT)
        self.assertIn("not the registry's /metrics",
                      doc["registry"]["error"]["message"])
        self.assertIs(doc["persister"]["healthy"], True)
        # a path the endpoint does not serve
        r = self.fails(EXIT_CONNECT, "status", "--persister-metrics",
                       self.metrics_url("persister")[:-len("/metrics")]
                       + "/nope")
        self.assertIn("HTTP 404", r.stderr)
        self.fails(EXIT_USAGE, "status", "--registry-metrics", "ftp://x/")
        # not an option of the other commands
        self.fails(EXIT_USAGE, "online", "--registry-metrics", "")

    def test_status_counts_sessions(self):
        before = self.ok_json("status")["gateways"][0]["metrics"]
        self.connect(uid("s"))
        after = self.ok_json("status")["gateways"][0]["metrics"]
        self.assertEqual(after["presence_gateway_sessions"],
                         before["presence_gateway_sessions"] + 1)

    def test_threads_members(self):
        t, a, b, c = uid("t"), uid("a"), uid("b"), uid("c")
        r = self.ok("threads", t, "members", "set", a, b)
        self.assertEqual(sorted(r.stdout.split()), sorted([a, b]))
        self.assertIn("thread %s: 2 members" % t, r.stderr)
        doc = self.ok_json("threads", t, "members", "add", c)
        self.assertEqual(doc["thread_id"], t)
        self.assertEqual(sorted(doc["user_ids"]), sorted([a, b, c]))
        doc = self.ok_json("threads", t, "members", "rm", a, c)
        self.assertEqual(doc["user_ids"], [b])
        self.assertEqual(self.ok("threads", t, "members").stdout.split(), [b])
        r = self.sys.http("GET", "/v1/threads/%s/members" % q(t))
        self.assertEqual(r.json["user_ids"], [b])
        doc = self.ok_json("threads", t, "members", "set")
        self.assertEqual(doc, {"thread_id": t, "user_ids": []})

    def test_online(self):
        t, a, b, off = uid("t"), uid("a"), uid("b"), uid("off")
        self.sys.put_members(t, [a, b, off])
        self.connect(a)
        self.connect(b, gw=1)
        r = self.ok("online")
        self.assertIn(a, r.stdout.split())
        self.assertIn(b, r.stdout.split())
        doc = self.ok_json("online", "--thread", t)
        self.assertEqual(doc["thread_id"], t)
        self.assertEqual(sorted(doc["online_users"]), sorted([a, b]))
        r = self.ok("online", "--thread", t)
        self.assertEqual(sorted(r.stdout.split()), sorted([a, b]))
        self.assertIn("2 online in thread %s" % t, r.stderr)
        self.assertIsNone(self.ok_json("online")["thread_id"])

    def test_query(self):
        a, never = uid("a"), uid("never")
        self.connect(a, status="dnd", text="in a meeting")
        r = self.ok("query", a, never)
        lines = {l.split()[0]: l for l in r.stdout.splitlines()}
        self.assertIn("dnd", lines[a].split())
        self.assertIn('"in a meeting"', lines[a])
        self.assertIn("since", lines[a])
        self.assertIn("offline", lines[never].split())
        self.assertIn("never seen", lines[never])
        doc = self.ok_json("query", a, never)
        users = {u["user_id"]: u for u in doc["users"]}
        self.assertPresence(users[a], a, status="dnd", text="in a meeting")
        self.assertPresence(users[never], never, status="offline",
                            last_seen=None)

    def test_user(self):
        a = uid("a")
        c = self.connect(a, device="phone", status="away", text="lunch")
        r = self.ok("user", a)
        first = r.stdout.splitlines()[0]
        self.assertEqual(first.split()[:2], [a, "away"], r.stdout)
        self.assertIn('"lunch"', first)
        self.assertIn("sessions: 1", r.stdout)
        self.assertIn(c.session_id, r.stdout)
        self.assertIn("device phone", r.stdout)
        self.assertIn("history: ", r.stdout)
        doc = self.ok_json("user", a, "--limit", "5")
        self.assertEqual(doc["user_id"], a)
        self.assertIs(doc["known"], True)
        self.assertNotIn("errors", doc)
        self.assertPresence(doc["presence"], a, status="away", text="lunch")
        self.assertEqual([s["session_id"] for s in doc["sessions"]],
                         [c.session_id])
        self.assertEqual(doc["sessions"][0]["device"], "phone")
        self.assertIsInstance(doc["history"], list)
        self.assertLessEqual(len(doc["history"]), 5)
        # the history is read through the persister: wait for the change
        deadline = time.monotonic() + WAIT
        while not self.ok_json("user", a)["history"]:
            self.assertLess(time.monotonic(), deadline, "no history")
            time.sleep(0.1)
        h = self.ok_json("user", a)["history"][0]
        self.assertEqual(h["status"], "away")

    def test_user_unknown(self):
        x = uid("nobody")
        r = self.fails(EXIT_NOT_FOUND, "user", x)
        self.assertIn("unknown", r.stderr)
        self.assertIn("never seen", r.stdout)
        r = self.ctl("--json", "user", x)
        self.assertEqual(r.returncode, EXIT_NOT_FOUND, self.show(r))
        doc = json.loads(r.stdout)
        self.assertIs(doc["known"], False)
        self.assertEqual(doc["sessions"], [])
        self.assertEqual(doc["history"], [])

    def test_kick(self):
        a, w = uid("a"), uid("w")
        t = uid("t")
        self.sys.put_members(t, [a, w])
        wc = self.connect(w)
        c1 = self.connect(a)
        c2 = self.connect(a, gw=1)
        wc.expect_presence(a, "online")
        r = self.ok("kick", a)
        self.assertEqual(r.stdout.strip(), "%s: ended 2 sessions" % a)
        c1.expect_close(4001)
        c2.expect_close(4001)
        wc.expect_presence(a, "offline")
        doc = self.ok_json("kick", a)
        self.assertEqual(doc, {"user_id": a, "ended": 0})

    def test_watch_prints_events_and_stops_on_sigint(self):
        a = uid("a")
        p, out, err = self.watch(a)
        line = out.expect(lambda l: a in l, what="the initial state")
        self.assertTrue(line.startswith("now "), line)
        self.assertIn("offline", line.split())
        err.expect(lambda l: l.startswith("watching 1 user"))
        c = self.connect(a, text="hi")
        out.expect(lambda l: a in l.split() and "online" in l.split()
                   and '"hi"' in l, what="online")
        self.assertOk(c.request("set_status", status="away", text="brb"))
        out.expect(lambda l: a in l.split() and "away" in l.split(),
                   what="away")
        c.bye()
        out.expect(lambda l: a in l.split() and "offline" in l.split(),
                   what="offline")
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(WAIT), EXIT_OK)

    def test_watch_json_ndjson(self):
        a, b = uid("a"), uid("b")
        p, out, err = self.watch("--json", a, b)
        initial = [json.loads(out.expect(lambda l: True)) for _ in (a, b)]
        self.assertEqual(sorted(m["user_id"] for m in initial), sorted([a, b]))
        for m in initial:
            self.assertIs(m["initial"], True)
            self.assertEqual(m["type"], "presence")
            self.assertPresence({k: v for k, v in m.items()
                                 if k not in ("type", "initial")})
        # the watcher's session exists once the initial state is printed
        c = self.connect(b)
        m = json.loads(out.expect(lambda l: True, what="an event"))
        self.assertEqual(m["type"], "presence")
        self.assertNotIn("initial", m)
        self.assertPresence({k: v for k, v in m.items() if k != "type"}, b,
                            status="online")
        c.bye()
        m = json.loads(out.expect(lambda l: True, what="an event"))
        self.assertEqual((m["user_id"], m["status"]), (b, "offline"))
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(WAIT), EXIT_OK)
        self.assertEqual(out.rest(), [])

    def test_watch_kicked_watcher_exits_2(self):
        me = uid("ops")
        p = subprocess.Popen([ctl_bin(), "--url", self.url(), "watch",
                              "--as", me, uid("x")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True)
        self.addCleanup(self._reap, p)
        err = Lines(p.stderr)
        err.expect(lambda l: l.startswith("watching"))
        self.ok("kick", me)
        self.assertEqual(p.wait(WAIT), EXIT_CONNECT)
        err.expect(lambda l: "4001" in l and "kicked" in l)

    def test_wrong_url(self):
        port = free_port()  # nothing listens there
        r = self.fails(EXIT_CONNECT, "online", url="http://127.0.0.1:%d" % port)
        self.assertIn("cannot reach", r.stderr)
        self.assertIn("check --url", r.stderr)
        r = self.fails(EXIT_CONNECT, "--json", "online",
                       url="http://127.0.0.1:%d" % port)
        err = json.loads(r.stdout)["error"]
        self.assertEqual(err["exit"], EXIT_CONNECT)
        self.assertIsNone(err["status"])
        r = self.fails(EXIT_CONNECT, "status",
                       url="http://127.0.0.1:%d" % port)
        self.assertIn("health     unreachable", r.stdout)
        r = self.fails(EXIT_CONNECT, "watch", "x",
                       url="http://127.0.0.1:%d" % port)
        self.assertIn("cannot reach", r.stderr)
        # a gateway, but a path prefix that is not its API
        for cmd in (["online"], ["user", "a"], ["watch", "a"]):
            r = self.fails(EXIT_CONNECT, *cmd, url=self.url() + "/presence")
            self.assertIn("not a presence gateway", r.stderr)
        # another HTTP server
        srv = http.server.HTTPServer(("127.0.0.1", 0), _NotPresence)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        other = "http://127.0.0.1:%d" % srv.server_address[1]
        for cmd in (["online"], ["query", "a"], ["watch", "a"]):
            r = self.fails(EXIT_CONNECT, *cmd, url=other)
            self.assertIn("presence gateway", r.stderr)

    def test_status_mixed_exit_2(self):
        urls = "%s,http://127.0.0.1:%d" % (self.url(), free_port())
        r = self.fails(EXIT_CONNECT, "status", url=urls)
        self.assertIn("  ready      yes", r.stdout)
        self.assertIn("health     unreachable", r.stdout)
        doc = json.loads(self.ctl("--json", "status", url=urls).stdout)
        self.assertIs(doc["ok"], False)
        self.assertEqual([g["healthy"] for g in doc["gateways"]],
                         [True, False])

    def test_env_url(self):
        r = subprocess.run([ctl_bin(), "online"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True,
                           timeout=30,
                           env=dict(os.environ, PRESENCE_URL=self.url()))
        self.assertEqual(r.returncode, EXIT_OK, self.show(r))


class _NotPresence(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html>not here</html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


# ---------------------------------------------------------------- auth jwt

class CtlJwtTest(CtlBase):
    AUTH = "jwt"

    def test_no_token_is_unauthorized(self):
        r = self.fails(EXIT_AUTH, "online")
        self.assertIn("401", r.stderr)
        self.assertIn("--token-file", r.stderr)
        r = self.fails(EXIT_AUTH, "--json", "kick", "a")
        err = json.loads(r.stdout)["error"]
        self.assertEqual((err["exit"], err["status"], err["code"]),
                         (EXIT_AUTH, 401, "unauthorized"))

    def test_bad_tokens(self):
        forged = jwt.encode({"sub": "ops", "admin": True,
                             "exp": int(time.time()) + 3600},
                            "another-secret", algorithm="HS256")
        expired = self.sys.token("ops", admin=True, exp_in=-60)
        for tok in (forged, expired, "not-a-jwt"):
            tf = self.token_file(tok)
            r = self.fails(EXIT_AUTH, "online", token_file=tf)
            self.assertIn("refused", r.stderr)
            r = self.fails(EXIT_AUTH, "watch", "a", token_file=tf)
            self.assertIn("401", r.stderr)

    def test_user_token_on_admin_commands(self):
        tf = self.token_file(self.sys.token(uid("u")))
        for cmd in (["online"], ["kick", "a"], ["threads", "t", "members"],
                    ["user", "a"]):
            r = self.fails(EXIT_AUTH, *cmd, token_file=tf)
            self.assertIn("admin", r.stderr)
        # what a user may do
        self.ok("query", "a", token_file=tf)

    def test_admin_token(self):
        tf = self.token_file(self.sys.token("ops", admin=True))
        t, a = uid("t"), uid("a")
        self.ok("threads", t, "members", "set", a, token_file=tf)
        self.connect(a)
        self.assertIn(a, self.ok("online", token_file=tf).stdout.split())
        doc = self.ok_json("user", a, token_file=tf)
        self.assertEqual(len(doc["sessions"]), 1)
        doc = self.ok_json("status", token_file=tf)
        self.assertEqual(doc["gateways"][0]["persister"], "ok")
        self.assertIs(doc["registry"]["ready"], True)
        self.assertIs(doc["persister"]["ready"], True)
        env = {"PRESENCE_TOKEN_FILE": tf}
        r = subprocess.run([ctl_bin(), "--url", self.url(), "online"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=30,
                           env=dict(os.environ, **env))
        self.assertEqual(r.returncode, EXIT_OK, self.show(r))

    def test_status_without_admin_token(self):
        r = self.ok("status")
        self.assertIn("  ready      yes", r.stdout)
        self.assertIn("  persister  not checked", r.stdout)
        doc = self.ok_json("status")
        self.assertEqual(doc["gateways"][0]["persister"], "unchecked")

    def test_watch_with_a_user_token(self):
        me, a = uid("ops"), uid("a")
        tf = self.token_file(self.sys.token(me))
        p, out, err = self.watch(a, token_file=tf)
        err.expect(lambda l: l.startswith("watching"))
        self.connect(a)
        out.expect(lambda l: a in l.split() and "online" in l.split())
        # the watcher is a session of the token's user
        r = self.sys.http("GET", "/v1/users/%s/sessions" % q(me), admin=True)
        self.assertEqual([s["device"] for s in r.json["sessions"]],
                         ["presencectl"])
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(WAIT), EXIT_OK)


# ---------------------------------------------------------------- outages

class CtlOutageTest(CtlBase):
    AUTH = "none"
    PER_TEST = True

    def test_registry_down(self):
        a = uid("a")
        self.connect(a)
        self.sys.kill_registry()
        # the registry's own port: unreachable at once
        r = self.fails(EXIT_CONNECT, "status")
        self.assertIn("registry %s\n  health     unreachable: cannot reach"
                      % self.metrics_url("registry"), r.stdout)
        # the gateway notices the loss of its registry (what the gateway
        # sees alone: --registry-metrics '')
        deadline = time.monotonic() + WAIT
        while self.ctl("status", "--registry-metrics", "").returncode != \
                EXIT_UNAVAILABLE:
            self.assertLess(time.monotonic(), deadline, "still ready")
            time.sleep(0.1)
        r = self.fails(EXIT_UNAVAILABLE, "status", "--registry-metrics", "")
        self.assertIn("  ready      no: ", r.stdout)
        self.assertIn("  registry   unreachable or loading", r.stdout)
        doc = json.loads(self.ctl("--json", "status").stdout)
        self.assertIs(doc["ok"], False)
        self.assertIs(doc["gateways"][0]["ready"], False)
        self.assertIs(doc["registry"]["healthy"], False)
        self.assertEqual(doc["registry"]["error"]["exit"], EXIT_CONNECT)
        for cmd in (["online"], ["query", a], ["kick", a],
                    ["threads", "t", "members"]):
            r = self.fails(EXIT_UNAVAILABLE, *cmd)
            self.assertIn("503", r.stderr)
            self.assertIn("registry", r.stderr)
        r = self.fails(EXIT_UNAVAILABLE, "user", a)
        r = self.fails(EXIT_UNAVAILABLE, "watch", a)
        self.assertIn("unavailable", r.stderr)
        self.sys.start_registry()
        self.sys.wait_serving()
        self.ok("status")
        self.ok("online")

    def test_persister_down(self):
        a = uid("a")
        self.connect(a, status="away")
        before = self.ok_json("status")["persister"]
        self.sys.kill_persister()
        # its own port: unreachable (a process down, as a gateway down)
        r = self.fails(EXIT_CONNECT, "status")
        self.assertIn("  ready      yes", r.stdout)
        self.assertIn("  persister  unavailable", r.stdout)
        self.assertIn("persister %s\n  health     unreachable: cannot reach"
                      % self.metrics_url("persister"), r.stdout)
        self.assertIn("registry %s\n  health     ok\n"
                      % self.metrics_url("registry"), r.stdout)
        r = self.ctl("--json", "status")
        self.assertEqual(r.returncode, EXIT_CONNECT, self.show(r))
        doc = json.loads(r.stdout)
        self.assertIs(doc["ok"], False)
        self.assertEqual(doc["gateways"][0]["persister"], "unavailable")
        pst = doc["persister"]
        self.assertIs(pst["healthy"], False)
        self.assertIs(pst["ready"], False)
        self.assertEqual(pst["error"]["exit"], EXIT_CONNECT)
        self.assertIsNone(pst["error"]["status"])
        self.assertEqual(pst["url"], self.metrics_url("persister"))
        self.assertIsNone(pst["version"])
        self.assertIsNone(pst["uptime_seconds"])
        self.assertIs(doc["registry"]["healthy"], True)
        # without the persister's port: what the gateway sees (exit 5)
        r = self.fails(EXIT_UNAVAILABLE, "status", "--persister-metrics", "")
        self.assertIn("  persister  unavailable", r.stdout)
        # user: presence and sessions still print; history is unavailable
        r = self.ctl("--json", "user", a)
        self.assertEqual(r.returncode, EXIT_UNAVAILABLE, self.show(r))
        doc = json.loads(r.stdout)
        self.assertEqual(doc["presence"]["status"], "away")
        self.assertEqual(len(doc["sessions"]), 1)
        self.assertIsNone(doc["history"])
        self.assertEqual(doc["errors"]["history"]["status"], 503)
        self.sys.start_persister()
        # back: every process healthy and ready again, the persister a new
        # process (a later start)
        deadline = time.monotonic() + WAIT
        while self.ctl("status").returncode != EXIT_OK:
            self.assertLess(time.monotonic(), deadline,
                            self.show(self.ctl("status")))
            time.sleep(0.1)
        after = self.ok_json("status")["persister"]
        self.assertIs(after["ready"], True)
        self.assertEqual(after["version"], project_version())
        key = "presence_persister_start_time_seconds"
        self.assertGreater(after["metrics"][key], before["metrics"][key])

    def test_registry_loading_is_not_ready(self):
        # a registry restarted while the persister is away cannot load its
        # state: it answers on its port, but is not ready (exit 5 once the
        # persister's port is left out)
        self.sys.kill_persister()
        self.sys.kill_registry()
        self.sys.start_registry()
        deadline = time.monotonic() + WAIT
        while True:
            r = self.ctl("--json", "status", "--persister-metrics", "")
            reg = json.loads(r.stdout)["registry"]
            if reg["healthy"]:
                break
            self.assertLess(time.monotonic(), deadline, self.show(r))
            time.sleep(0.1)
        self.assertEqual(r.returncode, EXIT_UNAVAILABLE, self.show(r))
        self.assertIs(reg["ready"], False)
        self.assertIn("loading", reg["ready_message"])
        self.assertEqual(reg["metrics"]["presence_registry_ready"], 0)
        self.assertEqual(reg["version"], project_version())
        r = self.fails(EXIT_UNAVAILABLE, "status", "--persister-metrics", "")
        self.assertIn("registry %s\n  health     ok\n  ready      no: "
                      "loading" % self.metrics_url("registry"), r.stdout)
        self.assertIn("not ready", r.stderr)
        # and the persister down still counts first: exit 2
        self.fails(EXIT_CONNECT, "status")
        self.sys.start_persister()
        self.sys.wait_serving()
        deadline = time.monotonic() + WAIT
        while self.ctl("status").returncode != EXIT_OK:
            self.assertLess(time.monotonic(), deadline,
                            self.show(self.ctl("status")))
            time.sleep(0.1)


if __name__ == "__main__":
    unittest.main()
