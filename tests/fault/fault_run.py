#!/usr/bin/python3
"""Fault-injection run: recovery invariant 5 of docs/DESIGN.md under chaos.

One System (tests/integration/harness.py) with two gateways. A few hundred
clients (one thread each) connect over both gateways; users share threads
(groups of GROUP users) and each client also watches a few users outside its
groups; some users have a second device. Every client changes its status
continuously (about one message per CHANGE_S seconds, far below the
gateway's 20 msg/s limit), and now and then leaves and comes back like a
real app. Meanwhile a chaos thread kills and restarts random processes:
gateways (SIGKILL, SIGTERM, SIGSTOP then SIGCONT), the registry (SIGKILL,
SIGTERM), the persister (SIGKILL, SIGTERM) and, when the cluster is ours to
stop (PRS_PG_DIR), PostgreSQL itself. Clients whose connection closes
reconnect to either gateway with a short backoff, say hello with the status
they had chosen, watch again and query their audience (a presence_list is
the start of their view; events are applied on top, in order).

When the chaos ends (bounded: --duration), everything that is down is
started, a few clients leave for good, the others make a last change, and
the run polls (bounded: grace + resync window + a margin) until

  registry view (admin POST /v1/presence/query)
    = every connected client's view of its audience
    = PostgreSQL user_presence (status, is_online; last_seen of offline users)

and the registry shows every user as the status they chose when they are
connected, offline when not. Then it prints what is left:

  ghosts        online in the registry or PostgreSQL without a live session
  lost          PostgreSQL row different from the registry view
  stale_views   a client's view of a user different from the registry's
  wrong_status  a connected user's status not the one it chose last (or
                online, when it came back through a device whose hello has
                no status after being offline), or a user who left for good
                still online
  dropped       connections closed by a gateway that was neither killed
                nor stopped while the connection lived
  crashed       daemons that exited without being told to (or unclean at
                the final stop: sanitizer reports)

and the kills by kind. Exits 1 if any count is above zero.

Run it like the integration tests (same environment: PRS_*_BIN, PRS_PG_DIR
or PRS_DATABASE_URL); see tests/fault/README.md.
"""

import argparse
import heapq
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import websocket  # noqa: E402

from harness import REPO, System, now_ms, to_ms  # noqa: E402

GROUP = 8          # users per thread
WATCHES = 3        # users watched outside one's own thread
SECOND_DEVICE = 0.1  # share of users with a second client
CHANGE_S = (1.0, 4.0)  # pause between two status changes of a client
# Some users change rarely and make no last change, so that an event one
# of their watchers missed shows as a stale view at the end instead of
# being overwritten by the next change.
SLOW_SHARE = 0.4
SLOW_CHANGE_S = (10.0, 40.0)
LEAVE_P = 0.03     # chance, per change, to leave for a while instead
LEAVE_S = (0.5, 6.0)
BACKOFF_S = (0.1, 1.0)  # first reconnect delay; doubles up to 2 s
SNAPSHOT_RETRY_S = 1.0
CHOICES = (("online", None), ("away", "brb"), ("dnd", "meeting"),
           ("online", "here"), ("invisible", None), ("away", None))
FINAL_LEAVERS = 0.05
DROP_MARGIN_S = 5.0  # a close this long after a disturbance still counts

PG_SH = os.path.join(REPO, "scripts", "lib", "pg.sh")


def mono():
    return time.monotonic()


def log(fmt, *args):
    sys.stdout.write("fault: %s %s\n" % (time.strftime("%H:%M:%S"),
                                         fmt % args))
    sys.stdout.flush()


def visible(status):
    """What others see of a chosen status."""
    return "offline" if status == "invisible" else status


# ---------------------------------------------------------------- clients

class FaultClient(threading.Thread):
    """One app instance of one user: connects, reconnects, changes status
    (primary device only), keeps its view of its audience."""

    def __init__(self, run, idx, user, audience, watches, primary):
        super().__init__(name="client-%d" % idx, daemon=True)
        self.run_ = run
        self.idx = idx
        self.user = user
        self.audience = sorted(audience)
        self.watches = sorted(watches)
        self.primary = primary
        self.rng = random.Random(run.seed * 100003 + idx)
        self.lock = threading.Lock()
        self.ws = None
        self.gw = None
        self.t_conn = None
        self.welcomed = False
        self.view = {}
        self.snapshot_id = None
        self.snapshot_ok = False
        self.next_snapshot = 0.0
        self.choice = ("online", None)
        self.away_until = 0.0  # not connected on purpose until then
        self.gone = False      # left for good
        self.stop = False
        self.slow = self.rng.random() < SLOW_SHARE
        self.period = SLOW_CHANGE_S if self.slow else CHANGE_S
        self.next_change = mono() + self.rng.uniform(*self.period)
        self.backoff = self.rng.uniform(*BACKOFF_S)
        self.ids = 0
        self.connects = 0
        self.trace = []  # (time, what): printed for a user that fails
        self.spans = []  # [connected, disconnected] (mono), None = still

    def note(self, fmt, *args):
        self.trace.append("%s %s" % (time.strftime("%H:%M:%S.") +
                                     "%03d" % (time.time() * 1000 % 1000),
                                     fmt % args))

    # -- state read by the checker

    def state(self):
        with self.lock:
            return (self.welcomed and self.ws is not None, self.snapshot_ok,
                    dict(self.view), self.choice, self.gone)

    def spans_copy(self):
        with self.lock:
            return [list(sp) for sp in self.spans]

    # -- connection

    def next_id(self):
        self.ids += 1
        return "c%d-%d" % (self.idx, self.ids)

    def send(self, msg):
        self.ws.send(json.dumps(msg))

    def connect(self):
        gws = self.run_.usable_gateways()
        if not gws:
            return False
        k = self.rng.choice(gws)
        port = self.run_.sys.port(k)
        t0 = mono()
        try:
            ws = websocket.create_connection(
                "ws://127.0.0.1:%d/v1/ws" % port, timeout=5)
        except Exception:
            return False
        with self.lock:
            self.ws, self.gw, self.t_conn = ws, k, t0
            self.spans.append([t0, None])
            self.welcomed = False
            self.snapshot_ok = False
            self.view = {}
        self.connects += 1
        hello = {"type": "hello", "user_id": self.user,
                 "device": "d%d" % self.idx}
        if self.primary:
            hello["status"] = self.choice[0]
            if self.choice[1] is not None:
                hello["text"] = self.choice[1]
        self.note("connect gw%d hello %s", k + 1, hello.get("status"))
        try:
            self.send(hello)
            if self.watches:
                self.send({"type": "watch", "id": self.next_id(),
                           "user_ids": self.watches})
        except Exception:
            self.lost(None)
            return False
        self.next_snapshot = mono()
        return True

    def lost(self, code, reason="", voluntary=False):
        """The connection ended (by the server, the network, or us)."""
        self.note("lost %s %s%s", code, reason,
                  " (voluntary)" if voluntary else "")
        with self.lock:
            ws, gw, t_conn = self.ws, self.gw, self.t_conn
            if ws is not None and self.spans and self.spans[-1][1] is None:
                self.spans[-1][1] = mono()
            self.ws = None
            self.welcomed = False
            self.snapshot_ok = False
        if ws is not None:
            try:
                ws.shutdown()
            except Exception:
                pass
        if not voluntary and gw is not None and not self.stop:
            self.run_.closed_by_server(self, gw, t_conn, mono(), code,
                                       reason)

    def leave(self, for_good=False):
        self.lost(None, voluntary=True)
        if for_good:
            with self.lock:
                self.gone = True
        else:
            self.away_until = mono() + self.rng.uniform(*LEAVE_S)

    # -- messages

    def handle(self, m):
        t = m.get("type")
        with self.lock:
            if t == "welcome":
                self.welcomed = True
                self.note("welcome")
            elif t == "presence":
                u = m.get("user_id")
                if u == self.user:
                    self.note("own %s %s", m.get("status"), m.get("text"))
                if u != self.user:
                    self.view[u] = m
            elif t == "presence_list":
                for p in m.get("users", ()):
                    if p.get("user_id") != self.user:
                        self.view[p["user_id"]] = p
                if m.get("id") == self.snapshot_id:
                    self.snapshot_ok = True
            elif t in ("ok", "error") and str(m.get("id", "")).startswith(
                    "c%d-" % self.idx):
                self.note("%s %s %s", t, m.get("id"), m.get("code", ""))
            if t == "error":
                if m.get("code") == "rate_limited":
                    self.run_.count("rate_limited")
                if m.get("id") == self.snapshot_id:
                    self.next_snapshot = mono() + SNAPSHOT_RETRY_S

    def recv_until(self, deadline):
        ws = self.ws
        while ws is not None:
            left = deadline - mono()
            if left <= 0:
                return
            ws.settimeout(left)
            try:
                op, frame = ws.recv_data_frame(True)
            except websocket.WebSocketTimeoutException:
                return
            except Exception as e:
                self.lost(None, "connection lost: %r" % (e,))
                return
            if op == websocket.ABNF.OPCODE_CLOSE:
                data = frame.data or b""
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 \
                    else None
                self.lost(code, data[2:].decode("utf-8", "replace"))
                return
            if op != websocket.ABNF.OPCODE_TEXT:
                continue
            try:
                m = json.loads(frame.data.decode("utf-8"))
            except ValueError:
                self.run_.count("bad_json")
                continue
            self.handle(m)

    def change(self):
        if self.rng.random() < LEAVE_P:
            self.leave()
            return
        if not self.primary:
            return
        choice = self.rng.choice(CHOICES)
        self.choice = choice
        msg = {"type": "set_status", "id": self.next_id(),
               "status": choice[0]}
        self.note("set_status %s %s (%s)", choice[0], choice[1], msg["id"])
        if choice[1] is not None:
            msg["text"] = choice[1]
        try:
            self.send(msg)
        except Exception:
            self.lost(None, "send failed")

    def final_change(self):
        """Called from the loop once the chaos is over."""
        if self.primary and not self.slow and self.ws is not None:
            self.change_only()

    def change_only(self):
        choice = self.rng.choice(CHOICES)
        self.choice = choice
        msg = {"type": "set_status", "id": self.next_id(),
               "status": choice[0]}
        self.note("set_status %s %s (%s)", choice[0], choice[1], msg["id"])
        if choice[1] is not None:
            msg["text"] = choice[1]
        try:
            self.send(msg)
        except Exception:
            self.lost(None, "send failed")

    def run(self):
        final_done = False
        while not self.stop:
            now = mono()
            if self.gone:
                time.sleep(0.2)
                continue
            if self.ws is None:
                if now < self.away_until:
                    time.sleep(min(0.2, self.away_until - now))
                    continue
                if not self.connect():
                    time.sleep(self.backoff)
                    self.backoff = min(2.0, self.backoff * 2)
                    continue
                self.backoff = self.rng.uniform(*BACKOFF_S)
            try:
                if not self.snapshot_ok and self.welcomed and \
                        now >= self.next_snapshot:
                    self.snapshot_id = self.next_id()
                    self.next_snapshot = now + SNAPSHOT_RETRY_S * 3
                    self.send({"type": "query", "id": self.snapshot_id,
                               "user_ids": self.audience})
                phase = self.run_.phase
                if phase == "chaos":
                    if now >= self.next_change and self.welcomed:
                        self.next_change = now + self.rng.uniform(
                            *self.period)
                        self.change()
                elif phase == "settle" and not final_done and \
                        self.welcomed:
                    final_done = True
                    if self.run_.final_leaver(self):
                        self.leave(for_good=True)
                        continue
                    self.final_change()
            except Exception as e:
                self.lost(None, "send failed: %r" % (e,))
                continue
            until = mono() + 0.25
            if self.run_.phase == "chaos":
                until = max(mono() + 0.01, min(until, self.next_change))
            self.recv_until(until)
        if self.ws is not None:
            try:
                self.ws.shutdown()
            except Exception:
                pass


# ---------------------------------------------------------------- the run

class Run:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.rng = random.Random(args.seed)
        self.sys = None
        self.clients = []
        self.phase = "setup"  # then "chaos", then "settle"
        self.lock = threading.Lock()
        self.counts = {}
        self.kills = {}
        self.dropped = []
        # Per gateway: [start, end] of every disturbance (end None while
        # it lasts): killed, stopping, hung.
        self.disturb = {0: [], 1: []}
        self.gw_down = {0: False, 1: False}
        self.gw_hung = {0: False, 1: False}
        self.crashes = []
        self.pgdir = os.environ.get("PRS_PG_DIR") if args.pg else None
        self.leavers = set()

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def usable_gateways(self):
        return [k for k in (0, 1)
                if not self.gw_down[k] and not self.gw_hung[k]]

    def final_leaver(self, c):
        return c.idx in self.leavers

    def closed_by_server(self, c, gw, t_conn, t_close, code, reason):
        with self.lock:
            for start, end in self.disturb[gw]:
                if start <= t_close and \
                        (end is None or end + DROP_MARGIN_S >= t_conn):
                    return
            self.dropped.append((c.user, gw + 1, round(t_close - t_conn, 1),
                                 code, reason))
        log("DROPPED: %s on gw%d after %.1f s: close %s %s", c.user, gw + 1,
            t_close - t_conn, code, reason)

    # -- setup

    def setup(self):
        a = self.args
        self.sys = System(
            grace_ms=a.grace_ms, gateways=2,
            registry_args=("--resync-window-ms", str(a.resync_ms)))
        self.sys.start()
        nusers = max(GROUP, int(a.clients / (1 + SECOND_DEVICE)))
        users = ["f%d-%04d" % (a.seed, i) for i in range(nusers)]
        groups = {}
        for g in range(0, nusers, GROUP):
            t = "ft%d-%03d" % (a.seed, g // GROUP)
            members = users[g:g + GROUP]
            self.sys.put_members(t, members)
            for u in members:
                groups[u] = members
        idx = 0
        for i, u in enumerate(users):
            others = [x for x in users if x not in groups[u]]
            watches = self.rng.sample(others, min(WATCHES, len(others)))
            audience = (set(groups[u]) | set(watches)) - {u}
            devices = 2 if len(self.clients) + (nusers - i) < a.clients \
                else 1
            for d in range(devices):
                self.clients.append(FaultClient(self, idx, u, audience,
                                                watches, d == 0))
                idx += 1
        self.users = users
        n = max(1, int(len(self.clients) * FINAL_LEAVERS))
        self.leavers = set(self.rng.sample(range(len(self.clients)), n))
        log("%d users, %d clients, %d threads of %d", len(users),
            len(self.clients), (nusers + GROUP - 1) // GROUP, GROUP)
        for c in self.clients:
            c.start()
        # Everyone connected and with a view before the chaos starts.
        deadline = mono() + 60
        while True:
            ready = sum(1 for c in self.clients if c.state()[1])
            if ready == len(self.clients):
                break
            if mono() > deadline:
                raise RuntimeError("only %d of %d clients connected"
                                   % (ready, len(self.clients)))
            self.check_daemons()
            time.sleep(0.2)
        log("all clients connected")

    # -- processes

    def check_daemons(self):
        for p in self.sys.procs():
            if p.popen is not None and not p.expected_exit and \
                    not p.alive():
                self.crashes.append("%s exited with status %s" %
                                    (p.name, p.returncode()))
                log("CRASH: %s exited with status %s\n%s", p.name,
                    p.returncode(), p.tail(30))
                p.expected_exit = True  # reported once; restarted below
                return p
        return None

    def disturb_start(self, k):
        with self.lock:
            self.disturb[k].append([mono(), None])

    def disturb_end(self, k):
        with self.lock:
            self.disturb[k][-1][1] = mono()

    def candidates(self):
        out = []
        for k in (0, 1):
            other = 1 - k
            if self.gw_down[k] or self.gw_hung[k]:
                continue
            if self.gw_down[other] or self.gw_hung[other]:
                continue  # keep one gateway serving
            out += [("gw_kill", k), ("gw_term", k), ("gw_stop", k)]
        if self.sys.registry.alive() and not self.sys.registry.expected_exit:
            out += [("reg_kill", None), ("reg_term", None)]
        if self.sys.persister.alive() and \
                not self.sys.persister.expected_exit:
            out += [("pst_kill", None), ("pst_term", None)]
        if self.pgdir and not self.pg_down:
            out += [("pg_stop", None)]
        return out

    def kill(self, kind, k, schedule):
        sys_ = self.sys
        mark = "fault: %s%s" % (kind, "" if k is None else " gw%d" % (k + 1))
        sys_.mark(mark)
        log("%s", mark)
        self.kills[kind] = self.kills.get(kind, 0) + 1
        up = mono() + self.rng.uniform(0.2, 3.0)
        if kind in ("gw_kill", "gw_term"):
            self.gw_down[k] = True
            self.disturb_start(k)
            sys_.kill_gateway(k, signal.SIGKILL if kind == "gw_kill"
                              else signal.SIGTERM)
            schedule(up, ("gw_start", k))
        elif kind == "gw_stop":
            self.gw_hung[k] = True
            self.disturb_start(k)
            sys_.gateways[k].proc.popen.send_signal(signal.SIGSTOP)
            # Sometimes shorter, sometimes longer than gateway_timeout_ms.
            schedule(mono() + self.rng.uniform(0.5, 6.0), ("gw_cont", k))
        elif kind in ("reg_kill", "reg_term"):
            sys_.kill_registry(signal.SIGKILL if kind == "reg_kill"
                               else signal.SIGTERM)
            schedule(up, ("reg_start", None))
        elif kind in ("pst_kill", "pst_term"):
            sys_.kill_persister(signal.SIGKILL if kind == "pst_kill"
                                else signal.SIGTERM)
            schedule(up, ("pst_start", None))
        elif kind == "pg_stop":
            self.pg_down = True
            subprocess.run(["bash", PG_SH, "stop", self.pgdir], check=True)
            schedule(mono() + self.rng.uniform(2.0, 8.0), ("pg_start", None))

    def restore(self, kind, k):
        sys_ = self.sys
        log("restore: %s%s", kind, "" if k is None else " gw%d" % (k + 1))
        if kind == "gw_start":
            sys_.gateways[k].proc.start()
            self.wait_gateway(k)
            self.gw_down[k] = False
            self.disturb_end(k)
        elif kind == "gw_cont":
            sys_.gateways[k].proc.popen.send_signal(signal.SIGCONT)
            self.gw_hung[k] = False
            self.disturb_end(k)
        elif kind == "reg_start":
            sys_.start_registry()
        elif kind == "pst_start":
            sys_.start_persister()
        elif kind == "pg_start":
            subprocess.run(["bash", PG_SH, "start", self.pgdir,
                            "--fsync=off"], check=True)
            self.pg_down = False

    def wait_gateway(self, k):
        """Polls /healthz of a restarted gateway (its port accepts)."""
        deadline = mono() + 20
        while True:
            try:
                r = self.sys.http("GET", "/healthz", gw=k, timeout=1.0)
                if r.status == 200:
                    return
            except OSError:
                pass
            if mono() > deadline:
                raise RuntimeError("gw%d does not answer after a restart"
                                   % (k + 1))
            time.sleep(0.05)

    def chaos(self):
        a = self.args
        self.pg_down = False
        t0 = mono()
        end = t0 + a.duration
        heap = []
        seq = [0]

        def schedule(t, action):
            seq[0] += 1
            heapq.heappush(heap, (t, seq[0], action))

        self.phase = "chaos"
        step = a.duration / max(1, a.kills)
        for i in range(a.kills):
            schedule(t0 + step * (i + self.rng.uniform(0.2, 0.8)),
                     ("kill", None))
        while True:
            now = mono()
            p = self.check_daemons()
            if p is not None:
                self.restart_crashed(p)
            if not heap:
                if now >= end:
                    break
                time.sleep(min(0.05, end - now))
                continue
            t, _, (what, k) = heap[0]
            if t > now:
                time.sleep(min(0.05, t - now))
                continue
            heapq.heappop(heap)
            if what == "kill":
                cands = self.candidates()
                if not cands:  # everything is down: try again soon
                    schedule(now + 0.5, ("kill", None))
                    continue
                kind, k = self.rng.choice(cands)
                self.kill(kind, k, schedule)
            else:
                self.restore(what, k)
        log("chaos over after %.0f s (planned %d s)", mono() - t0,
            a.duration)
        return mono() - t0 <= a.duration + 60 and end

    def restart_crashed(self, p):
        sys_ = self.sys
        if p is sys_.registry:
            sys_.start_registry()
        elif p is sys_.persister:
            sys_.start_persister()
        else:
            for k, g in enumerate(sys_.gateways):
                if g.proc is p:
                    self.gw_down[k] = True
                    self.disturb_start(k)
                    p.start()
                    self.wait_gateway(k)
                    self.gw_down[k] = False
                    self.disturb_end(k)

    # -- the check

    def registry_view(self):
        out = {}
        for i in range(0, len(self.users), 500):
            r = self.sys.http("POST", "/v1/presence/query",
                              {"user_ids": self.users[i:i + 500]},
                              admin=True, timeout=10)
            if r.status != 200:
                raise RuntimeError("query: %r" % r)
            for p in r.json["users"]:
                out[p["user_id"]] = p
        return out

    def db_rows(self):
        rows = self.sys.sql(
            "SELECT user_id, status, is_online, text, last_seen "
            "FROM user_presence WHERE user_id = ANY(%s)", (self.users,))
        return {r["user_id"]: r for r in rows}

    def acceptable(self, u, choice, primary_on):
        """The (status, text) pairs u may show: its primary's last choice;
        or, when only its other device is connected and every device of u
        was away longer than the grace since the primary left, \"online\"
        (that device's hello carries no status, which makes a user who
        went offline online: the protocol's rule, not a lost choice).
        Within half a second of the grace either is right."""
        def shown(ch):
            st = visible(ch[0])
            return (st, ch[1] if st != "offline" else None)
        ok = {shown(choice)}
        if primary_on:
            return ok
        spans = [sp for c in self.clients if c.user == u
                 for sp in c.spans_copy()]
        left = max((sp[1] for c in self.clients
                    if c.user == u and c.primary
                    for sp in c.spans_copy() if sp[1] is not None),
                   default=None)
        if left is None:
            return ok
        grace = self.args.grace_ms / 1000.0
        t, gap = left, 0.0
        for a, b in sorted(spans):
            if b is not None and b <= t:
                continue
            gap = max(gap, a - t)
            if b is None:
                t = float("inf")
                break
            t = max(t, b)
        if gap > grace + 0.5:
            return {("online", None)}
        if gap > grace - 0.5:
            ok.add(("online", None))
        return ok

    def evaluate(self):
        view = self.registry_view()
        rows = self.db_rows()
        states = [(c, c.state()) for c in self.clients]
        live = {}      # user -> its primary's choice, for connected users
        connected = set()
        primary_on = set()
        pending = 0
        for c, (conn, snap, _, choice, gone) in states:
            if conn:
                connected.add(c.user)
                if c.primary:
                    primary_on.add(c.user)
                if not snap:
                    pending += 1
            elif not gone:
                pending += 1
            if c.primary:
                live[c.user] = choice
        res = {"ghosts": [], "lost": [], "stale_views": [],
               "wrong_status": []}
        for u in self.users:
            p = view.get(u)
            r = rows.get(u)
            on_db = bool(r and r["is_online"])
            if u not in connected and (p["is_online"] or on_db):
                res["ghosts"].append((u, p["status"], on_db))
            if db_differs(p, r):
                res["lost"].append((u, p["status"], p["is_online"],
                                    r and (r["status"], r["is_online"])))
            if u in connected:
                ok = self.acceptable(u, live[u], u in primary_on)
                if (p["status"], p["text"] or None) not in ok:
                    res["wrong_status"].append(
                        (u, p["status"], p["text"], live[u]))
            elif p["status"] != "offline":
                res["wrong_status"].append((u, p["status"], None,
                                            "not connected"))
        for c, (conn, snap, cview, _, _) in states:
            if not conn:
                continue
            for u in c.audience:
                mine, reg = cview.get(u), view[u]
                if mine is None:
                    res["stale_views"].append((c.user, c.idx, u, None,
                                               reg["status"]))
                    continue
                if (mine.get("status"), mine.get("is_online"),
                        mine.get("text") or None) != \
                        (reg["status"], reg["is_online"],
                         reg["text"] or None):
                    res["stale_views"].append((c.user, c.idx, u,
                                               mine.get("status"),
                                               reg["status"]))
        return res, pending

    def settle(self):
        a = self.args
        sys_ = self.sys
        # Nothing is left down after the chaos (the heap ran dry), but a
        # crash right at the end may have to be repaired.
        p = self.check_daemons()
        if p is not None:
            self.restart_crashed(p)
        sys_.wait_serving(timeout=60)
        self.phase = "settle"
        t0 = mono()
        budget = (a.grace_ms + a.resync_ms) / 1000.0 + a.margin
        log("settling (up to %.0f s)", budget)
        while True:
            p = self.check_daemons()
            if p is not None:
                self.restart_crashed(p)
                sys_.wait_serving(timeout=60)
            try:
                res, pending = self.evaluate()
            except Exception as e:
                res, pending = None, str(e)
            ok = res is not None and pending == 0 and \
                not any(res.values())
            if ok or mono() - t0 > budget:
                break
            time.sleep(0.5)
        log("settled: %s after %.1f s", "converged" if ok
            else "NOT converged", mono() - t0)
        if res is None:
            raise RuntimeError("no registry view: %s" % pending)
        return res, pending


def db_differs(p, r):
    """The registry view p and the stored row r disagree (status as others
    see it, is_online, text; last_seen of an offline user)."""
    if r is None:
        return p["is_online"] or p["last_seen"] is not None
    rst = visible(r["status"])
    if rst != p["status"] or bool(r["is_online"]) != p["is_online"]:
        return True
    if p["status"] != "offline" and (r["text"] or None) != p["text"]:
        return True
    if not p["is_online"] and p["last_seen"] is not None and \
            abs(to_ms(r["last_seen"]) - p["last_seen"]) > 5:
        return True
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=60,
                    help="seconds of chaos (default 60)")
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--kills", type=int, default=8)
    ap.add_argument("--seed", type=int, default=None,
                    help="default: random (printed)")
    ap.add_argument("--grace-ms", type=int, default=2000)
    ap.add_argument("--resync-ms", type=int, default=2000)
    # The convergence bound of docs/DESIGN.md (invariant 5): a view that
    # still differs offline_grace_ms + 3 s after the chaos (plus the resync
    # window, since the last restart may be the registry's) is a bug.
    ap.add_argument("--margin", type=float, default=3,
                    help="seconds beyond grace + resync to settle "
                    "(default 3)")
    ap.add_argument("--no-pg", dest="pg", action="store_false",
                    help="never stop PostgreSQL")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1, 10**6)
    log("seed %d: --duration %g --clients %d --kills %d", args.seed,
        args.duration, args.clients, args.kills)
    run = Run(args)
    problems = ""
    rc = 1
    t_start = now_ms()
    try:
        run.setup()
        run.chaos()
        res, pending = run.settle()
        counts = {
            "ghosts": len(res["ghosts"]),
            "lost": len(res["lost"]),
            "stale_views": len(res["stale_views"]),
            "wrong_status": len(res["wrong_status"]),
            "dropped": len(run.dropped),
            "crashed": len(run.crashes),
            "unsettled_clients": pending,
        }
        for k, v in res.items():
            for item in v[:10]:
                log("%s: %r", k, item)
        # What the clients of a failing user did, for the replay.
        blamed = {item[0] for k in ("wrong_status", "ghosts", "lost")
                  for item in res[k][:3]}
        blamed |= {item[2] for item in res["stale_views"][:3]}
        for c in run.clients:
            if c.user in blamed:
                log("trace of %s (client %d%s):\n  %s", c.user, c.idx,
                    ", primary" if c.primary else "",
                    "\n  ".join(c.trace[-40:]))
        for item in run.dropped[:10]:
            log("dropped: %r", item)
        for c in run.crashes:
            log("crashed: %s", c)
        reconnects = sum(c.connects for c in run.clients) - len(run.clients)
        log("kills: %d (%s)", sum(run.kills.values()),
            ", ".join("%s %d" % kv for kv in sorted(run.kills.items())))
        log("clients %d, reconnects %d, other: %r", len(run.clients),
            reconnects, run.counts)
        log("RESULT ghosts=%d lost=%d stale_views=%d wrong_status=%d "
            "dropped=%d crashed=%d unsettled_clients=%d",
            *[counts[k] for k in ("ghosts", "lost", "stale_views",
                                  "wrong_status", "dropped", "crashed",
                                  "unsettled_clients")])
        rc = 1 if any(counts.values()) else 0
        if sum(run.kills.values()) < args.kills:
            log("only %d kills of %d", sum(run.kills.values()), args.kills)
            rc = 1
    finally:
        for c in run.clients:
            c.stop = True
        for c in run.clients:
            c.join(5)
        if run.sys is not None:
            problems = run.sys.stop(failed=rc != 0)
    if problems:
        log("unclean stop:\n%s", problems)
        rc = 1
    log("%s in %.0f s", "PASS" if rc == 0 else "FAIL",
        (now_ms() - t_start) / 1000.0)
    return rc


if __name__ == "__main__":
    sys.exit(main())
