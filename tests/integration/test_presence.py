"""Presence semantics (PROTOCOL.md §3–5) through real daemons: audience,
multi-device, grace, bye, reconnects, gateway switches, statuses,
invisible, watch, query, list_online, typing.

Every test uses fresh user and thread ids, so tests sharing one System do not
see each other. Observers connect before the user they observe changes, so
no initial snapshot can be mistaken for an event.
"""

import signal
import time
import unittest

from harness import WAIT, SystemTestCase, now_ms, uid


class PresenceBase(SystemTestCase):
    AUTH = "none"
    GRACE_MS = 1200
    GATEWAYS = 2

    def thread(self, *users):
        t = uid("t")
        self.sys.put_members(t, users)
        return t

    def pair(self, gw_a=0, gw_b=0, **hello_a):
        """Users A and B sharing a thread; B connected first, then A, and B
        has seen A come online. Returns (a_id, b_id, a, b, online_event)."""
        a_id, b_id = uid("a"), uid("b")
        t = self.thread(a_id, b_id)
        b = self.connect(b_id, gw_b)
        a = self.connect(a_id, gw_a, **hello_a)
        ev = b.expect_presence(a_id)
        return a_id, b_id, a, b, ev, t


class PresenceTest(PresenceBase):

    def test_member_sees_online(self):
        meta = {"user_name": "Alice", "user_type": "agent"}
        a_id, b_id = uid("a"), uid("b")
        self.thread(a_id, b_id)
        b = self.connect(b_id)
        before = now_ms()
        self.connect(a_id, meta=meta, device="laptop")
        ev = b.expect_presence(a_id)
        self.assertPresence(ev, a_id, status="online", is_online=True,
                            text=None, meta=meta)
        # For an online user last_seen is the time of the event.
        self.assertIsNotNone(ev["last_seen"], ev)
        self.assertGreaterEqual(ev["last_seen"], before - 2000, ev)
        self.assertLessEqual(ev["last_seen"], now_ms() + 2000, ev)
        self.assertGreaterEqual(ev["since"], before - 2000, ev)
        b.expect_no_presence(a_id, 1.0)

    def test_member_on_other_gateway_sees_online(self):
        a_id, b_id, a, b, ev, t = self.pair(gw_a=1, gw_b=0)
        self.assertPresence(ev, a_id, status="online", is_online=True)
        a.drop()
        ev = b.expect_presence(a_id, timeout=self.grace_s() + WAIT)
        self.assertPresence(ev, a_id, status="offline", is_online=False)

    def test_multi_device_no_duplicate_online(self):
        a_id, b_id, a1, b, ev, t = self.pair()
        self.assertPresence(ev, a_id, status="online")
        a2 = self.connect(a_id, gw=1, device="phone")
        b.expect_no_presence(a_id, 1.5)
        # One device leaves uncleanly: A is still online, nothing visible.
        a1.drop()
        b.expect_no_presence(a_id, self.grace_s() + 1.0)
        p = self.presence_of(b, [a_id])[a_id]
        self.assertPresence(p, a_id, status="online", is_online=True)
        # The last device leaves: offline, but only after the grace.
        a2.drop()
        left = time.monotonic()
        b.expect_no_presence(a_id, max(0.0, self.grace_s() - 0.4))
        ev = b.expect_presence(a_id, timeout=WAIT)
        self.assertGreaterEqual(time.monotonic() - left,
                                self.grace_s() - 0.4)
        self.assertPresence(ev, a_id, status="offline", is_online=False)
        self.assertIsNotNone(ev["last_seen"], ev)
        b.expect_no_presence(a_id, 1.0)

    def test_every_session_of_the_audience_receives(self):
        a_id, b_id, a, b1, ev, t = self.pair()
        b2 = self.connect(b_id, gw=1)
        self.assertOk(a.request("set_status", status="away"))
        b1.expect_presence(a_id, "away")
        b2.expect_presence(a_id, "away")

    def test_hello_with_status(self):
        a_id, b_id = uid("a"), uid("b")
        self.thread(a_id, b_id)
        b = self.connect(b_id)
        self.connect(a_id, status="away", text="on the road")
        ev = b.expect_presence(a_id)
        self.assertPresence(ev, a_id, status="away", is_online=True,
                            text="on the road")
        b.expect_no_presence(a_id, 1.0)

    def test_events_in_order(self):
        a_id, b_id, a, b, ev, t = self.pair(gw_a=0, gw_b=1)
        texts = ["m%d" % i for i in range(12)]
        for i, text in enumerate(texts):
            a.send({"type": "set_status", "id": i,
                    "status": ("away", "dnd")[i % 2], "text": text})
        for i in range(len(texts)):
            self.assertOk(a.expect("ok", lambda m, i=i: m.get("id") == i))
        got = [b.expect_presence(a_id)["text"] for _ in texts]
        self.assertEqual(got, texts)
        b.expect_no_presence(a_id, 0.5)

    def test_clean_close_without_bye_uses_grace(self):
        a_id, b_id, a, b, ev, t = self.pair()
        a.close_frame(1000)
        left = time.monotonic()
        b.expect_no_presence(a_id, max(0.0, self.grace_s() - 0.4))
        b.expect_presence(a_id, "offline", timeout=WAIT)
        self.assertGreaterEqual(time.monotonic() - left,
                                self.grace_s() - 0.4)

    def test_reconnect_within_grace_no_events(self):
        meta = {"user_name": "Al"}
        a_id, b_id, a, b, ev, t = self.pair(meta=meta)
        a.drop()
        a2 = self.connect(a_id, meta=meta)
        b.expect_no_presence(a_id, self.grace_s() + 1.0)
        p = self.presence_of(b, [a_id])[a_id]
        self.assertPresence(p, a_id, status="online", is_online=True)
        # And the new session is a real one: its end is seen.
        a2.bye()
        b.expect_presence(a_id, "offline", timeout=WAIT)

    def test_switch_gateway_within_grace_no_events(self):
        a_id, b_id, a, b, ev, t = self.pair(gw_a=0, gw_b=1)
        a.drop()
        self.connect(a_id, gw=1)
        b.expect_no_presence(a_id, self.grace_s() + 1.0)
        p = self.presence_of(b, [a_id])[a_id]
        self.assertPresence(p, a_id, status="online", is_online=True)

    def test_bye_with_other_device_left(self):
        a_id, b_id, a1, b, ev, t = self.pair()
        a2 = self.connect(a_id, gw=1)
        b.expect_no_presence(a_id, 1.0)
        a1.bye()
        b.expect_no_presence(a_id, self.grace_s() + 0.5)
        a2.bye()
        b.expect_presence(a_id, "offline", timeout=WAIT)

    def test_set_status_seen_with_text(self):
        a_id, b_id, a, b, ev, t = self.pair()
        self.assertOk(a.request("set_status", status="away", text="lunch"))
        ev = b.expect_presence(a_id)
        self.assertPresence(ev, a_id, status="away", is_online=True,
                            text="lunch")
        self.assertOk(a.request("set_status", status="dnd",
                                text="in a meeting"))
        ev = b.expect_presence(a_id)
        self.assertPresence(ev, a_id, status="dnd", is_online=True,
                            text="in a meeting")
        self.assertOk(a.request("set_status", status="online"))
        ev = b.expect_presence(a_id)
        self.assertPresence(ev, a_id, status="online", is_online=True)
        p = self.presence_of(b, [a_id])[a_id]
        self.assertEqual(p["status"], "online", p)

    def test_status_belongs_to_user(self):
        # Latest choice wins on every device; A's other device is told.
        a_id, b_id, a1, b, ev, t = self.pair()
        a2 = self.connect(a_id, gw=1, client_kw={"ignore_self": False})
        b.expect_no_presence(a_id, 1.0)
        a2.drain(0.3)
        self.assertOk(a1.request("set_status", status="away", text="brb"))
        ev = b.expect_presence(a_id)
        self.assertPresence(ev, a_id, status="away", text="brb")
        own = a2.expect_presence(a_id)
        self.assertPresence(own, a_id, status="away", text="brb")
        # A third device saying hello with a status makes it the user's.
        self.connect(a_id, status="dnd")
        ev = b.expect_presence(a_id)
        self.assertPresence(ev, a_id, status="dnd", is_online=True)

    def test_no_event_when_nothing_visible_changes(self):
        a_id, b_id, a, b, ev, t = self.pair()
        self.assertOk(a.request("set_status", status="online"))
        b.expect_no_presence(a_id, 1.0)
        self.assertOk(a.request("set_status", status="away", text="x"))
        b.expect_presence(a_id, "away")
        self.assertOk(a.request("set_status", status="away", text="x"))
        b.expect_no_presence(a_id, 1.0)

    def test_invisible(self):
        a_id, b_id, a1, b, ev, t = self.pair()
        a2 = self.connect(a_id, gw=1, client_kw={"ignore_self": False})
        b.expect_no_presence(a_id, 1.0)
        a2.drain(0.3)
        self.assertOk(a1.request("set_status", status="invisible"))
        ev = b.expect_presence(a_id)
        self.assertPresence(ev, a_id, status="offline", is_online=False)
        own = a2.expect_presence(a_id)
        self.assertPresence(own, a_id, status="invisible", is_online=False)
        p = self.presence_of(b, [a_id])[a_id]
        self.assertPresence(p, a_id, status="offline", is_online=False)
        # A's own session asking sees invisible.
        p = self.presence_of(a2, [a_id])[a_id]
        self.assertEqual(p["status"], "invisible", p)
        # Invisible users are not listed online.
        r = b.request("list_online", thread_id=t)
        self.assertEqual(r["type"], "presence_list", r)
        self.assertNotIn(a_id, [u["user_id"] for u in r["users"]], r)
        # Devices coming and going while invisible show nothing.
        a2.drop()
        b.expect_no_presence(a_id, self.grace_s() + 1.0)
        # Visible again.
        self.assertOk(a1.request("set_status", status="online"))
        ev = b.expect_presence(a_id)
        self.assertPresence(ev, a_id, status="online", is_online=True)

    def test_hello_invisible_never_shows(self):
        a_id, b_id = uid("a"), uid("b")
        self.thread(a_id, b_id)
        b = self.connect(b_id)
        a = self.connect(a_id, status="invisible")
        b.expect_no_presence(a_id, 1.5)
        p = self.presence_of(b, [a_id])[a_id]
        self.assertPresence(p, a_id, status="offline", is_online=False)
        a.bye()
        b.expect_no_presence(a_id, 1.0)

    def test_non_members_never_receive(self):
        a_id, b_id, c_id = uid("a"), uid("b"), uid("c")
        t = self.thread(a_id, b_id)
        c = self.connect(c_id)  # shares no thread with A, watches nobody
        b = self.connect(b_id)
        a = self.connect(a_id)
        b.expect_presence(a_id, "online")
        self.assertOk(a.request("set_status", status="away", text="t"))
        b.expect_presence(a_id, "away")
        a.send({"type": "typing", "thread_id": t, "active": True})
        b.expect("typing", lambda m: m.get("user_id") == a_id)
        a.bye()
        b.expect_presence(a_id, "offline")
        c.expect_nothing(1.0, "presence", lambda m: m.get("user_id") == a_id)
        c.expect_nothing(0.1, "typing")
        c.expect_nothing(0.1)

    def test_watch_unwatch_non_member(self):
        a_id, b_id, c_id = uid("a"), uid("b"), uid("c")
        self.thread(a_id, b_id)
        b = self.connect(b_id)
        c = self.connect(c_id)
        r = c.request("watch", user_ids=[a_id])
        self.assertEqual(r["type"], "presence_list", r)
        self.assertEqual([u["user_id"] for u in r["users"]], [a_id], r)
        self.assertPresence(r["users"][0], a_id, status="offline",
                            is_online=False, last_seen=None)
        a = self.connect(a_id)
        self.assertPresence(c.expect_presence(a_id), a_id, status="online")
        b.expect_presence(a_id, "online")
        self.assertOk(a.request("set_status", status="dnd"))
        c.expect_presence(a_id, "dnd")
        b.expect_presence(a_id, "dnd")
        self.assertOk(c.request("unwatch", user_ids=[a_id]))
        self.assertOk(a.request("set_status", status="away"))
        b.expect_presence(a_id, "away")
        c.expect_no_presence(a_id, 1.0)
        a.bye()
        b.expect_presence(a_id, "offline")
        c.expect_no_presence(a_id, 0.5)

    def test_watch_belongs_to_user(self):
        # §5: the audience is every user with a session that watches A, and
        # every live session of such a user hears, not only the watching
        # one: C1 on gateway 0 watches A, C2 (gateway 1) never asked.
        a_id, c_id = uid("a"), uid("c")
        c1 = self.connect(c_id, gw=0)
        c2 = self.connect(c_id, gw=1)
        r = c1.request("watch", user_ids=[a_id])
        self.assertEqual(r["type"], "presence_list", r)
        a = self.connect(a_id)
        for c in (c1, c2):
            self.assertPresence(c.expect_presence(a_id), a_id,
                                status="online", is_online=True)
        self.assertOk(a.request("set_status", status="dnd", text="focus"))
        for c in (c1, c2):
            self.assertPresence(c.expect_presence(a_id), a_id,
                                status="dnd", text="focus")
        # One event per change for each session.
        c1.expect_no_presence(a_id, 0.5)
        c2.expect_no_presence(a_id, 0.1)
        # The watch lives as long as the session that made it.
        c1.bye()
        self.assertOk(a.request("set_status", status="away"))
        c2.expect_no_presence(a_id, 1.0)

    def test_watch_several_and_own_offline_grace(self):
        x, y, w = uid("x"), uid("y"), uid("w")
        watcher = self.connect(w)
        r = watcher.request("watch", user_ids=[x, y])
        self.assertEqual(r["type"], "presence_list", r)
        self.assertEqual(sorted(u["user_id"] for u in r["users"]),
                         sorted([x, y]), r)
        cx = self.connect(x, gw=1)
        watcher.expect_presence(x, "online")
        cy = self.connect(y)
        watcher.expect_presence(y, "online")
        cx.drop()
        watcher.expect_presence(x, "offline", timeout=self.grace_s() + WAIT)
        cy.bye()
        watcher.expect_presence(y, "offline")

    def test_query(self):
        a_id, b_id, a, b, ev, t = self.pair()
        never = uid("never")
        stranger = uid("s")
        s = self.connect(stranger)
        r = s.request("query", user_ids=[a_id, never])
        self.assertEqual(r["type"], "presence_list", r)
        got = {u["user_id"]: u for u in r["users"]}
        self.assertEqual(set(got), {a_id, never}, r)
        self.assertPresence(got[a_id], a_id, status="online", is_online=True)
        self.assertPresence(got[never], never, status="offline",
                            is_online=False, last_seen=None)
        # query is not a subscription.
        self.assertOk(a.request("set_status", status="away"))
        b.expect_presence(a_id, "away")
        s.expect_no_presence(a_id, 1.0)

    def test_list_online(self):
        a_id, b_id, c_id, d_id = uid("a"), uid("b"), uid("c"), uid("d")
        t = self.thread(a_id, b_id, d_id)  # d stays offline
        a = self.connect(a_id)
        b = self.connect(b_id, gw=1)
        c = self.connect(c_id)  # online, not a member
        r = b.request("list_online", thread_id=t)
        self.assertEqual(r["type"], "presence_list", r)
        ids = [u["user_id"] for u in r["users"]]
        self.assertEqual(sorted(ids), sorted([a_id, b_id]), r)
        for u in r["users"]:
            self.assertPresence(u, status="online", is_online=True)
        # Without thread: users sharing a thread with the caller or watched.
        r = a.request("list_online")
        self.assertEqual(r["type"], "presence_list", r)
        ids = [u["user_id"] for u in r["users"]]
        self.assertIn(b_id, ids, r)
        self.assertNotIn(c_id, ids, r)
        self.assertNotIn(d_id, ids, r)
        # c watches a: a appears in c's list, b does not.
        self.assertEqual(c.request("watch", user_ids=[a_id])["type"],
                         "presence_list")
        r = c.request("list_online")
        ids = [u["user_id"] for u in r["users"]]
        self.assertIn(a_id, ids, r)
        self.assertNotIn(b_id, ids, r)
        # Not a member → forbidden.
        self.assertError(c.request("list_online", thread_id=t), "forbidden")

    def test_typing(self):
        a_id, b_id, c_id, x_id = uid("a"), uid("b"), uid("c"), uid("x")
        t = self.thread(a_id, b_id, c_id)
        b = self.connect(b_id)
        c = self.connect(c_id, gw=1)
        x = self.connect(x_id)  # not a member
        a = self.connect(a_id)
        b.expect_presence(a_id, "online")
        c.expect_presence(a_id, "online")
        a.send({"type": "typing", "thread_id": t, "active": True})
        for member in (b, c):
            m = member.expect("typing", lambda m: m.get("user_id") == a_id)
            self.assertEqual(m["thread_id"], t, m)
            self.assertIs(m["active"], True, m)
        a.send({"type": "typing", "thread_id": t, "active": False})
        for member in (b, c):
            m = member.expect("typing", lambda m: m.get("user_id") == a_id)
            self.assertIs(m["active"], False, m)
        a.expect_nothing(1.0, "typing")
        x.expect_nothing(0.1, "typing")

    def test_typing_from_non_member_not_delivered(self):
        a_id, b_id, x_id = uid("a"), uid("b"), uid("x")
        t = self.thread(a_id, b_id)
        b = self.connect(b_id)
        a = self.connect(a_id)
        x = self.connect(x_id)
        b.expect_presence(a_id, "online")
        x.send({"type": "typing", "thread_id": t, "active": True})
        a.send({"type": "typing", "thread_id": t, "active": True})
        # A's typing comes through; X's never does (checked after A's, so
        # X's went through the same path first).
        m = b.expect("typing", lambda m: m.get("user_id") == a_id)
        self.assertEqual(m["thread_id"], t)
        b.expect_nothing(1.5, "typing", lambda m: m.get("user_id") == x_id)
        a.expect_nothing(0.1, "typing", lambda m: m.get("user_id") == x_id)

    def test_typing_expires(self):
        a_id, b_id = uid("a"), uid("b")
        t = self.thread(a_id, b_id)
        b = self.connect(b_id)
        a = self.connect(a_id)
        b.expect_presence(a_id, "online")
        a.send({"type": "typing", "thread_id": t, "active": True})
        sent = time.monotonic()
        m = b.expect("typing", lambda m: m.get("user_id") == a_id)
        self.assertIs(m["active"], True, m)
        m = b.expect("typing", lambda m: m.get("user_id") == a_id,
                     timeout=6 + WAIT)
        self.assertIs(m["active"], False, m)
        self.assertEqual(m["thread_id"], t)
        # Expiry, not an immediate echo: about 6 s after the typing.
        self.assertGreaterEqual(time.monotonic() - sent, 5.0)
        a.expect_nothing(0.5, "typing")

    def test_membership_change_takes_effect_at_once(self):
        a_id, b_id, c_id = uid("a"), uid("b"), uid("c")
        t = self.thread(a_id, b_id)
        b = self.connect(b_id)
        c = self.connect(c_id)
        a = self.connect(a_id)
        b.expect_presence(a_id, "online")
        r = self.sys.http("POST", "/v1/threads/%s/members" % t,
                          {"user_ids": [c_id]})
        self.assertEqual(r.status // 100, 2, r)
        self.assertOk(a.request("set_status", status="away"))
        b.expect_presence(a_id, "away")
        c.expect_presence(a_id, "away")
        r = self.sys.http("DELETE", "/v1/threads/%s/members/%s" % (t, c_id))
        self.assertEqual(r.status // 100, 2, r)
        self.assertOk(a.request("set_status", status="dnd"))
        b.expect_presence(a_id, "dnd")
        c.expect_no_presence(a_id, 1.0)

    def test_one_event_per_change_whatever_the_paths(self):
        # B shares two threads with A and also watches A: still exactly one
        # event per change.
        a_id, b_id = uid("a"), uid("b")
        self.thread(a_id, b_id)
        self.thread(a_id, b_id)
        b = self.connect(b_id)
        self.assertEqual(b.request("watch", user_ids=[a_id])["type"],
                         "presence_list")
        a = self.connect(a_id)
        b.expect_presence(a_id, "online")
        b.expect_no_presence(a_id, 1.0)
        self.assertOk(a.request("set_status", status="away"))
        b.expect_presence(a_id, "away")
        b.expect_no_presence(a_id, 1.0)


class ByeTest(PresenceBase):
    """A long grace, so that "offline at once" is told apart from the grace
    without asserting anything about speed."""

    GRACE_MS = 8000
    GATEWAYS = 1

    def test_bye_offline_at_once(self):
        a_id, b_id, a, b, ev, t = self.pair()
        a.bye()
        ev = b.expect_presence(a_id, timeout=self.grace_s() - 2.0)
        self.assertPresence(ev, a_id, status="offline", is_online=False)
        self.assertIsNotNone(ev["last_seen"], ev)

    def test_close_waits_for_grace(self):
        a_id, b_id, a, b, ev, t = self.pair()
        a.drop()
        b.expect_no_presence(a_id, 3.0)
        self.assertEqual(self.presence_of(b, [a_id])[a_id]["status"],
                         "online")


class GatewayCrashTest(PresenceBase):
    """DESIGN §3.1: a gateway killed with SIGKILL ends its sessions as unclean
    ones; a client reconnecting elsewhere within the grace causes no
    flicker, others go offline after the grace."""

    PER_TEST = True
    GRACE_MS = 2500
    GATEWAYS = 2

    def test_gateway_kill(self):
        a_id, b_id, c_id = uid("a"), uid("b"), uid("c")
        self.thread(a_id, b_id, c_id)
        b = self.connect(b_id, gw=1)
        self.connect(a_id, gw=0)
        b.expect_presence(a_id, "online")
        self.connect(c_id, gw=0)
        b.expect_presence(c_id, "online")
        self.sys.kill_gateway(0, signal.SIGKILL)
        killed = time.monotonic()
        # A moves to the surviving gateway at once; C does not come back.
        self.connect(a_id, gw=1)
        ev = b.expect_presence(c_id, timeout=self.grace_s() + WAIT)
        self.assertPresence(ev, c_id, status="offline", is_online=False)
        self.assertGreaterEqual(time.monotonic() - killed,
                                self.grace_s() - 0.5)
        b.expect_no_presence(a_id, 1.0)
        self.assertEqual(self.presence_of(b, [a_id])[a_id]["status"],
                         "online")


if __name__ == "__main__":
    unittest.main()
