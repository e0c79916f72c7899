"""Recovery invariants (docs/DESIGN.md): real processes are killed
with SIGKILL, SIGTERM and SIGSTOP while clients are connected and change
status, and the outcome is asserted as clients, watchers and PostgreSQL see
it. Also the NNG hardening of common/prs_link.c (listener bug #1518, peer
credentials, socket modes).

Each test gets a fresh System with two gateways. Timing rules: nothing waits
a fixed time for readiness (bounded polling); absence is asserted over short
windows (grace + about 1 s); detection latencies are asserted through the
registry's own timestamps (last_seen of the offline event), not by how fast
an event arrives.
"""

import os
import signal
import socket
import subprocess
import time
import unittest

from harness import (WAIT, SystemTestCase, http_request, now_ms, q, to_ms,
                     uid)

TOL_MS = 1500
PUSH0, PULL0 = 0x50, 0x51  # SP protocol numbers


def sp_header(proto):
    return b"\x00SP\x00" + proto.to_bytes(2, "big") + b"\x00\x00"


class RecoveryBase(SystemTestCase):
    PER_TEST = True
    GATEWAYS = 2
    GRACE_MS = 3000
    RESYNC_MS = 2000
    REGISTRY_ARGS = ("--resync-window-ms", str(RESYNC_MS))

    # -- processes

    def restart_gateway(self, k):
        g = self.sys.gateways[k]
        g.proc.start()
        self.sys.wait_serving()

    def restart_registry(self, sig):
        rc = self.sys.kill_registry(sig)
        if sig == signal.SIGTERM:
            self.assertEqual(rc, 0, "registry exit status after SIGTERM")
        self.sys.start_registry()
        self.sys.wait_serving()

    # -- views

    def registry_view(self, users):
        """{user: presence} as the registry answers an admin query."""
        out = {}
        users = list(users)
        for i in range(0, len(users), 500):
            r = self.sys.http("POST", "/v1/presence/query",
                              {"user_ids": users[i:i + 500]}, admin=True)
            self.assertEqual(r.status, 200, r)
            for p in r.json["users"]:
                out[p["user_id"]] = p
        return out

    def db_rows(self, users):
        rows = self.sys.sql(
            "SELECT user_id, status, is_online, text, last_seen "
            "FROM user_presence WHERE user_id = ANY(%s)", (list(users),))
        return {r["user_id"]: r for r in rows}

    def wait_db(self, users, timeout=WAIT + 5):
        """Polls until PostgreSQL holds what the registry shows for every
        user (status, is_online, text; last_seen of offline users).
        Returns the registry view."""
        deadline = time.monotonic() + timeout
        diff = None
        while True:
            view = self.registry_view(users)
            rows = self.db_rows(users)
            diff = view_db_diff(view, rows)
            if not diff:
                return view
            if time.monotonic() > deadline:
                self.fail("PostgreSQL differs from the registry after %.0f s:"
                          " %r" % (timeout, diff[:10]))
            time.sleep(0.2)

    def wait_row(self, user, pred, what, timeout=WAIT):
        deadline = time.monotonic() + timeout
        row = None
        while time.monotonic() < deadline:
            row = self.db_rows([user]).get(user)
            if row is not None and pred(row):
                return row
            time.sleep(0.1)
        self.fail("user_presence of %s never %s; last row %r"
                  % (user, what, row))

    def alive(self, c):
        """The client's connection works end to end (registry included)."""
        r = c.request("query", user_ids=[c.user_id])
        self.assertEqual(r.get("type"), "presence_list", r)

    def group(self, n, gw, prefix="u"):
        """n users in one thread, each connected to gateway gw (int or a
        list cycled through), plus the thread id."""
        ids = [uid(prefix) for _ in range(n)]
        t = uid("t")
        self.sys.put_members(t, ids)
        gws = gw if isinstance(gw, list) else [gw]
        clients = {}
        for i, u in enumerate(ids):
            clients[u] = self.connect(u, gw=gws[i % len(gws)])
        return t, ids, clients


def view_db_diff(view, rows):
    diff = []
    for u, p in view.items():
        r = rows.get(u)
        if r is None:
            if p["is_online"] or p["last_seen"] is not None:
                diff.append((u, p, None))
            continue
        online = p["is_online"]
        st = p["status"]
        # The stored status is the user's own view (invisible stays
        # invisible); others see offline.
        rst = r["status"] if r["status"] != "invisible" else "offline"
        if rst != st or bool(r["is_online"]) != online:
            diff.append((u, p, r))
        elif st != "offline" and (r["text"] or None) != p["text"]:
            diff.append((u, p, r))
        elif not online and p["last_seen"] is not None and \
                abs(to_ms(r["last_seen"]) - p["last_seen"]) > 5:
            diff.append((u, p, r))
    return diff


class GatewayDeathTest(RecoveryBase):
    """Invariant 1: a gateway dies; its sessions end unclean."""

    def test_gateway_sigkill(self):
        a, b, w = uid("a"), uid("b"), uid("w")
        self.sys.put_members(uid("t"), [a, b, w])
        cw = self.connect(w, gw=0)
        ca = self.connect(a, gw=1)
        cb = self.connect(b, gw=1)
        cw.expect_presence(a, "online")
        cw.expect_presence(b, "online")
        self.assertOk(ca.request("set_status", status="away", text="x"))
        cw.expect_presence(a, "away")
        t_kill = now_ms()
        self.sys.kill_gateway(1, signal.SIGKILL)
        # A's app reconnects at once to the surviving gateway.
        ca2 = self.connect(a, gw=0)
        p = self.presence_of(ca2, [a])[a]
        self.assertPresence(p, a, status="away", text="x")
        # B does not come back: offline after the grace, with last_seen
        # the moment the registry noticed (pipe removal, within 1 s).
        ev = cw.expect_presence(b, timeout=self.grace_s() + WAIT)
        self.assertPresence(ev, b, status="offline", is_online=False)
        self.assertLessEqual(ev["last_seen"], t_kill + 1000, ev)
        self.assertGreaterEqual(ev["last_seen"], t_kill - 100, ev)
        # No flicker for A, through the rest of the grace and a second.
        cw.expect_no_presence(a, 1.0)
        # The gateway comes back and serves.
        self.restart_gateway(1)
        cb2 = self.connect(b, gw=1)
        cw.expect_presence(b, "online")
        self.alive(cb2)
        self.alive(cw)
        self.wait_db([a, b, w])

    def test_gateway_hung(self):
        a, w = uid("a"), uid("w")
        self.sys.put_members(uid("t"), [a, w])
        cw = self.connect(w, gw=0)
        ca = self.connect(a, gw=1)
        cw.expect_presence(a, "online")
        proc = self.sys.gateways[1].proc
        t_stop = now_ms()
        proc.popen.send_signal(signal.SIGSTOP)
        try:
            ev = cw.expect_presence(a, timeout=3 + self.grace_s() + WAIT)
            self.assertPresence(ev, a, status="offline", is_online=False)
            # Declared dead within gateway_timeout_ms (3 s) of silence.
            self.assertLessEqual(ev["last_seen"], t_stop + 3000 + 500, ev)
            # Meanwhile a change that A, on the hung gateway, cannot see.
            self.assertOk(cw.request("set_status", status="dnd"))
        finally:
            proc.popen.send_signal(signal.SIGCONT)
        # Awake again: the registry had ended A's session and sent events
        # that A's gateway never got (its link to the gateway starts over,
        # a sequence gap), so the gateway closes A with 1001; A reconnects
        # like any app and starts from a fresh view.
        self.assertEqual(ca.expect_close(timeout=WAIT), 1001)
        self.assertEqual(ca.closed[1], "missed events: reconnect")
        self.sys.wait_serving()
        ca2 = self.connect(a, gw=1)
        cw.expect_presence(a, "online")
        self.assertPresence(self.presence_of(ca2, [w])[w], w, status="dnd")
        self.alive(ca2)
        self.wait_db([a, w])

    def test_gateway_hung_briefly(self):
        """Stopped for less than gateway_timeout_ms: nothing was lost,
        the clients stay connected and get what happened meanwhile."""
        a, w = uid("a"), uid("w")
        self.sys.put_members(uid("t"), [a, w])
        cw = self.connect(w, gw=0)
        ca = self.connect(a, gw=1)
        cw.expect_presence(a, "online")
        proc = self.sys.gateways[1].proc
        proc.popen.send_signal(signal.SIGSTOP)
        try:
            self.assertOk(cw.request("set_status", status="away"))
        finally:
            proc.popen.send_signal(signal.SIGCONT)
        ca.expect_presence(w, "away")
        self.alive(ca)
        cw.expect_no_presence(a, self.grace_s() + 1.0)

    def test_registry_stalled(self):
        """The registry stopped (SIGSTOP) longer than gateway_timeout_ms:
        its own stall is not the gateways' death, so nobody is
        disconnected; a watch made while the gateway saw the registry as
        unavailable still reaches it."""
        a, w, x = uid("a"), uid("w"), uid("x")
        self.sys.put_members(uid("t"), [a, w])
        cw = self.connect(w, gw=0)
        ca = self.connect(a, gw=1)
        cx = self.connect(x, gw=1)
        cw.expect_presence(a, "online")
        proc = self.sys.registry
        proc.popen.send_signal(signal.SIGSTOP)
        try:
            # the gateways notice the silence after 3 s
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                if http_request(self.sys.gateways[0].port, "GET",
                                "/readyz").status == 503:
                    break
                time.sleep(0.1)
            else:
                self.fail("gateway never noticed the stopped registry")
            rep = cw.request("watch", user_ids=[x])
            self.assertEqual(rep["type"], "error", rep)
            self.assertEqual(rep["code"], "unavailable", rep)
        finally:
            proc.popen.send_signal(signal.SIGCONT)
        self.sys.wait_serving()
        self.assertOk(cx.request("set_status", status="dnd"))
        cw.expect_presence(x, "dnd")
        self.assertOk(ca.request("set_status", status="away"))
        cw.expect_presence(a, "away")
        self.alive(ca)
        self.alive(cw)
        self.alive(cx)

    def test_gateway_sigterm(self):
        """Invariant 4 for a gateway: close 1001, clients reconnect
        elsewhere within the grace without flicker."""
        t, ids, clients = self.group(4, 1, "g")
        w = uid("w")
        self.sys.put_members(t, ids + [w])
        cw = self.connect(w, gw=0)
        self.sys.kill_gateway(1, signal.SIGTERM)
        self.assertEqual(self.sys.gateways[1].proc.returncode(), 0)
        for u in ids:
            self.assertEqual(clients[u].expect_close(timeout=WAIT), 1001)
        back = {u: self.connect(u, gw=0) for u in ids[:3]}
        ev = cw.expect_presence(ids[3], timeout=self.grace_s() + WAIT)
        self.assertPresence(ev, ids[3], status="offline")
        for u in ids[:3]:
            cw.expect_no_presence(u, 0.1)
        cw.expect_no_presence(ids[0], 1.0)
        for c in back.values():
            self.alive(c)
        self.restart_gateway(1)
        self.wait_db(ids + [w])


class RegistryRestartTest(RecoveryBase):
    """Invariant 2: clients stay connected, no spurious events, users who
    left meanwhile go offline with a correct last_seen."""

    def _restart(self, sig):
        t, ids, clients = self.group(6, [0, 1], "r")
        w0, w1 = uid("w"), uid("w")
        self.sys.put_members(t, ids + [w0, w1])
        cw = [self.connect(w0, gw=0), self.connect(w1, gw=1)]
        stay, leave, change = ids[:4], ids[4], ids[5]
        self.assertOk(clients[stay[0]].request("set_status", status="dnd",
                                               text="busy"))
        for c in cw:
            c.expect_presence(stay[0], "dnd")
        # What the new registry loads must be current, or re-announcing
        # is a real change as far as it can tell.
        self.wait_db(ids + [w0, w1])
        t_kill = now_ms()
        self.sys.kill_registry(sig)
        if sig == signal.SIGTERM:
            self.assertEqual(self.sys.registry.returncode(), 0)
        clients[leave].drop()
        # A status chosen while the registry is down is kept by the
        # gateway and re-announced.
        clients[change].send({"type": "set_status", "status": "away"})
        self.sys.start_registry()
        self.sys.wait_serving()
        t_up = now_ms()
        for c in cw:
            ev = c.expect_presence(leave, timeout=self.RESYNC_MS / 1000.0 +
                                   self.grace_s() + WAIT)
            self.assertPresence(ev, leave, status="offline", is_online=False)
            self.assertGreaterEqual(ev["last_seen"], t_kill - TOL_MS, ev)
            self.assertLessEqual(ev["last_seen"], t_up + TOL_MS, ev)
            ev = c.expect_presence(change, timeout=WAIT)
            self.assertPresence(ev, change, status="away")
        # No spurious event for those who stayed, through the window.
        for u in stay:
            cw[0].expect_no_presence(u, 0.1)
            cw[1].expect_no_presence(u, 0.1)
        cw[0].expect_no_presence(stay[1], self.RESYNC_MS / 1000.0 + 1.0)
        for u in stay + [change]:
            self.alive(clients[u])
        for c in cw:
            self.alive(c)
        view = self.wait_db(ids + [w0, w1])
        self.assertPresence(view[stay[0]], stay[0], status="dnd", text="busy")
        self.assertFalse(view[leave]["is_online"])

    def test_registry_sigkill(self):
        self._restart(signal.SIGKILL)

    def wait_log(self, proc, text, timeout=WAIT + 5):
        """Polls proc's log, from its last start on, for a line with text."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sys.check_alive()
            if text in proc.tail(200, since="=== start"):
                return
            time.sleep(0.05)
        self.fail("no %r in %s's log:\n%s" % (text, proc.name,
                                               proc.tail(40)))

    def test_restart_waits_for_a_silent_gateway(self):
        """A gateway alive before the registry restarted, but silent for
        the whole resync window (here: stopped), keeps its users online:
        the new registry knows it from the stored gateway roster and waits
        for it (at most gateway_timeout_ms more), so watchers see no
        offline-then-online when it comes back."""
        t, ids, clients = self.group(2, 1, "s")
        w = uid("w")
        self.sys.put_members(t, ids + [w])
        cw = self.connect(w, gw=0)
        self.wait_db(ids + [w])  # the roster was written before these
        gw2 = self.sys.gateways[1].proc
        self.sys.kill_registry(signal.SIGKILL)
        gw2.popen.send_signal(signal.SIGSTOP)
        try:
            self.sys.start_registry()
            # The window is over, and the registry still waits for gw2.
            self.wait_log(self.sys.registry, "gw2 (no Hello yet)")
        finally:
            gw2.popen.send_signal(signal.SIGCONT)
        self.wait_log(self.sys.registry, "gateway gw2 is back")
        self.sys.wait_serving()
        for u in ids:
            cw.expect_no_presence(u, 0.1)
        cw.expect_no_presence(ids[0], 1.0)
        for u in ids:
            self.alive(clients[u])
        self.alive(cw)
        view = self.wait_db(ids + [w])
        for u in ids:
            self.assertPresence(view[u], u, status="online", is_online=True)
        self.assertNotIn("did not come back",
                         self.sys.registry.tail(200, since="=== start"))

    def test_restart_gives_up_on_a_gateway_gone_meanwhile(self):
        """A gateway of the roster that never comes back is given up
        gateway_timeout_ms after the window: its users go offline."""
        t, ids, clients = self.group(1, 1, "g")
        w = uid("w")
        self.sys.put_members(t, ids + [w])
        cw = self.connect(w, gw=0)
        self.wait_db(ids + [w])
        self.sys.kill_registry(signal.SIGKILL)
        self.sys.kill_gateway(1, signal.SIGKILL)
        clients[ids[0]].shutdown()
        self.sys.start_registry()
        self.wait_log(self.sys.registry, "gw2 (no Hello yet)")
        ev = cw.expect_presence(ids[0], timeout=WAIT + 5)
        self.assertPresence(ev, ids[0], status="offline", is_online=False)
        self.assertIn("gateway gw2 (alive before this registry started) "
                      "did not come back",
                      self.sys.registry.tail(200, since="=== start"))
        self.restart_gateway(1)
        self.sys.wait_serving()

    def test_registry_sigterm(self):
        self._restart(signal.SIGTERM)

    def test_registry_sigterm_flushes(self):
        """Invariant 4: the registry flushes pending writes before it
        exits, so PostgreSQL has them the moment it is gone."""
        t, ids, clients = self.group(3, 0, "f")
        w = uid("w")
        self.sys.put_members(t, ids + [w])
        cw = self.connect(w, gw=1)
        self.wait_db(ids + [w])
        for i, u in enumerate(ids):
            clients[u].send({"type": "set_status", "status": "dnd",
                             "text": "n%d" % i})
        for u in ids:  # the registry applied them (a watcher saw them)
            cw.expect_presence(u, "dnd")
        self.sys.kill_registry(signal.SIGTERM)
        self.assertEqual(self.sys.registry.returncode(), 0)
        rows = self.db_rows(ids)
        for i, u in enumerate(ids):
            self.assertEqual(rows[u]["status"], "dnd", rows[u])
            self.assertEqual(rows[u]["text"], "n%d" % i, rows[u])
        self.sys.start_registry()
        self.sys.wait_serving()

    def test_full_restart_last_seen(self):
        """Everything dies at once (a host crash): users persisted as online
        go offline at the end of the resync window with last_seen close
        to when they were last known online (online_refresh_ms), not the
        registry's start time."""
        self.sys.stop()
        # One refresh every 500 ms here.
        type(self).REGISTRY_ARGS = ("--resync-window-ms",
                                    str(self.RESYNC_MS),
                                    "--online-refresh-ms", "500")
        try:
            self.sys = self.make_system().start()
        finally:
            type(self).REGISTRY_ARGS = RecoveryBase.REGISTRY_ARGS
        a, w = uid("a"), uid("w")
        self.sys.put_members(uid("t"), [a, w])
        self.connect(a, gw=0)
        self.wait_row(a, lambda r: r["is_online"], "online")
        # Let a few refreshes happen, so the row's last_seen moves.
        first = to_ms(self.db_rows([a])[a]["last_seen"])
        self.wait_row(a, lambda r: to_ms(r["last_seen"]) > first + 400,
                      "refreshed")
        t_crash = now_ms()
        for p in self.sys.procs():
            p.kill()
        for c in self.clients:
            c.shutdown()
        self.clients = []
        time.sleep(2.0)  # a host down for a while (not a readiness wait)
        self.sys.persister.start()
        self.sys.start_registry()
        for g in self.sys.gateways:
            g.proc.start()
        self.sys.wait_serving()
        cw = self.connect(w, gw=1)
        ev = cw.expect_presence(a, timeout=self.RESYNC_MS / 1000.0 + WAIT)
        self.assertPresence(ev, a, status="offline", is_online=False)
        self.assertLessEqual(ev["last_seen"], t_crash + 500 + 200, ev)
        self.assertGreaterEqual(ev["last_seen"], t_crash - 1000, ev)
        self.wait_db([a, w])


class RegistryRestartWindowTest(RecoveryBase):
    """With a long write window (the default is 100 ms), a user who
    connected within it is not stored when the registry is SIGKILLed. If
    that user's gateway re-announces late, the new registry must still
    wait for it (the gateway roster) before it releases its hold and
    repairs the other gateways' views: else watchers there would be shown
    a repair `offline`, then `online` again."""
    WINDOW_MS = 3000
    REGISTRY_ARGS = ("--resync-window-ms", str(RecoveryBase.RESYNC_MS),
                     "--write-window-ms", str(WINDOW_MS))

    wait_log = RegistryRestartTest.wait_log

    def test_unstored_user_on_a_late_gateway_does_not_flicker(self):
        w = uid("w")
        self.sys.put_members(uid("t"), [w])
        cw = self.connect(w, gw=0)
        self.wait_db([w])
        x = uid("x")
        self.sys.put_members(uid("t"), [x, w])  # membership skips the window
        cx = self.connect(x, gw=1)
        cw.expect_presence(x, "online")
        gw2 = self.sys.gateways[1].proc
        self.sys.kill_registry(signal.SIGKILL)
        self.assertFalse((self.db_rows([x]).get(x) or {}).get("is_online"),
                         "the window did not hold x's row")
        gw2.popen.send_signal(signal.SIGSTOP)
        try:
            self.sys.start_registry()
            self.wait_log(self.sys.registry, "gw2 (no Hello yet)")
        finally:
            gw2.popen.send_signal(signal.SIGCONT)
        self.wait_log(self.sys.registry, "gateway gw2 is back")
        self.sys.wait_serving()
        cw.expect_no_presence(x, 1.0)
        self.alive(cx)
        self.alive(cw)
        self.wait_row(x, lambda r: r["is_online"], "online",
                      timeout=WAIT + self.WINDOW_MS / 1000.0)


class ViewRepairTest(RecoveryBase):
    """After a registry restart the new registry compares what it knows
    with what each gateway last showed its clients (ViewCheck), and only
    real differences reach them: a change whose write never reached
    PostgreSQL before the kill is not shown a second time."""

    def test_unwritten_changes_are_not_repeated(self):
        t, ids, clients = self.group(3, [0, 1], "v")
        w0, w1 = uid("w"), uid("w")
        self.sys.put_members(t, ids + [w0, w1])
        cw = [self.connect(w0, gw=0), self.connect(w1, gw=1)]
        self.wait_db(ids + [w0, w1])
        # Writes stop reaching PostgreSQL: it keeps both users online.
        self.sys.kill_persister(signal.SIGKILL)
        gone, busy = ids[0], ids[1]
        clients[gone].bye()
        self.assertOk(clients[busy].request("set_status", status="dnd",
                                            text="x"))
        for c in cw:
            c.expect_presence(gone, "offline")
            c.expect_presence(busy, "dnd")
        self.sys.kill_registry(signal.SIGKILL)
        self.sys.start_persister()
        self.sys.start_registry()
        self.sys.wait_serving()
        # The new registry loads both as online: busy is re-announced with
        # dnd (a change as far as it can tell), gone is not and goes
        # offline when the window closes. Both are what the watchers saw.
        for c in cw:
            for u in (gone, busy):
                c.expect_no_presence(u, 0.1)
        cw[0].expect_no_presence(gone, self.RESYNC_MS / 1000.0 + 1.5)
        for c in cw:
            c.expect_no_presence(busy, 0.1)
            self.alive(c)
        view = self.wait_db(ids + [w0, w1])
        self.assertPresence(view[gone], gone, status="offline",
                            is_online=False)
        self.assertPresence(view[busy], busy, status="dnd", text="x")
        m = self.sys.http("GET", "/metrics", gw=0).text
        self.assertRegex(m, r"presence_gateway_view_repairs_dropped_total "
                         r"[1-9]")


class PersisterOutageTest(RecoveryBase):
    """Invariant 3: persister killed, PostgreSQL stopped: presence goes on,
    writes are coalesced and flushed when back."""

    def test_persister_sigkill_and_postgres_down(self):
        pgdir = os.environ.get("PRS_PG_DIR")
        if not pgdir:
            self.skipTest("needs PRS_PG_DIR (a cluster this test may stop)")
        pgsh = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "..", "..", "scripts", "lib", "pg.sh")
        t, ids, clients = self.group(4, [0, 1], "p")
        w = uid("w")
        self.sys.put_members(t, ids + [w])
        cw = self.connect(w, gw=0)
        self.wait_db(ids + [w])
        self.sys.kill_persister(signal.SIGKILL)
        for k in range(5):
            self.assertOk(clients[ids[0]].request(
                "set_status", status=("away", "dnd")[k % 2], text=str(k)))
            cw.expect_presence(ids[0], ("away", "dnd")[k % 2])
        self.sys.start_persister()
        self.wait_db(ids + [w])
        row = self.db_rows([ids[0]])[ids[0]]
        self.assertEqual((row["status"], row["text"]), ("away", "4"), row)
        # Now PostgreSQL itself goes away for a while.
        subprocess.run(["bash", pgsh, "stop", pgdir], check=True)
        try:
            for k in range(20):
                self.assertOk(clients[ids[1]].request(
                    "set_status", status=("away", "dnd")[k % 2],
                    text="k%d" % k))
                cw.expect_presence(ids[1], ("away", "dnd")[k % 2])
            clients[ids[2]].bye()
            cw.expect_presence(ids[2], "offline")
            clients[ids[3]].drop()
            cw.expect_presence(ids[3], "offline",
                               timeout=self.grace_s() + WAIT)
            # Presence works: a newcomer is seen, queries answer.
            n = uid("n")
            self.sys.put_members(t, ids + [w, n])
            self.connect(n, gw=1)
            cw.expect_presence(n, "online")
            self.alive(cw)
        finally:
            subprocess.run(["bash", pgsh, "start", pgdir, "--fsync=off"],
                           check=True)
        view = self.wait_db(ids + [w, n], timeout=WAIT + 15)
        self.assertPresence(view[ids[1]], ids[1], status="dnd", text="k19")
        self.assertEqual(self.sys.persister.returncode(), None)

    def test_persister_sigterm(self):
        t, ids, clients = self.group(3, 0, "s")
        self.wait_db(ids)
        for u in ids:
            clients[u].send({"type": "set_status", "status": "away"})
        self.sys.kill_persister(signal.SIGTERM)
        self.assertEqual(self.sys.persister.returncode(), 0)
        self.sys.start_persister()
        view = self.wait_db(ids)
        for u in ids:
            self.assertEqual(view[u]["status"], "away", view[u])


class KillSequenceTest(RecoveryBase):
    """Invariant 5: after a sequence of kills and restarts, registry view =
    every watcher's view = PostgreSQL; nobody online without a session."""

    def test_kill_sequence_converges(self):
        t, ids, clients = self.group(8, [0, 1], "k")
        wids = [uid("w"), uid("w")]
        self.sys.put_members(t, ids + wids)
        watchers = [Watcher(self, self.connect(wids[0], gw=0)),
                    Watcher(self, self.connect(wids[1], gw=1))]
        for wa in watchers:
            wa.snapshot(ids)
        live = dict(clients)
        step = [0]

        def churn():
            step[0] += 1
            for i, u in enumerate(sorted(live)):
                if (i + step[0]) % 3 == 0 and u in live:
                    try:
                        live[u].send({"type": "set_status",
                                      "status": ("away", "dnd", "online")[
                                          step[0] % 3],
                                      "text": "s%d" % step[0]})
                    except Exception:
                        pass

        def lost(gw):
            for u in list(live):
                if live[u].gw == gw:
                    live[u].shutdown()
                    live[u] = self.connect(u, gw=1 - gw)
            for k, wa in enumerate(watchers):
                if wa.c.gw == gw:
                    wa.c.shutdown()
                    watchers[k] = Watcher(self, self.connect(wids[k],
                                                             gw=1 - gw))
                    watchers[k].snapshot(ids)

        churn()
        self.sys.kill_gateway(1, signal.SIGKILL)
        lost(1)
        churn()
        self.restart_gateway(1)
        self.restart_registry(signal.SIGKILL)
        churn()
        self.sys.kill_persister(signal.SIGKILL)
        churn()
        self.sys.start_persister()
        self.restart_registry(signal.SIGTERM)
        churn()
        del live[ids[0]]
        clients[ids[0]].bye()
        leaver = clients[ids[1]]
        del live[ids[1]]
        leaver.drop()
        churn()
        self.sys.kill_gateway(0, signal.SIGTERM)
        lost(0)
        self.restart_gateway(0)
        churn()
        # Settle (grace and resync windows pass, writes flush): poll.
        expected_online = set(live) | set(wids)
        deadline = time.monotonic() + self.grace_s() + WAIT + 10
        while True:
            view = self.registry_view(ids + wids)
            rows = self.db_rows(ids + wids)
            online = {u for u, p in view.items() if p["is_online"]}
            for wa in watchers:
                wa.pump(0.2)
            wdiff = [wa.diff(view, ids) for wa in watchers]
            ddiff = view_db_diff(view, rows)
            if online == expected_online and not ddiff and \
                    not any(wdiff):
                break
            if time.monotonic() > deadline:
                self.fail("not converged: online %r expected %r; db diff %r;"
                          " watcher diffs %r" % (
                              sorted(online), sorted(expected_online),
                              ddiff[:5], wdiff))
        r = self.sys.http("GET", "/v1/online", admin=True)
        self.assertEqual(r.status, 200, r)
        ghosts = set(r.json["online_users"]) - expected_online
        self.assertFalse(ghosts & set(ids), "online without a session")
        for u in live:
            self.alive(live[u])


class Watcher:
    """A watcher's view of users: a query snapshot, then events applied in
    order."""

    def __init__(self, tc, c):
        self.tc = tc
        self.c = c
        self.view = {}

    def snapshot(self, users):
        self.view.update(self.tc.presence_of(self.c, users))

    def pump(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            m = self.c.queue.pop(0) if self.c.queue else None
            if m is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                m = self.c._recv(left)
                if m is None:
                    return
            if m.get("type") == "presence":
                self.view[m["user_id"]] = m

    def diff(self, view, users):
        out = []
        for u in users:
            mine, reg = self.view.get(u), view.get(u)
            if mine is None or reg is None:
                continue
            if (mine["status"], mine["text"]) != (reg["status"], reg["text"]):
                out.append((self.c.user_id, u, mine["status"], reg["status"]))
        return out


class NngHardeningTest(RecoveryBase):
    """common/prs_link.c: listener bug #1518, socket modes, credentials."""

    def raw_connect_close(self, name):
        path = os.path.join(self.sys.tmp, name)
        for _ in range(3):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.close()

    def relistens(self, proc):
        with open(proc.logpath, "rb") as f:
            return f.read().count(b"listener stopped accepting")

    def test_listeners_survive_raw_connect_close(self):
        procs = [self.sys.registry, self.sys.persister,
                 self.sys.gateways[0].proc]
        before = [self.relistens(p) for p in procs]
        for name in ("registry.sock", "persister.sock", "gateway-gw1.sock",
                     "gateway-gw2.sock"):
            self.raw_connect_close(name)
        # A watchdog that finds its listener stuck re-creates it within
        # its 1 s probe period + 5 s timeout (not every raw connection
        # leaves a listener stuck). Re-creating one closes the connections
        # it accepted, and what was in flight on them shows as a sequence
        # gap (gw1 closes its clients with 1001): so the clients that must
        # stay connected come after that window.
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and any(
                self.relistens(p) <= n for p, n in zip(procs, before)):
            time.sleep(0.1)
        self.sys.wait_serving()
        # Registry listener: a restarted gateway must connect again.
        a, w = uid("a"), uid("w")
        self.sys.put_members(uid("t"), [a, w])
        cw = self.connect(w, gw=0)
        self.sys.kill_gateway(1, signal.SIGKILL)
        self.restart_gateway(1)
        ca = self.connect(a, gw=1)
        cw.expect_presence(a, "online")
        # Gateway listeners: a restarted registry must reach both.
        self.restart_registry(signal.SIGKILL)
        self.alive(ca)
        self.alive(cw)
        # Persister listener: the registry's writes must get through.
        self.assertOk(ca.request("set_status", status="dnd"))
        self.wait_db([a, w])

    def test_dialers_survive_far_end_closing_during_handshake(self):
        """The dialer side of #1518: while the registry is down, a server
        on its socket path that accepts and closes every connection (as a
        dying listener does) must not leave the gateways' and the
        persister's dialers stuck: once the real registry is back they all
        connect (the registry cannot load state without the persister, and
        /readyz needs both)."""
        a, w = uid("a"), uid("w")
        self.sys.put_members(uid("t"), [a, w])
        cw = self.connect(w, gw=1)
        ca = self.connect(a, gw=0)
        cw.expect_presence(a, "online")
        # What the new registry loads must be current (a's online row may
        # still wait in the write window): else, with gw1's dialer slow to
        # come back, the hold ends first and w is shown a repair.
        self.wait_db([a, w])
        self.sys.kill_registry(signal.SIGKILL)
        path = os.path.join(self.sys.tmp, "registry.sock")
        os.unlink(path)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(64)
        srv.settimeout(0.1)
        closed = 0
        deadline = time.monotonic() + 2.0
        try:
            while time.monotonic() < deadline:
                try:
                    c, _ = srv.accept()
                except socket.timeout:
                    continue
                c.close()
                closed += 1
        finally:
            srv.close()
            os.unlink(path)
        self.assertGreater(closed, 0, "no dialer came by")
        self.sys.start_registry()
        self.sys.wait_serving()
        self.alive(ca)
        self.alive(cw)
        self.assertOk(ca.request("set_status", status="away"))
        cw.expect_presence(a, "away")
        self.wait_db([a, w])

    def test_socket_modes(self):
        for name in ("registry.sock", "persister.sock", "gateway-gw1.sock"):
            mode = os.stat(os.path.join(self.sys.tmp, name)).st_mode & 0o777
            self.assertEqual(mode, 0o600, "%s mode %o" % (name, mode))

    def test_other_uid_refused(self):
        """A peer of another uid that completes the SP handshake is
        disconnected before it can send (NNG_OPT_IPC_PEER_UID)."""
        if os.geteuid() != 0:
            self.skipTest("needs root to run a client as nobody")
        path = os.path.join(self.sys.tmp, "registry.sock")
        client = (
            "import socket,sys\n"
            "s=socket.socket(socket.AF_UNIX)\n"
            "try:\n s.connect(sys.argv[1])\n"
            "except PermissionError:\n print('EACCES'); sys.exit(0)\n"
            "s.settimeout(5)\n"
            "s.sendall(bytes.fromhex(sys.argv[2]))\n"
            "got=b''\n"
            "try:\n"
            " while True:\n"
            "  d=s.recv(64)\n"
            "  if not d: break\n"
            "  got+=d\n"
            "except socket.timeout:\n print('OPEN', got.hex()); sys.exit(0)\n"
            "print('CLOSED', got.hex())\n")
        hdr = sp_header(PUSH0).hex()
        # As is (dir 0700, socket 0600): the kernel refuses nobody.
        out = subprocess.run(
            ["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c",
             client, path, hdr], stdout=subprocess.PIPE,
            universal_newlines=True, timeout=30).stdout.strip()
        self.assertEqual(out, "EACCES", out)
        # Open the file system up: our credential check must refuse it.
        os.chmod(self.sys.tmp, 0o755)
        os.chmod(path, 0o666)
        mark = "peer credential test"
        self.sys.registry.mark(mark)
        out = subprocess.run(
            ["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c",
             client, path, hdr], stdout=subprocess.PIPE,
            universal_newlines=True, timeout=30).stdout.strip()
        self.assertTrue(out.startswith("CLOSED"), out)
        self.assertIn("refused a connection from uid",
                      self.sys.registry.tail(20, since=mark))
        os.chmod(self.sys.tmp, 0o700)
        self.sys.wait_serving()


if __name__ == "__main__":
    unittest.main()
