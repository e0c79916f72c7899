"""Integration test harness: runs the real daemons against a real PostgreSQL.

A System is one complete installation in a temp dir: its own database
(CREATE DATABASE t_<random> on the shared throwaway cluster), one
presence-persister, one presence-registry and N presence-gateways talking over
ipc:// sockets in the temp dir, each gateway on a free loopback HTTP port
(which also serves its /metrics); the registry and the persister serve
/metrics on free loopback ports of their own (registry_metrics_port,
persister_metrics_port), so that parallel Systems never collide.
Clients are real WebSocket connections (python3-websocket) and real HTTP
requests (http.client).

Environment:
  PRS_GATEWAY_BIN, PRS_REGISTRY_BIN, PRS_PERSISTER_BIN  the daemons (required)
  PRS_DATABASE_URL  libpq URL of the shared cluster (its dbname is swapped per
                    System); if unset, `scripts/lib/pg.sh url $PRS_PG_DIR`
  PRS_IT_READY_TIMEOUT  seconds to wait for readiness (default 20)
  PRS_IT_KEEP=1     keep temp dirs and databases (for debugging)

Only Debian packages: python3-websocket, python3-psycopg2, python3-jwt, and
the standard library. Nothing here sleeps a fixed time waiting for readiness:
it polls, bounded, and fails with the daemons' logs.
"""

import ctypes
import http.client
import json
import os
import random
import secrets
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

import jwt
import psycopg2
import websocket

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
READY_TIMEOUT = float(os.environ.get("PRS_IT_READY_TIMEOUT", "20"))
KEEP = os.environ.get("PRS_IT_KEEP") == "1"

# Default wait for something that must happen (generous: sanitizer builds on
# two cores are slow; this bounds a failure, it asserts nothing about speed).
WAIT = 10.0

STATUSES = ("online", "away", "dnd", "offline", "invisible")


def uid(prefix="u"):
    """A fresh id, so tests sharing a System never see each other."""
    return "%s-%s" % (prefix, secrets.token_hex(4))


def now_ms():
    return int(time.time() * 1000)


# ---------------------------------------------------------------- processes

_libc = None


def _pdeathsig():
    # Runs in the child before exec: die with the test runner (ctest kills
    # the runner on timeout; no daemon may outlive it).
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


_all_procs = []


def _kill_all_at_exit():
    for p in _all_procs:
        p.kill_hard()


import atexit  # noqa: E402

atexit.register(_kill_all_at_exit)


class Proc:
    """One daemon: its argv, its log file (stdout and stderr), its Popen.
    env: variables set for this daemon over the inherited environment."""

    def __init__(self, name, argv, logpath, cwd, env=None):
        self.name = name
        self.argv = argv
        self.logpath = logpath
        self.cwd = cwd
        self.env = dict(env or {})
        self.popen = None
        self.expected_exit = False

    def start(self):
        # O_APPEND: markers written by the harness interleave cleanly.
        with open(self.logpath, "ab") as log:
            log.write(("=== start %s: %s\n" % (
                time.strftime("%H:%M:%S"), " ".join(self.argv))).encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=self.cwd,
                env=dict(os.environ, **self.env) if self.env else None,
                preexec_fn=_pdeathsig, close_fds=True)
        self.expected_exit = False
        _all_procs.append(self)

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def returncode(self):
        return None if self.popen is None else self.popen.poll()

    def signal(self, sig):
        self.expected_exit = True
        if self.alive():
            try:
                self.popen.send_signal(sig)
            except ProcessLookupError:
                pass

    def kill_hard(self):
        if self.popen is not None and self.popen.poll() is None:
            try:
                self.popen.kill()
                self.popen.wait(5)
            except Exception:
                pass

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL after timeout. Returns the exit code."""
        if self.popen is None:
            return None
        self.expected_exit = True
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill_hard()
        if self in _all_procs:
            _all_procs.remove(self)
        return self.popen.poll()

    def kill(self):
        """SIGKILL and reap."""
        self.expected_exit = True
        self.kill_hard()
        if self in _all_procs:
            _all_procs.remove(self)

    def mark(self, text):
        try:
            with open(self.logpath, "ab") as log:
                log.write(("=== %s %s\n" % (time.strftime("%H:%M:%S"),
                                           text)).encode())
        except OSError:
            pass

    def tail(self, n=40, since=None):
        """The last n lines, or with since: the lines from the last one
        containing since on (at most 3n)."""
        try:
            with open(self.logpath, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError as e:
            return "(no log: %s)" % e
        if since is not None:
            for i in range(len(lines) - 1, -1, -1):
                if since in lines[i]:
                    return "\n".join(lines[i:][-3 * n:])
        return "\n".join(lines[-n:])


_taken_ports = set()


def _port_range():
    """Ports below the kernel's ephemeral range: a port picked there and
    bound a moment later by a daemon cannot meanwhile become the source
    port of some outgoing connection (which made a gateway fail with
    "Address already in use" now and then)."""
    lo, hi = 32768, 60999
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split()[:2])
    except (OSError, ValueError):
        pass
    if lo > 12000:
        return 10000, lo - 1
    if hi < 63000:
        return hi + 1, 65535
    return 20000, 59999  # all ephemeral: the old way, racy


def free_port():
    """A currently free loopback port, at random outside the ephemeral
    range (_port_range)."""
    lo, hi = _port_range()
    for _ in range(500):
        port = random.randint(lo, hi)
        if port in _taken_ports:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        _taken_ports.add(port)
        return port
    raise RuntimeError("no free port found")


# ---------------------------------------------------------------- database

def base_database_url():
    url = os.environ.get("PRS_DATABASE_URL")
    if url:
        return url
    pgdir = os.environ.get("PRS_PG_DIR")
    if not pgdir:
        raise RuntimeError(
            "set PRS_DATABASE_URL or PRS_PG_DIR (scripts/lib/pg.sh start DIR)")
    out = subprocess.run(
        ["bash", os.path.join(REPO, "scripts", "lib", "pg.sh"), "url", pgdir],
        check=True, stdout=subprocess.PIPE, universal_newlines=True)
    return out.stdout.strip()


def with_dbname(url, dbname):
    """The same server and user, another database."""
    if url.startswith(("postgresql://", "postgres://")):
        # By hand: urlunsplit drops the empty authority of "postgresql:///".
        parts = urllib.parse.urlsplit(url)
        out = "%s://%s/%s" % (parts.scheme, parts.netloc, dbname)
        return out + ("?" + parts.query if parts.query else "")
    return psycopg2.extensions.make_dsn(url, dbname=dbname)


def to_ms(v):
    """A timestamp as stored (timestamptz, or an integer in s/ms/us) → ms."""
    if v is None:
        return None
    if hasattr(v, "timestamp"):
        return int(v.timestamp() * 1000)
    v = int(v)
    if v < 10**11:
        return v * 1000
    if v > 10**14:
        return v // 1000
    return v


# ---------------------------------------------------------------- HTTP

class Resp:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.text = raw.decode("utf-8", "replace")
        try:
            self.json = json.loads(self.text) if raw else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<HTTP %d %s>" % (self.status, self.text[:300])


def http_request(port, method, path, body=None, headers=None, timeout=5.0,
                 host="127.0.0.1"):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()},
                    r.read())
    finally:
        conn.close()


# ---------------------------------------------------------------- system

class Gateway:
    def __init__(self, name, port, proc, host="127.0.0.1"):
        self.name = name
        self.port = port
        self.proc = proc
        self.host = host  # where clients reach its HTTP port


class System:
    """One complete presence installation in a temp dir, with its own DB.
    gateway_env: variables set for every gateway over the inherited
    environment (Proc.env). gateway_args_each: {k: [args]} added to the
    argv of gateway k (0-based) only."""

    def __init__(self, grace_ms=1200, gateways=1, auth="none",
                 registry_args=(), gateway_args=(), persister_args=(),
                 gateway_env=None, gateway_args_each=None):
        self.grace_ms = grace_ms
        self.ngateways = gateways
        self.auth = auth
        self.registry_args = list(registry_args)
        self.gateway_args = list(gateway_args)
        self.persister_args = list(persister_args)
        self.gateway_env = dict(gateway_env or {})
        self.gateway_args_each = dict(gateway_args_each or {})
        self.tmp = None
        self.db_name = None
        self.db_url = None
        self.base_url = None
        self.persister = None
        self.registry = None
        self.gateways = []
        self.jwt_secret = None
        self.jwt_secret_file = None
        self._gen = 0
        self.registry_metrics_port = free_port()
        self.persister_metrics_port = free_port()

    # -- binaries and paths

    @staticmethod
    def _bin(var):
        path = os.environ.get(var)
        if not path:
            # An error, not a skip: under ctest a skip would pass silently.
            raise RuntimeError("%s is not set (see harness.py)" % var)
        if not os.access(path, os.X_OK):
            raise RuntimeError("%s=%s is not an executable" % (var, path))
        return path

    def ipc(self, name):
        return "ipc://" + os.path.join(self.tmp, name)

    # -- lifecycle

    def start(self):
        gw_bin = self._bin("PRS_GATEWAY_BIN")
        reg_bin = self._bin("PRS_REGISTRY_BIN")
        pst_bin = self._bin("PRS_PERSISTER_BIN")
        self.tmp = tempfile.mkdtemp(prefix="prs-it-")
        try:
            self._create_db()
            if self.auth == "jwt":
                self.jwt_secret = secrets.token_hex(32)
                self.jwt_secret_file = os.path.join(self.tmp, "jwt.secret")
                with open(self.jwt_secret_file, "w") as f:
                    f.write(self.jwt_secret)
            self.persister = Proc("persister", [
                pst_bin, "--url", self.ipc("persister.sock"),
                "--registry-url", self.ipc("registry.sock"),
                "--database-url", self.db_url,
                "--metrics-address",
                "127.0.0.1:%d" % self.persister_metrics_port]
                + self.persister_args,
                os.path.join(self.tmp, "persister.log"), self.tmp)
            self.registry = self._registry_proc(reg_bin)
            for k in range(self.ngateways):
                name = "gw%d" % (k + 1)
                port = free_port()
                argv = [gw_bin, "--name", name,
                        "--url", self.ipc("gateway-%s.sock" % name),
                        "--registry-url", self.ipc("registry.sock"),
                        "--http-host", "127.0.0.1",
                        "--http-port", str(port),
                        "--auth-mode", self.auth]
                if self.auth == "jwt":
                    argv += ["--jwt-secret-file", self.jwt_secret_file]
                # the SDK and the pages from the source tree
                argv += ["--web-root", os.path.join(REPO, "web") + ":" +
                         os.path.join(REPO, "clients", "js")]
                argv += self.gateway_args
                argv += list(self.gateway_args_each.get(k, ()))
                self.gateways.append(Gateway(name, port, Proc(
                    name, argv, os.path.join(self.tmp, name + ".log"),
                    self.tmp, env=self.gateway_env)))
            self.persister.start()
            self.registry.start()
            for g in self.gateways:
                g.proc.start()
            self.wait_ready()
        except BaseException:
            self.stop(failed=True)
            raise
        return self

    def _registry_proc(self, reg_bin=None):
        reg_bin = reg_bin or self._bin("PRS_REGISTRY_BIN")
        return Proc("registry", [
            reg_bin, "--url", self.ipc("registry.sock"),
            "--persister-url", self.ipc("persister.sock"),
            "--offline-grace-ms", str(self.grace_ms),
            "--metrics-address",
            "127.0.0.1:%d" % self.registry_metrics_port] + self.registry_args,
            os.path.join(self.tmp, "registry.log"), self.tmp)

    def procs(self):
        out = [p for p in (self.persister, self.registry) if p is not None]
        return out + [g.proc for g in self.gateways]

    def stop(self, failed=False):
        """Stops everything (gateways first, SIGTERM then SIGKILL), drops
        the database, removes the temp dir (kept after a failure). Returns
        a description of each daemon that did not stop cleanly on SIGTERM
        (exit status other than 0 or killed by that SIGTERM; sanitizer
        reports at exit land here), or "" when all did."""
        problems = []
        for c in list(_open_clients):
            if c.system is self:
                c.shutdown()
        for p in reversed(self.procs()):
            running = p.alive() and not p.expected_exit
            t0 = time.monotonic()
            rc = p.stop()
            if running and rc not in (0, -signal.SIGTERM):
                problems.append("%s: exit status %s %.1f s after SIGTERM\n%s"
                                % (p.name, rc, time.monotonic() - t0,
                                   p.tail(30)))
        self._drop_db()
        if self.tmp and not KEEP and not failed and not problems:
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif self.tmp:
            sys.stderr.write("harness: kept %s\n" % self.tmp)
        return "\n".join(problems)

    # -- database

    def _create_db(self):
        self.base_url = base_database_url()
        self.db_name = "t_" + secrets.token_hex(6)
        self.db_url = with_dbname(self.base_url, self.db_name)
        conn = psycopg2.connect(self.base_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("CREATE DATABASE " + self.db_name)
        finally:
            conn.close()

    def _drop_db(self):
        if not self.db_name or KEEP:
            return
        try:
            conn = psycopg2.connect(self.base_url)
            try:
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)"
                                % self.db_name)
            finally:
                conn.close()
        except Exception as e:
            sys.stderr.write("harness: dropping %s: %s\n" % (self.db_name, e))
        self.db_name = None

    def sql(self, query, args=None):
        """Runs one query on this System's database; returns all rows as
        dicts (empty list for statements without a result)."""
        conn = psycopg2.connect(self.db_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(query, args)
                if cur.description is None:
                    return []
                cols = [d[0] for d in cur.description]
                return [dict(zip(cols, row)) for row in cur.fetchall()]
        finally:
            conn.close()

    def table_exists(self, name):
        rows = self.sql("SELECT to_regclass(%s) AS t", (name,))
        return rows[0]["t"] is not None

    # -- readiness

    def check_alive(self):
        """Raises with the logs if a daemon that should run has exited."""
        for p in self.procs():
            if p.popen is not None and not p.expected_exit and not p.alive():
                raise AssertionError(
                    "%s exited with status %s\n%s" %
                    (p.name, p.returncode(), self.logs()))

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Polls GET /readyz on every gateway until all answer 200."""
        deadline = time.monotonic() + timeout
        pending = list(self.gateways)
        last = {}
        while pending:
            self.check_alive()
            for g in list(pending):
                try:
                    r = http_request(g.port, "GET", "/readyz", timeout=1.0,
                                     host=g.host)
                    last[g.name] = r.status
                    if r.status == 200:
                        pending.remove(g)
                except (OSError, http.client.HTTPException) as e:
                    last[g.name] = repr(e)
            if not pending:
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    "not ready after %.0f s (last /readyz: %r)\n%s" %
                    (timeout, last, self.logs()))
            time.sleep(0.05)

    def wait_serving(self, timeout=30.0):
        """After a registry restart: readyz 200 everywhere, then a request
        that needs the registry answers 200 on every gateway."""
        deadline = time.monotonic() + timeout
        self.wait_ready(timeout)
        for g in self.gateways:
            while True:
                self.check_alive()
                try:
                    r = self.http("GET", "/v1/online", gw=self.gateways.index(g),
                                  admin=True, timeout=3.0)
                    if r.status == 200:
                        break
                    last = r
                except (OSError, http.client.HTTPException) as e:
                    last = e
                if time.monotonic() > deadline:
                    raise AssertionError(
                        "registry not serving after %.0f s (last: %r)\n%s"
                        % (timeout, last, self.logs()))
                time.sleep(0.1)

    # -- registry restarts

    def kill_registry(self, sig=signal.SIGKILL):
        """Signals the registry and waits for it to exit; returns its exit
        status."""
        self.registry.mark("test sends signal %d" % sig)
        if sig == signal.SIGKILL:
            self.registry.kill()
        else:
            self.registry.signal(sig)
            try:
                self.registry.popen.wait(15)
            except subprocess.TimeoutExpired:
                raise AssertionError("registry did not exit on signal %d\n%s"
                                     % (sig, self.logs()))
        return self.registry.returncode()

    def start_registry(self):
        self.registry = self._registry_proc()
        self.registry.start()

    def kill_persister(self, sig=signal.SIGKILL):
        self.persister.mark("test sends signal %d" % sig)
        if sig == signal.SIGKILL:
            self.persister.kill()
        else:
            self.persister.signal(sig)
            self.persister.popen.wait(15)

    def start_persister(self):
        old = self.persister
        self.persister = Proc(old.name, old.argv, old.logpath, old.cwd,
                              env=old.env)
        self.persister.start()

    def kill_gateway(self, k, sig=signal.SIGKILL):
        g = self.gateways[k]
        g.proc.mark("test sends signal %d" % sig)
        if sig == signal.SIGKILL:
            g.proc.kill()
        else:
            g.proc.signal(sig)
            g.proc.popen.wait(15)

    # -- logs

    def mark(self, text):
        for p in self.procs():
            p.mark(text)

    def logs(self, n=40, since=None):
        out = []
        for p in self.procs():
            out.append("----- %s (pid %s, %s) %s -----\n%s" % (
                p.name, p.pid,
                "running" if p.alive() else "exit %s" % p.returncode(),
                p.logpath, p.tail(n, since)))
        return "\n".join(out)

    # -- auth

    def token(self, sub, admin=None, exp_in=3600, **claims):
        """A valid HS256 token for this System's secret."""
        payload = {"sub": sub, "exp": int(time.time()) + exp_in}
        if admin is not None:
            payload["admin"] = admin
        payload.update(claims)
        return jwt.encode(payload, self.jwt_secret, algorithm="HS256")

    # -- HTTP

    def port(self, gw=0):
        return self.gateways[gw].port

    def http(self, method, path, body=None, gw=0, user=None, token=None,
             admin=False, headers=None, timeout=5.0):
        """An HTTP request to gateway gw. Auth none: ?user_id=user is added
        when user is given. Auth jwt: a bearer token (token, or one made for
        user, or an admin token when admin=True)."""
        hdrs = dict(headers or {})
        if self.auth == "jwt":
            if token is None and (user is not None or admin):
                token = self.token(user or "it-admin",
                                   admin=True if admin else None)
            if token is not None:
                hdrs["Authorization"] = "Bearer " + token
        elif user is not None:
            sep = "&" if "?" in path else "?"
            path += sep + "user_id=" + urllib.parse.quote(user, safe="")
        return http_request(self.port(gw), method, path, body, hdrs, timeout,
                            host=self.gateways[gw].host)

    def put_members(self, thread, users, gw=0):
        r = self.http("PUT", "/v1/threads/%s/members" % q(thread),
                      {"user_ids": list(users)}, gw=gw, admin=True)
        if r.status // 100 != 2:
            raise AssertionError("PUT members of %s: %r" % (thread, r))
        return r

    def client(self, gw=0, **kw):
        return Client(self, gw, **kw)


def q(s):
    return urllib.parse.quote(s, safe="")


# ---------------------------------------------------------------- client

_open_clients = []


class Closed(Exception):
    pass


class Client:
    """A WebSocket client of one gateway.

    Messages that arrive while waiting for something else are kept in
    self.queue, in order, for later expect() calls; expect_nothing() fails
    on any of them that is not ignored. Ignored by default: presence events
    about the client's own user (whether a session gets its own presence is
    not specified; tests that need them expect them explicitly, which still
    works: an explicit match wins over the ignore rule). Server pings are
    answered by websocket-client and never surface.
    """

    def __init__(self, system, gw=0, path="/v1/ws", query=None, headers=None,
                 subprotocols=None, connect=True, ignore_self=True):
        self.system = system
        self.gw = gw
        self.path = path
        self.query = query
        self.headers = headers
        self.subprotocols = subprotocols
        self.ignore_self = ignore_self
        self.ws = None
        self.user_id = None
        self.session_id = None
        self.queue = []
        self.closed = None  # (code, reason) once a close frame arrived
        self.pings = 0  # server pings seen (and answered)
        self._ids = 0
        if connect:
            self.connect()

    def url(self):
        u = "ws://%s:%d%s" % (self.system.gateways[self.gw].host,
                              self.system.port(self.gw), self.path)
        if self.query:
            u += "?" + urllib.parse.urlencode(self.query)
        return u

    def connect(self):
        opts = {}
        if self.headers:
            opts["header"] = ["%s: %s" % kv for kv in self.headers.items()]
        if self.subprotocols:
            opts["subprotocols"] = self.subprotocols
        self.ws = websocket.create_connection(self.url(), timeout=WAIT,
                                              **opts)
        _open_clients.append(self)
        return self

    def __repr__(self):
        return "<Client %s gw%d>" % (self.user_id, self.gw + 1)

    # -- sending

    def send(self, msg):
        """Sends a dict as JSON, or a str as is."""
        self.ws.send(msg if isinstance(msg, str) else json.dumps(msg))

    def next_id(self):
        self._ids += 1
        return "r%d" % self._ids

    def request(self, mtype, timeout=WAIT, **fields):
        """Sends {"type": mtype, "id": <fresh>, **fields} and returns the
        reply carrying that id (whatever its type)."""
        rid = self.next_id()
        msg = {"type": mtype, "id": rid}
        msg.update(fields)
        self.send(msg)
        return self.expect(None, lambda m: m.get("id") == rid, timeout,
                           what="reply to %s id %s" % (mtype, rid))

    def hello(self, user_id=None, timeout=WAIT, **fields):
        """Sends hello; returns the welcome (fails on anything else)."""
        msg = {"type": "hello"}
        if user_id is not None:
            msg["user_id"] = user_id
        msg.update({k: v for k, v in fields.items() if v is not None})
        self.send(msg)
        m = self.expect(("welcome", "error"), None, timeout, what="welcome")
        if m["type"] != "welcome":
            raise AssertionError("hello answered with %r" % m)
        self.user_id = m.get("user_id")
        self.session_id = m.get("session_id")
        return m

    # -- receiving

    def _recv(self, timeout):
        """One message (dict), or None on timeout. Raises Closed when the
        server closed (self.closed holds code and reason)."""
        if self.closed is not None:
            raise Closed("closed %r" % (self.closed,))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.ws.settimeout(left)
            try:
                op, frame = self.ws.recv_data_frame(True)
            except websocket.WebSocketTimeoutException:
                return None
            except (websocket.WebSocketConnectionClosedException,
                    ConnectionError, OSError) as e:
                self.closed = (None, "connection lost: %r" % e)
                raise Closed("connection lost without a close frame: %r" % e)
            if op == websocket.ABNF.OPCODE_CLOSE:
                data = frame.data or b""
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 \
                    else None
                self.closed = (code, data[2:].decode("utf-8", "replace"))
                raise Closed("closed %r" % (self.closed,))
            if op == websocket.ABNF.OPCODE_PING:
                self.pings += 1  # websocket-client has answered it
                continue
            if op == websocket.ABNF.OPCODE_PONG:
                continue
            if op == websocket.ABNF.OPCODE_BINARY:
                raise AssertionError("server sent a binary frame: %r" % frame)
            text = frame.data.decode("utf-8") if isinstance(
                frame.data, bytes) else frame.data
            try:
                m = json.loads(text)
            except ValueError:
                raise AssertionError("server sent non-JSON text: %r" % text)
            if not isinstance(m, dict) or "type" not in m:
                raise AssertionError("server sent a message without type: %r"
                                     % (m,))
            return m

    def recv(self, timeout=WAIT):
        """The next message (queued ones first, ignored ones included), or
        None after timeout. Fails if the connection closes."""
        if self.queue:
            return self.queue.pop(0)
        try:
            return self._recv(timeout)
        except Closed as e:
            raise AssertionError("%r: %s" % (self, e)) from None

    def ignored(self, m):
        return (self.ignore_self and m.get("type") == "presence"
                and self.user_id is not None
                and m.get("user_id") == self.user_id)

    @staticmethod
    def _match(m, mtype, pred):
        if mtype is not None:
            types = mtype if isinstance(mtype, tuple) else (mtype,)
            if m.get("type") not in types:
                return False
        return pred is None or bool(pred(m))

    def expect(self, mtype, pred=None, timeout=WAIT, what=None):
        """Returns the first message (queued or new) of type mtype (a str,
        a tuple of str, or None for any) for which pred holds. Messages that
        do not match are queued unless ignored. Fails after timeout."""
        for i, m in enumerate(self.queue):
            if self._match(m, mtype, pred):
                del self.queue[i]
                return m
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            try:
                m = self._recv(left) if left > 0 else None
            except Closed as e:
                raise AssertionError(
                    "%r: waiting for %s: %s (queued: %r)" %
                    (self, what or mtype, e, self.queue)) from None
            if m is None:
                raise AssertionError(
                    "%r: no %s within %.1f s; got meanwhile %r; queued %r" %
                    (self, what or mtype, timeout, seen, self.queue))
            seen.append(m)
            if self._match(m, mtype, pred):
                return m
            if not self.ignored(m):
                self.queue.append(m)

    def expect_presence(self, user, status=None, timeout=WAIT, **fields):
        """The next presence event about user; fails if it does not have the
        given status and fields (a presence event about user with other
        values arriving first is a failure, not skipped)."""
        m = self.expect("presence", lambda m: m.get("user_id") == user,
                        timeout, what="presence of %s" % user)
        if status is not None and m.get("status") != status:
            raise AssertionError("%r: presence of %s: expected status %s, "
                                 "got %r" % (self, user, status, m))
        for k, v in fields.items():
            if m.get(k) != v:
                raise AssertionError("%r: presence of %s: expected %s=%r, "
                                     "got %r" % (self, user, k, v, m))
        return m

    def expect_nothing(self, timeout, mtype=None, pred=None, what=None):
        """Fails if a message (not ignored; of type mtype and matching pred
        when given) is queued or arrives within timeout. Others are
        queued."""
        for m in self.queue:
            if self._match(m, mtype, pred):
                raise AssertionError("%r: expected no %s, but %r was queued"
                                     % (self, what or mtype or "message", m))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                m = self._recv(left)
            except Closed as e:
                raise AssertionError("%r: connection closed while expecting "
                                     "nothing: %s" % (self, e)) from None
            if m is None:
                return
            if self.ignored(m) and pred is None:
                continue
            if self._match(m, mtype, pred):
                raise AssertionError("%r: expected no %s within %.1f s, got %r"
                                     % (self, what or mtype or "message",
                                        timeout, m))
            if not self.ignored(m):
                self.queue.append(m)

    def expect_no_presence(self, user, timeout):
        self.expect_nothing(timeout, "presence",
                            lambda m: m.get("user_id") == user,
                            what="presence of %s" % user)

    def drain(self, timeout=0.2):
        """Discards queued messages and whatever arrives within timeout."""
        self.queue = []
        try:
            while self._recv(timeout) is not None:
                pass
        except Closed:
            pass

    def expect_close(self, code=None, timeout=WAIT):
        """Waits for the server's close frame; returns its code. Messages
        before it are queued. Fails on timeout, on a connection dropped
        without a close frame, or on a different code."""
        deadline = time.monotonic() + timeout
        while self.closed is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%r: no close within %.1f s (queued %r)"
                                     % (self, timeout, self.queue))
            try:
                m = self._recv(left)
            except Closed:
                break
            if m is not None and not self.ignored(m):
                self.queue.append(m)
        got = self.closed[0]
        if got is None:
            raise AssertionError("%r: %s (expected close %s)" %
                                 (self, self.closed[1], code))
        if code is not None and got != code:
            raise AssertionError("%r: expected close %s, got %r" %
                                 (self, code, self.closed))
        return got

    # -- ending

    def drop(self):
        """Closes the TCP connection without bye or close frame (as a
        network loss or a killed app would)."""
        self.shutdown()

    def close_frame(self, code=1000):
        """A clean WebSocket close, still without bye."""
        try:
            self.ws.close(status=code, timeout=2)
        except Exception:
            pass
        self.shutdown()

    def bye(self, timeout=WAIT):
        """Sends bye and waits for close 1000."""
        self.send({"type": "bye"})
        code = self.expect_close(1000, timeout)
        self.shutdown()
        return code

    def shutdown(self):
        if self.ws is not None:
            try:
                self.ws.shutdown()
            except Exception:
                pass
        if self in _open_clients:
            _open_clients.remove(self)


# ---------------------------------------------------------------- checks

def check_presence_object(tc, p, user=None):
    """Asserts the shape of a presence object (PROTOCOL.md §4)."""
    for k in ("user_id", "status", "is_online", "text", "last_seen", "since",
              "meta"):
        tc.assertIn(k, p, "presence object lacks %r: %r" % (k, p))
    if user is not None:
        tc.assertEqual(p["user_id"], user, p)
    tc.assertIn(p["status"], STATUSES, p)
    tc.assertIsInstance(p["is_online"], bool, p)
    tc.assertTrue(p["text"] is None or isinstance(p["text"], str), p)
    tc.assertTrue(p["last_seen"] is None or _is_int(p["last_seen"]), p)
    tc.assertTrue(p["since"] is None or _is_int(p["since"]), p)
    tc.assertTrue(p["meta"] is None or isinstance(p["meta"], dict), p)
    if p["status"] in ("online", "away", "dnd"):
        tc.assertTrue(p["is_online"], "visible status but not online: %r" % p)
    if p["status"] in ("offline", "invisible"):
        tc.assertFalse(p["is_online"], p)
    return p


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# ---------------------------------------------------------------- test base

class SystemTestCase(unittest.TestCase):
    """Base class: one System per class (PER_TEST = False) or per test.

    self.sys is the System; self.connect(user, ...) makes a client that has
    said hello; all clients are closed after each test; on failure the
    daemons' log tails are printed.
    """

    GRACE_MS = 1200
    GATEWAYS = 1
    AUTH = "none"
    PER_TEST = False
    REGISTRY_ARGS = ()
    GATEWAY_ARGS = ()
    GATEWAY_ENV = {}  # System(gateway_env=...)
    GATEWAY_ARGS_EACH = {}  # System(gateway_args_each=...)

    @classmethod
    def make_system(cls):
        return System(grace_ms=cls.GRACE_MS, gateways=cls.GATEWAYS,
                      auth=cls.AUTH, registry_args=cls.REGISTRY_ARGS,
                      gateway_args=cls.GATEWAY_ARGS,
                      gateway_env=cls.GATEWAY_ENV,
                      gateway_args_each=cls.GATEWAY_ARGS_EACH)

    @classmethod
    def setUpClass(cls):
        cls.sys = None
        if not cls.PER_TEST:
            cls.sys = cls.make_system().start()

    @classmethod
    def tearDownClass(cls):
        if cls.sys is not None and not cls.PER_TEST:
            problems = cls.sys.stop(failed=getattr(cls, "_any_failed", False))
            cls.sys = None
            if problems:
                raise AssertionError("unclean stop:\n" + problems)

    def setUp(self):
        if self.PER_TEST:
            self.sys = self.make_system().start()
        self.clients = []
        self.sys.mark("test %s begins" % self.id())

    def tearDown(self):
        failed = self._failed()
        died = None
        try:
            self.sys.check_alive()
        except AssertionError as e:
            died = str(e)
        for c in self.clients:
            c.shutdown()
        self.sys.mark("test %s ends%s" % (self.id(),
                                          " (failed)" if failed else ""))
        if failed and not died:
            sys.stderr.write("\n%s: daemon logs:\n%s\n" % (
                self.id(),
                self.sys.logs(since="test %s begins" % self.id())))
        if failed or died:
            type(self)._any_failed = True
        problems = ""
        if self.PER_TEST:
            problems = self.sys.stop(failed=failed or bool(died))
        if died:
            # A daemon crashed during this test: that is a failure of the
            # test whatever it asserted.
            self.fail("a daemon died during the test:\n" + died)
        if problems:
            self.fail("unclean stop:\n" + problems)

    def _failed(self):
        # During tearDown, _outcome.success only describes tearDown itself;
        # the result object already holds this test's failures (3.4+).
        result = getattr(self._outcome, "result", None)
        if result is None:
            return not self._outcome.success
        for t, _ in list(result.failures) + list(result.errors):
            if t is self or getattr(t, "test_case", None) is self:
                return True
        return not self._outcome.success

    # -- helpers for tests

    def client(self, gw=0, **kw):
        c = Client(self.sys, gw, **kw)
        self.clients.append(c)
        return c

    def connect(self, user, gw=0, client_kw=None, **hello):
        """A client of gateway gw that has said hello as user."""
        c = self.client(gw, **(client_kw or {}))
        if self.sys.auth == "jwt" and "token" not in hello:
            hello["token"] = self.sys.token(user)
            c.hello(**hello)
        else:
            c.hello(user_id=user, **hello)
        self.assertEqual(c.user_id, user)
        return c

    def grace_s(self):
        return self.sys.grace_ms / 1000.0

    def assertPresence(self, p, user=None, **fields):
        check_presence_object(self, p, user)
        for k, v in fields.items():
            self.assertEqual(p.get(k), v, "%s: %r" % (k, p))
        return p

    def assertOk(self, reply):
        self.assertEqual(reply.get("type"), "ok", reply)
        return reply

    def assertError(self, reply, code):
        self.assertEqual(reply.get("type"), "error", reply)
        self.assertEqual(reply.get("code"), code, reply)
        self.assertIsInstance(reply.get("message"), str, reply)
        return reply

    def presence_of(self, client, users):
        """query → {user_id: presence object}."""
        r = client.request("query", user_ids=list(users))
        self.assertEqual(r["type"], "presence_list", r)
        out = {}
        for p in r["users"]:
            check_presence_object(self, p)
            out[p["user_id"]] = p
        return out
