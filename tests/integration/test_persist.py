"""Persistence and restarts (PROTOCOL.md §5–6, DESIGN.md §3–4): last_seen in
PostgreSQL, membership surviving a registry restart, sessions living through
a registry restart, presence going on while the persister is away.

Each test gets a fresh System (processes are killed). Writes reach
PostgreSQL asynchronously (batched), so database checks poll, bounded.
"""

import signal
import time
import unittest

from harness import WAIT, SystemTestCase, now_ms, q, to_ms, uid

# Tolerance around the disconnect when comparing timestamps.
TOL_MS = 1500


class PersistBase(SystemTestCase):
    PER_TEST = True
    AUTH = "none"
    GRACE_MS = 1500

    def presence_row(self, user):
        rows = self.sys.sql("SELECT * FROM user_presence WHERE user_id = %s",
                            (user,))
        return rows[0] if rows else None

    def wait_row(self, user, pred, what, timeout=WAIT):
        deadline = time.monotonic() + timeout
        row = None
        while time.monotonic() < deadline:
            row = self.presence_row(user)
            if row is not None and pred(row):
                return row
            time.sleep(0.1)
        self.fail("user_presence of %s never %s within %.0f s; last row: %r"
                  % (user, what, timeout, row))

    def db_members(self, thread):
        rows = self.sys.sql(
            "SELECT user_id FROM thread_members WHERE thread_id = %s",
            (thread,))
        return sorted(r["user_id"] for r in rows)

    def wait_db_members(self, thread, expected, timeout=WAIT):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.db_members(thread)
            if got == sorted(expected):
                return
            time.sleep(0.1)
        self.fail("thread_members of %s: expected %r, still %r after %.0f s"
                  % (thread, sorted(expected), got, timeout))

    def http_members(self, thread):
        r = self.sys.http("GET", "/v1/threads/%s/members" % q(thread))
        self.assertEqual(r.status, 200, r)
        return sorted(r.json["user_ids"])

    def restart_registry(self, sig=signal.SIGKILL):
        rc = self.sys.kill_registry(sig)
        if sig == signal.SIGTERM:
            self.assertIn(rc, (0, -signal.SIGTERM),
                          "registry exit status after SIGTERM")
        self.sys.start_registry()
        self.sys.wait_serving()


class PersistTest(PersistBase):

    def test_schema(self):
        for table in ("user_presence", "thread_members", "presence_events",
                      "schema_migrations"):
            self.assertTrue(self.sys.table_exists(table), table)

    def _check_last_seen(self, end):
        """A is online for a while, then `end(a)` ends its last session.
        The offline event's and PostgreSQL's last_seen lie between the end
        and the offline event (a small tolerance either side)."""
        a_id, b_id = uid("a"), uid("b")
        self.sys.put_members(uid("t"), [a_id, b_id])
        b = self.connect(b_id)
        connected = now_ms()
        a = self.connect(a_id)
        b.expect_presence(a_id, "online")
        self.wait_row(a_id, lambda r: r["is_online"], "online")
        # Stay online a while, so that the connect time is distinguishable
        # from the disconnect time.
        b.expect_no_presence(a_id, 2.5)
        t_end = now_ms()
        end(a)
        ev = b.expect_presence(a_id, "offline",
                               timeout=self.grace_s() + WAIT)
        t_off = now_ms()
        self.assertGreater(t_end - connected, TOL_MS)
        lo, hi = t_end - TOL_MS, t_off + TOL_MS
        self.assertIsNotNone(ev["last_seen"], ev)
        self.assertTrue(lo <= ev["last_seen"] <= hi,
                        "event last_seen %d not in [%d, %d] (end %d)"
                        % (ev["last_seen"], lo, hi, t_end))
        row = self.wait_row(a_id, lambda r: not r["is_online"], "offline")
        self.assertEqual(row["status"], "offline", row)
        ls = to_ms(row["last_seen"])
        self.assertIsNotNone(ls, row)
        self.assertTrue(lo <= ls <= hi,
                        "stored last_seen %d not in [%d, %d] (end %d): %r"
                        % (ls, lo, hi, t_end, row))
        self.assertLessEqual(abs(ls - ev["last_seen"]), TOL_MS,
                             (row, ev))
        # History has A's events.
        hist = self.sys.sql("SELECT * FROM presence_events WHERE user_id = %s",
                            (a_id,))
        self.assertTrue(hist, "no presence_events rows for %s" % a_id)
        return row

    def test_last_seen_after_disconnect_and_grace(self):
        self._check_last_seen(lambda a: a.drop())

    def test_last_seen_after_bye(self):
        self._check_last_seen(lambda a: a.bye())

    def test_status_and_meta_persisted(self):
        a_id = uid("a")
        meta = {"user_name": "Alice", "user_type": "agent"}
        a = self.connect(a_id, meta=meta)
        self.assertOk(a.request("set_status", status="dnd", text="focus"))
        row = self.wait_row(a_id, lambda r: r["status"] == "dnd", "dnd")
        self.assertEqual(row["text"], "focus", row)
        self.assertTrue(row["is_online"], row)
        self.assertEqual(row["meta"], meta, row)

    def test_membership_survives_registry_kill(self):
        t = uid("t")
        a, b, c, d = uid("a"), uid("b"), uid("c"), uid("d")
        self.sys.put_members(t, [a, b, c])
        r = self.sys.http("DELETE", "/v1/threads/%s/members/%s" % (q(t), q(c)))
        self.assertEqual(r.status // 100, 2, r)
        r = self.sys.http("POST", "/v1/threads/%s/members" % q(t),
                          {"user_ids": [d]})
        self.assertEqual(r.status // 100, 2, r)
        expected = sorted([a, b, d])
        self.assertEqual(self.http_members(t), expected)
        self.wait_db_members(t, expected)
        self.restart_registry(signal.SIGKILL)
        self.assertEqual(self.http_members(t), expected)
        # And fan-out uses it.
        cb = self.connect(b)
        cc = self.connect(c)
        self.connect(a)
        cb.expect_presence(a, "online")
        cc.expect_no_presence(a, 1.0)

    def test_membership_change_survives_graceful_registry_stop(self):
        # SIGTERM right after the change: the registry flushes its pending
        # writes before it exits (DESIGN §3.4).
        t = uid("t")
        a, b = uid("a"), uid("b")
        self.sys.put_members(t, [a, b])
        r = self.sys.http("DELETE", "/v1/threads/%s/members/%s" % (q(t), q(a)))
        self.assertEqual(r.status // 100, 2, r)
        self.restart_registry(signal.SIGTERM)
        self.assertEqual(self.http_members(t), [b])

    def test_presence_of_offline_user_survives_registry_restart(self):
        a_id = uid("a")
        a = self.connect(a_id)
        self.assertOk(a.request("set_status", status="away", text="gone"))
        a.bye()
        row = self.wait_row(a_id, lambda r: not r["is_online"], "offline")
        self.restart_registry(signal.SIGKILL)
        w = self.connect(uid("w"))
        p = self.presence_of(w, [a_id])[a_id]
        self.assertPresence(p, a_id, status="offline", is_online=False)
        self.assertIsNotNone(p["last_seen"], p)
        self.assertLessEqual(abs(p["last_seen"] - to_ms(row["last_seen"])),
                             1000, (p, row))


class RegistryRestartTest(PersistBase):
    GATEWAYS = 2
    RESYNC_MS = 2000
    REGISTRY_ARGS = ("--resync-window-ms", str(RESYNC_MS))

    def test_connected_user_survives_registry_restart(self):
        a_id, b_id, w_id = uid("a"), uid("b"), uid("w")
        t = uid("t")
        self.sys.put_members(t, [a_id, b_id])
        b = self.connect(b_id, gw=0)
        w = self.connect(w_id, gw=1)  # a watcher, not a member
        self.assertEqual(w.request("watch", user_ids=[a_id])["type"],
                         "presence_list")
        a = self.connect(a_id, gw=1, meta={"user_name": "A"})
        self.assertOk(a.request("set_status", status="away", text="x"))
        for c in (b, w):
            c.expect_presence(a_id, "online")
            c.expect_presence(a_id, "away")
        # Wait until what the new registry will load is current: a write
        # lost to SIGKILL would make the re-announced state a real change
        # as far as the new registry can tell.
        self.wait_db_members(t, [a_id, b_id])
        self.wait_row(a_id, lambda r: r["status"] == "away", "away")
        self.restart_registry(signal.SIGKILL)
        # Nobody sees A flicker, through the whole resync window.
        b.expect_no_presence(a_id, self.RESYNC_MS / 1000.0 + 1.5)
        w.expect_no_presence(a_id, 0.1)
        p = self.presence_of(b, [a_id])[a_id]
        self.assertPresence(p, a_id, status="away", text="x", is_online=True,
                            meta={"user_name": "A"})
        # Sessions, watches and membership all work on the new registry.
        self.assertOk(a.request("set_status", status="dnd"))
        for c in (b, w):
            self.assertPresence(c.expect_presence(a_id), a_id, status="dnd")
        a.bye()
        for c in (b, w):
            c.expect_presence(a_id, "offline")
        row = self.wait_row(a_id, lambda r: not r["is_online"], "offline")
        self.assertEqual(row["status"], "offline", row)

    def test_user_leaving_while_registry_down(self):
        a_id, b_id = uid("a"), uid("b")
        self.sys.put_members(uid("t"), [a_id, b_id])
        b = self.connect(b_id)
        a = self.connect(a_id, gw=1)
        b.expect_presence(a_id, "online")
        self.wait_row(a_id, lambda r: r["is_online"], "online")
        self.sys.kill_registry(signal.SIGKILL)
        left = now_ms()
        a.drop()
        self.sys.start_registry()
        self.sys.wait_serving()
        ev = b.expect_presence(a_id, timeout=self.RESYNC_MS / 1000.0 +
                               self.grace_s() + WAIT)
        self.assertPresence(ev, a_id, status="offline", is_online=False)
        row = self.wait_row(a_id, lambda r: not r["is_online"], "offline")
        ls = to_ms(row["last_seen"])
        self.assertIsNotNone(ls, row)
        self.assertGreaterEqual(ls, left - TOL_MS, row)
        self.assertLessEqual(ls, now_ms(), row)
        b.expect_no_presence(a_id, 1.0)


class WriteWindowTest(PersistBase):
    """A long write window (docs/DESIGN.md, "Durability"): what waits in
    the registry's memory when it is SIGKILLed is not stored, yet a
    restart reloads the truth, since gateways re-announce live sessions
    with their status; SIGTERM still flushes everything; `history =
    transitions` keeps only rows to or from offline."""
    GATEWAYS = 1
    RESYNC_MS = 2000
    WINDOW_MS = 2000
    REGISTRY_ARGS = ("--write-window-ms", str(WINDOW_MS),
                     "--resync-window-ms", str(RESYNC_MS),
                     "--history", "transitions")

    def events(self, user):
        return [r["status"] for r in self.sys.sql(
            "SELECT status FROM presence_events WHERE user_id = %s"
            " ORDER BY at, id", (user,))]

    def test_registry_kill_within_window_reloads_truth(self):
        a_id, b_id, c_id = uid("a"), uid("b"), uid("c")
        t = uid("t")
        self.sys.put_members(t, [a_id, b_id, c_id])
        self.wait_db_members(t, [a_id, b_id, c_id])
        b = self.connect(b_id)
        a = self.connect(a_id)
        c = self.connect(c_id)
        b.expect_presence(a_id, "online")
        b.expect_presence(c_id, "online")
        self.wait_row(a_id, lambda r: r["is_online"], "online")
        self.wait_row(c_id, lambda r: r["is_online"], "online")
        # Changes inside one window, then SIGKILL before it ends: a's
        # latest status and c's bye are only in the registry's memory.
        self.assertOk(a.request("set_status", status="away", text="1"))
        self.assertOk(a.request("set_status", status="dnd", text="2"))
        c.bye()
        b.expect_presence(a_id, "away")
        b.expect_presence(a_id, "dnd")
        b.expect_presence(c_id, "offline")
        self.sys.kill_registry(signal.SIGKILL)
        self.assertNotEqual(self.presence_row(a_id)["status"], "dnd",
                            "the window did not hold the write")
        self.assertTrue(self.presence_row(c_id)["is_online"])
        self.sys.start_registry()
        self.sys.wait_serving()
        # The gateway re-announced a with its status: the new registry
        # serves the truth and stores it; c, not re-announced, goes
        # offline at the end of the resync window. b sees no flicker.
        p = self.presence_of(b, [a_id])[a_id]
        self.assertPresence(p, a_id, status="dnd", text="2", is_online=True)
        self.wait_row(a_id, lambda r: r["status"] == "dnd" and
                      r["text"] == "2" and r["is_online"], "dnd",
                      timeout=WAIT + self.WINDOW_MS / 1000.0)
        self.wait_row(c_id, lambda r: not r["is_online"], "offline",
                      timeout=WAIT + self.RESYNC_MS / 1000.0)
        b.expect_no_presence(a_id, 0.5)
        b.expect_no_presence(c_id, 0.1)
        # transitions: a's away/dnd flips left no rows.
        self.assertEqual(self.events(a_id), ["online"])

    def test_sigterm_flushes_the_window(self):
        a_id = uid("a")
        a = self.connect(a_id)
        self.wait_row(a_id, lambda r: r["is_online"], "online")
        self.assertOk(a.request("set_status", status="away", text="x"))
        self.assertOk(a.request("set_status", status="dnd", text="y"))
        a.bye()
        rc = self.sys.kill_registry(signal.SIGTERM)
        self.assertIn(rc, (0, -signal.SIGTERM))
        # Stored before the registry exited, not after a restart.
        row = self.presence_row(a_id)
        self.assertFalse(row["is_online"], row)
        self.assertEqual(row["text"], "y", row)
        self.assertEqual(self.events(a_id), ["online", "offline"])
        self.sys.start_registry()
        self.sys.wait_serving()


class PersisterDownTest(PersistBase):

    def test_presence_works_without_persister_and_catches_up(self):
        a_id, b_id = uid("a"), uid("b")
        t = uid("t")
        self.sys.put_members(t, [a_id, b_id])
        b = self.connect(b_id)
        a = self.connect(a_id)
        b.expect_presence(a_id, "online")
        self.wait_row(a_id, lambda r: r["is_online"], "online")
        self.sys.kill_persister(signal.SIGKILL)
        self.assertOk(a.request("set_status", status="away", text="1"))
        b.expect_presence(a_id, "away")
        self.assertOk(a.request("set_status", status="dnd", text="2"))
        b.expect_presence(a_id, "dnd")
        c_id = uid("c")
        r = self.sys.http("POST", "/v1/threads/%s/members" % q(t),
                          {"user_ids": [c_id]})
        self.assertEqual(r.status // 100, 2, r)
        self.sys.start_persister()
        row = self.wait_row(a_id, lambda r: r["status"] == "dnd",
                            "dnd", timeout=WAIT + 5)
        self.assertEqual(row["text"], "2", row)
        self.wait_db_members(t, [a_id, b_id, c_id], timeout=WAIT + 5)


if __name__ == "__main__":
    unittest.main()
