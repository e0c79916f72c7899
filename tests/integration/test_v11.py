"""Protocol v1.1 through real daemons and sockets: token lifetime and
refresh (PROTOCOL.md §2), auto-away from activity reports (§3, §5) and
the admin endpoints for sessions and history (§6).

As elsewhere, every test uses fresh ids, and observers connect before the
user they observe changes.
"""

import time
import unittest

import jwt

from harness import WAIT, SystemTestCase, http_request, now_ms, q, uid


class V11Base(SystemTestCase):
    GRACE_MS = 2500

    def wait_sql(self, query, args, pred, what):
        """Polls a query on the System's database until pred(rows)."""
        deadline = time.monotonic() + WAIT
        while True:
            rows = self.sys.sql(query, args)
            if pred(rows):
                return rows
            if time.monotonic() > deadline:
                self.fail("%s: not stored within %.0f s: %r"
                          % (what, WAIT, rows))
            time.sleep(0.05)

    def thread(self, *users):
        t = uid("t")
        self.sys.put_members(t, users)
        return t

    def watched(self, gw_w=0, gw_u=0, **hello):
        """Users U and W sharing a thread; W connected first, then U, and
        W has seen U come online. Returns (u_id, w_id, u, w)."""
        u_id, w_id = uid("u"), uid("w")
        self.thread(u_id, w_id)
        w = self.connect(w_id, gw_w)
        u = self.connect(u_id, gw_u, **hello)
        self.assertPresence(w.expect_presence(u_id), u_id, status="online")
        return u_id, w_id, u, w

    def assertErrorBody(self, r, status, code=None):
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.json, dict, r)
        err = r.json.get("error")
        self.assertIsInstance(err, dict, r)
        self.assertIsInstance(err.get("message"), str, r)
        if code is not None:
            self.assertEqual(err.get("code"), code, r)


# ---------------------------------------------------------------- §2

class TokenLifetimeTest(V11Base):
    AUTH = "jwt"

    def short_token(self, user, seconds=3):
        """A token that expires in `seconds` (whole seconds, as exp is):
        returns (token, exp as a UNIX time)."""
        exp = int(time.time()) + seconds
        tok = jwt.encode({"sub": user, "exp": exp}, self.sys.jwt_secret,
                         algorithm="HS256")
        return tok, exp

    def expect_expiry(self, c, exp):
        """c gets error token_expired, then close 1008, at exp (not
        before; at most a few cron ticks after)."""
        m = c.expect("error", timeout=max(0.0, exp - time.time()) + WAIT)
        now = time.time()
        self.assertError(m, "token_expired")
        self.assertGreaterEqual(now, exp - 0.3, m)
        self.assertLess(now, exp + 3.0, m)
        c.expect_close(1008)
        return now

    def test_expiry_closes_1008(self):
        u = uid("u")
        tok, exp = self.short_token(u, 2)
        c = self.connect(u, token=tok)
        self.assertEqual(c.request("ping")["type"], "pong")
        self.expect_expiry(c, exp)

    def test_expiry_of_a_header_token(self):
        u = uid("u")
        tok, exp = self.short_token(u, 2)
        c = self.client(headers={"Authorization": "Bearer " + tok})
        self.assertEqual(c.hello()["user_id"], u)
        self.expect_expiry(c, exp)

    def test_refresh_extends_life(self):
        u = uid("u")
        tok, exp = self.short_token(u, 3)
        c = self.connect(u, token=tok)
        self.assertOk(c.request("refresh", token=self.sys.token(u)))
        # Past the old exp the session still lives, and only then.
        time.sleep(max(0.0, exp - time.time()) + 1.5)
        self.assertEqual(c.request("ping")["type"], "pong")
        c.expect_nothing(0.5, "error")

    def test_refresh_to_a_shorter_token_ends_sooner(self):
        u = uid("u")
        c = self.connect(u)  # an hour
        tok, exp = self.short_token(u, 2)
        self.assertOk(c.request("refresh", token=tok))
        self.expect_expiry(c, exp)

    def test_refresh_refused_leaves_the_session_unchanged(self):
        u, other = uid("u"), uid("other")
        tok, exp = self.short_token(u, 3)
        c = self.connect(u, token=tok)
        self.assertError(c.request("refresh", token=self.sys.token(other)),
                         "unauthorized")
        forged = jwt.encode({"sub": u, "exp": int(time.time()) + 3600},
                            "wrong-secret", algorithm="HS256")
        self.assertError(c.request("refresh", token=forged), "unauthorized")
        expired = jwt.encode({"sub": u, "exp": int(time.time()) - 10},
                             self.sys.jwt_secret, algorithm="HS256")
        self.assertError(c.request("refresh", token=expired),
                         "unauthorized")
        self.assertError(c.request("refresh", token="not.a.jwt"),
                         "unauthorized")
        self.assertError(c.request("refresh"), "bad_request")
        self.assertError(c.request("refresh", token=7), "bad_request")
        # Still open, and it still ends at the first token's exp.
        self.assertEqual(c.request("ping")["type"], "pong")
        self.expect_expiry(c, exp)

    def test_no_flicker_when_reconnecting_after_expiry(self):
        u_id, w_id = uid("u"), uid("w")
        self.thread(u_id, w_id)
        w = self.connect(w_id)
        tok, exp = self.short_token(u_id, 2)
        u = self.connect(u_id, token=tok)
        w.expect_presence(u_id, "online")
        self.expect_expiry(u, exp)
        # The client reconnects with a fresh token within the grace.
        u2 = self.connect(u_id)
        w.expect_no_presence(u_id, self.grace_s() + 1.0)
        p = self.presence_of(w, [u_id])[u_id]
        self.assertPresence(p, u_id, status="online", is_online=True)
        u2.bye()
        w.expect_presence(u_id, "offline")

    def test_expiry_is_unclean(self):
        u_id, w_id = uid("u"), uid("w")
        self.thread(u_id, w_id)
        w = self.connect(w_id)
        tok, exp = self.short_token(u_id, 2)
        u = self.connect(u_id, token=tok)
        w.expect_presence(u_id, "online")
        closed = self.expect_expiry(u, exp)
        # Offline only after the grace: the end was not a bye.
        w.expect_no_presence(u_id, max(0.0, self.grace_s() - 0.5))
        ev = w.expect_presence(u_id, "offline", timeout=WAIT)
        self.assertGreaterEqual(time.time() - closed, self.grace_s() - 0.5)
        self.assertPresence(ev, u_id, status="offline", is_online=False)

    def test_http_heartbeat_session_ends_at_exp(self):
        u_id, w_id = uid("u"), uid("w")
        self.thread(u_id, w_id)
        w = self.connect(w_id)
        tok, exp = self.short_token(u_id, 2)
        r = self.sys.http("POST", "/v1/heartbeat", token=tok)
        self.assertEqual(r.status, 200, r)
        w.expect_presence(u_id, "online")
        # It would live http_session_ttl_ms (60 s); the token ends it, and
        # uncleanly: offline once the grace after exp has passed.
        ev = w.expect_presence(u_id, "offline",
                               timeout=exp - time.time() + WAIT)
        self.assertGreaterEqual(time.time(), exp + self.grace_s() - 0.5, ev)
        self.assertLess(time.time(), exp + self.grace_s() + 4.0, ev)

    def test_http_heartbeat_with_a_fresh_token_extends_it(self):
        u_id, w_id = uid("u"), uid("w")
        self.thread(u_id, w_id)
        w = self.connect(w_id)
        tok, exp = self.short_token(u_id, 2)
        self.assertEqual(
            self.sys.http("POST", "/v1/heartbeat", token=tok).status, 200)
        w.expect_presence(u_id, "online")
        r = self.sys.http("POST", "/v1/heartbeat", user=u_id)  # an hour
        self.assertEqual(r.status, 200, r)
        w.expect_no_presence(u_id, exp - time.time() + self.grace_s() + 1.0)
        self.assertEqual(
            self.sys.http("POST", "/v1/logout", user=u_id).status, 200)
        w.expect_presence(u_id, "offline")


class RefreshAuthNoneTest(V11Base):
    AUTH = "none"

    def test_refresh_is_accepted_without_lifetime(self):
        c = self.connect(uid("u"))
        self.assertOk(c.request("refresh", token="anything"))
        self.assertError(c.request("refresh"), "bad_request")


# ---------------------------------------------------------------- §3, §5

class AutoAwayTest(V11Base):
    AUTH = "none"
    GATEWAYS = 2

    def test_single_device_idle_and_back(self):
        u_id, w_id, u, w = self.watched()
        self.assertOk(u.request("activity", idle=True))
        ev = w.expect_presence(u_id, "away", auto=True, is_online=True)
        self.assertPresence(ev, u_id)
        # Own sessions see it too: the status was derived, not chosen.
        u.expect_presence(u_id, "away", auto=True)
        w.expect_no_presence(u_id, 0.5)
        self.assertOk(u.request("activity", idle=False))
        ev = w.expect_presence(u_id, "online")
        self.assertNotIn("auto", ev)
        u.expect_presence(u_id, "online")
        w.expect_no_presence(u_id, 0.5)

    def test_every_live_session_must_be_idle(self):
        u_id, w_id, u1, w = self.watched(gw_u=0)
        u2 = self.connect(u_id, gw=1)
        w.expect_no_presence(u_id, 0.5)
        # One of two devices idle: nothing visible changes.
        self.assertOk(u1.request("activity", idle=True))
        w.expect_no_presence(u_id, 1.0)
        # Both idle: one away.
        self.assertOk(u2.request("activity", idle=True))
        w.expect_presence(u_id, "away", auto=True)
        # Idle again while already idle: nothing.
        self.assertOk(u1.request("activity", idle=True))
        w.expect_no_presence(u_id, 1.0)
        # One device active again: one online.
        self.assertOk(u2.request("activity", idle=False))
        self.assertNotIn("auto", w.expect_presence(u_id, "online"))
        w.expect_no_presence(u_id, 1.0)
        # The active one leaves: only idle ones remain.
        u2.bye()
        w.expect_presence(u_id, "away", auto=True)
        w.expect_no_presence(u_id, 0.5)

    def test_new_sessions_start_active(self):
        u_id, w_id, u1, w = self.watched()
        self.assertOk(u1.request("activity", idle=True))
        w.expect_presence(u_id, "away", auto=True)
        u2 = self.connect(u_id, gw=1)
        self.assertNotIn("auto", w.expect_presence(u_id, "online"))
        w.expect_no_presence(u_id, 0.5)
        r = self.sys.http("GET", "/v1/users/%s/sessions" % q(u_id))
        self.assertEqual(r.status, 200, r)
        idle = {s["session_id"]: s["idle"] for s in r.json["sessions"]}
        self.assertEqual(idle, {u1.session_id: True,
                                u2.session_id: False}, r)

    def test_chosen_status_is_not_overridden(self):
        u_id, w_id, u, w = self.watched()
        for status, shown in (("dnd", "dnd"), ("away", "away"),
                              ("invisible", "offline")):
            self.assertOk(u.request("set_status", status=status))
            ev = w.expect_presence(u_id, shown)
            self.assertNotIn("auto", ev)
            self.assertOk(u.request("activity", idle=True))
            w.expect_no_presence(u_id, 1.0)
            self.assertOk(u.request("activity", idle=False))
            w.expect_no_presence(u_id, 0.5)
        # Choosing online while idle: away, derived.
        self.assertOk(u.request("activity", idle=True))
        w.expect_no_presence(u_id, 0.5)
        self.assertOk(u.request("set_status", status="online"))
        w.expect_presence(u_id, "away", auto=True)
        # Choosing away while shown auto-away: the same status, now
        # chosen (the object loses "auto"); activity changes nothing.
        self.assertOk(u.request("set_status", status="away"))
        self.assertNotIn("auto", w.expect_presence(u_id, "away"))
        self.assertOk(u.request("activity", idle=False))
        w.expect_no_presence(u_id, 1.0)

    def test_auto_in_queries(self):
        u_id, w_id, u, w = self.watched()
        self.assertOk(u.request("activity", idle=True))
        w.expect_presence(u_id, "away", auto=True)
        p = self.presence_of(w, [u_id])[u_id]
        self.assertPresence(p, u_id, status="away", is_online=True,
                            auto=True)
        r = self.sys.http("GET", "/v1/users/%s/presence" % q(u_id))
        self.assertEqual(r.status, 200, r)
        self.assertPresence(r.json, u_id, status="away", auto=True)
        self.assertOk(u.request("activity", idle=False))
        w.expect_presence(u_id, "online")
        p = self.presence_of(w, [u_id])[u_id]
        self.assertNotIn("auto", p)

    def test_other_devices_keep_the_chosen_status(self):
        # An own event about auto-away must not make the other devices
        # believe the user chose away (they re-announce what they hold).
        u_id, w_id, u1, w = self.watched()
        u2 = self.connect(u_id, gw=1)
        self.assertOk(u1.request("activity", idle=True))
        self.assertOk(u2.request("activity", idle=True))
        w.expect_presence(u_id, "away", auto=True)
        u1.expect_presence(u_id, "away", auto=True)
        u2.expect_presence(u_id, "away", auto=True)
        self.assertOk(u2.request("activity", idle=False))
        w.expect_presence(u_id, "online")
        rows = self.sys.sql("SELECT status FROM user_presence "
                            "WHERE user_id = %s", (u_id,))
        self.assertIn(rows, ([], [{"status": "online"}]))

    def test_activity_errors(self):
        u = self.connect(uid("u"))
        for fields in ({}, {"idle": "yes"}, {"idle": 1}, {"idle": None}):
            with self.subTest(fields=fields):
                self.assertError(u.request("activity", **fields),
                                 "bad_request")
        self.assertEqual(u.request("ping")["type"], "pong")

    def test_auto_away_grace(self):
        # The last (idle) device drops: away until the grace ends, then
        # offline; no flash of online in between.
        u_id, w_id, u, w = self.watched()
        self.assertOk(u.request("activity", idle=True))
        w.expect_presence(u_id, "away", auto=True)
        u.drop()
        w.expect_no_presence(u_id, max(0.0, self.grace_s() - 0.5))
        w.expect_presence(u_id, "offline")


class AutoAwayRestartTest(V11Base):
    AUTH = "none"
    PER_TEST = True

    def test_idle_survives_a_registry_restart(self):
        u_id, w_id, u, w = self.watched()
        self.assertOk(u.request("activity", idle=True))
        w.expect_presence(u_id, "away", auto=True)
        # Writes are asynchronous: restart once the state is stored.
        self.wait_sql("SELECT status, auto_away FROM user_presence "
                      "WHERE user_id = %s", (u_id,),
                      lambda rows: rows == [{"status": "online",
                                             "auto_away": True}],
                      "auto-away of U")
        time.sleep(0.3)  # and acknowledged
        self.sys.kill_registry()
        self.sys.start_registry()
        self.sys.wait_serving()
        # Re-announced idle: nothing changed for anyone.
        w.expect_no_presence(u_id, 1.5)
        p = self.presence_of(w, [u_id])[u_id]
        self.assertPresence(p, u_id, status="away", auto=True)
        # The choice was kept as online, so activity brings it back.
        self.assertOk(u.request("activity", idle=False))
        self.assertNotIn("auto", w.expect_presence(u_id, "online"))
        rows = self.sys.sql("SELECT status FROM user_presence "
                            "WHERE user_id = %s", (u_id,))
        self.assertEqual(rows, [{"status": "online"}])


# ---------------------------------------------------------------- §6

class AdminTest(V11Base):
    AUTH = "jwt"
    GATEWAYS = 2

    def sessions(self, user, **kw):
        kw.setdefault("admin", True)
        r = self.sys.http("GET", "/v1/users/%s/sessions" % q(user), **kw)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.json.get("sessions"), list, r)
        return r.json["sessions"]

    def kick(self, user, **kw):
        kw.setdefault("admin", True)
        r = self.sys.http("DELETE", "/v1/users/%s/sessions" % q(user), **kw)
        self.assertEqual(r.status, 200, r)
        return r.json["ended"]

    def history(self, who, query="", **kw):
        kw.setdefault("admin", True)
        r = self.sys.http("GET", "/v1/users/%s/history%s" % (q(who), query),
                          **kw)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.json.get("events"), list, r)
        for e in r.json["events"]:
            self.assertEqual(set(e), {"status", "is_online", "at"}, r)
            self.assertIsInstance(e["is_online"], bool, r)
            self.assertIsInstance(e["at"], int, r)
        return r.json["events"]

    def test_sessions_list(self):
        u_id = uid("u")
        before = now_ms()
        a = self.connect(u_id, gw=0, device="phone")
        b = self.connect(u_id, gw=1)
        self.assertEqual(
            self.sys.http("POST", "/v1/heartbeat", user=u_id).status, 200)
        self.assertOk(a.request("activity", idle=True))
        got = self.sessions(u_id)
        self.assertEqual(len(got), 3, got)
        for s in got:
            self.assertEqual(set(s), {"session_id", "gateway", "device",
                                      "since", "idle"}, s)
            self.assertIsInstance(s["since"], int, s)
            self.assertGreaterEqual(s["since"], before - 2000, s)
            self.assertLessEqual(s["since"], now_ms() + 2000, s)
        by_id = {s["session_id"]: s for s in got}
        self.assertEqual(by_id[a.session_id]["gateway"], "gw1")
        self.assertEqual(by_id[a.session_id]["device"], "phone")
        self.assertTrue(by_id[a.session_id]["idle"])
        self.assertEqual(by_id[b.session_id]["gateway"], "gw2")
        self.assertIsNone(by_id[b.session_id]["device"])
        self.assertFalse(by_id[b.session_id]["idle"])
        http = [s for s in got if s["session_id"] not in
                (a.session_id, b.session_id)]
        self.assertEqual(http[0]["gateway"], "gw1", got)
        self.assertFalse(http[0]["idle"], got)
        self.assertEqual(self.sessions(uid("never")), [])

    def test_admin_only(self):
        u_id = uid("u")
        self.connect(u_id)
        path = "/v1/users/%s/sessions" % q(u_id)
        for method in ("GET", "DELETE"):
            with self.subTest(method=method):
                r = http_request(self.sys.port(), method, path)
                self.assertErrorBody(r, 401, "unauthorized")
                # Not even for oneself.
                r = self.sys.http(method, path, user=u_id)
                self.assertErrorBody(r, 403, "forbidden")
                r = self.sys.http(method, path,
                                  token=self.sys.token(u_id, admin=False))
                self.assertErrorBody(r, 403, "forbidden")
                r = self.sys.http(method, "/v1/users/%01/sessions",
                                  admin=True)
                self.assertErrorBody(r, 400, "bad_request")
        r = self.sys.http("POST", path, admin=True)
        self.assertErrorBody(r, 405)
        self.assertEqual(len(self.sessions(u_id)), 1)

    def test_kick(self):
        u_id, w_id = uid("u"), uid("w")
        self.thread(u_id, w_id)
        w = self.connect(w_id)
        a = self.connect(u_id, gw=0)
        b = self.connect(u_id, gw=1)
        w.expect_presence(u_id, "online")
        other = self.connect(uid("x"))
        t0 = time.monotonic()
        self.assertEqual(self.kick(u_id), 2)
        for c in (a, b):
            c.expect_close(4001)
            self.assertEqual(c.closed[1], "kicked")
        # Clean: offline at once, not after the grace.
        ev = w.expect_presence(u_id, "offline", timeout=WAIT)
        self.assertLess(time.monotonic() - t0, self.grace_s() - 0.5, ev)
        self.assertPresence(ev, u_id, is_online=False)
        w.expect_no_presence(u_id, 0.5)
        self.assertEqual(self.sessions(u_id), [])
        self.assertEqual(self.kick(u_id), 0)
        # Nobody else was touched.
        self.assertEqual(other.request("ping")["type"], "pong")
        self.assertEqual(w.request("ping")["type"], "pong")
        # The user may come back.
        self.connect(u_id, gw=1)
        w.expect_presence(u_id, "online")

    def test_kick_http_session(self):
        u_id, w_id = uid("u"), uid("w")
        self.thread(u_id, w_id)
        w = self.connect(w_id)
        self.assertEqual(
            self.sys.http("POST", "/v1/heartbeat", user=u_id, gw=1).status,
            200)
        w.expect_presence(u_id, "online")
        t0 = time.monotonic()
        self.assertEqual(self.kick(u_id), 1)
        w.expect_presence(u_id, "offline")
        self.assertLess(time.monotonic() - t0, self.grace_s() - 0.5)
        self.assertEqual(self.sessions(u_id), [])

    def test_kick_ends_a_running_grace(self):
        u_id, w_id, u, w = self.watched()
        u.drop()
        time.sleep(0.3)
        self.assertEqual(self.kick(u_id), 0)
        t0 = time.monotonic()
        w.expect_presence(u_id, "offline")
        self.assertLess(time.monotonic() - t0, self.grace_s() - 0.5)

    def test_history(self):
        u_id = uid("u")
        u = self.connect(u_id)
        for status in ("away", "dnd"):
            time.sleep(0.02)  # distinct timestamps
            self.assertOk(u.request("set_status", status=status))
        time.sleep(0.02)
        u.bye()
        events = self.history(u_id)
        self.assertEqual([(e["status"], e["is_online"]) for e in events],
                         [("offline", False), ("dnd", True),
                          ("away", True), ("online", True)], events)
        ats = [e["at"] for e in events]
        self.assertEqual(ats, sorted(ats, reverse=True), events)
        self.assertLess(abs(ats[0] - now_ms()), 60000, events)
        # Exactly what presence_events holds.
        rows = self.sys.sql("SELECT status, at FROM presence_events "
                            "WHERE user_id = %s ORDER BY at DESC, id DESC",
                            (u_id,))
        self.assertEqual([(r["status"], r["at"]) for r in rows],
                         [(e["status"], e["at"]) for e in events])
        self.assertEqual(self.history(u_id, "?limit=2"), events[:2])
        self.assertEqual(self.history(u_id, "?limit=1000"), events)
        self.assertEqual(self.history(u_id, "?since=%d" % events[2]["at"]),
                         events[:3])
        self.assertEqual(self.history(u_id, "?since=%d&limit=1" %
                                      events[2]["at"]), events[:1])
        self.assertEqual(self.history(u_id, "?since=%d" % (ats[0] + 1)), [])
        # The user themself may read it.
        self.assertEqual(self.history(u_id, user=u_id, admin=False), events)
        self.assertEqual(self.history(uid("never")), [])

    def test_history_sees_the_latest_change(self):
        # Read your writes: the query follows the write of the change.
        u_id = uid("u")
        u = self.connect(u_id)
        for k in range(5):
            status = ("away", "dnd")[k % 2]
            self.assertOk(u.request("set_status", status=status))
            self.assertEqual(self.history(u_id, "?limit=1")[0]["status"],
                             status)

    def test_history_auth_and_bad_values(self):
        u_id, other = uid("u"), uid("o")
        path = "/v1/users/%s/history" % q(u_id)
        r = http_request(self.sys.port(), "GET", path)
        self.assertErrorBody(r, 401, "unauthorized")
        r = self.sys.http("GET", path, user=other)
        self.assertErrorBody(r, 403, "forbidden")
        for query in ("?limit=0", "?limit=1001", "?limit=-1", "?limit=x",
                      "?limit=", "?limit=1.5", "?since=x", "?since=-5",
                      "?since=", "?since=99999999999999999999999",
                      "?limit=%zz"):
            with self.subTest(query=query):
                r = self.sys.http("GET", path + query, admin=True)
                self.assertErrorBody(r, 400, "bad_request")
        r = self.sys.http("POST", path, admin=True)
        self.assertErrorBody(r, 405)


class HistoryUnavailableTest(V11Base):
    AUTH = "none"
    PER_TEST = True

    def test_503_without_persister(self):
        u_id = uid("u")
        self.connect(u_id)
        # Once the change is stored and acknowledged (a batch the
        # persister dies with is written again by the next one).
        self.wait_sql("SELECT status FROM presence_events "
                      "WHERE user_id = %s", (u_id,), bool, "online of U")
        time.sleep(0.3)
        self.sys.kill_persister()
        t0 = time.monotonic()
        r = self.sys.http("GET", "/v1/users/%s/history" % q(u_id),
                          timeout=WAIT)
        self.assertErrorBody(r, 503, "unavailable")
        self.assertLess(time.monotonic() - t0, 7.0, r)
        # Presence itself does not need the persister.
        r = self.sys.http("GET", "/v1/users/%s/presence" % q(u_id))
        self.assertEqual(r.status, 200, r)
        self.sys.start_persister()
        deadline = time.monotonic() + 20
        while True:
            r = self.sys.http("GET", "/v1/users/%s/history" % q(u_id),
                              timeout=WAIT)
            if r.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([e["status"] for e in r.json["events"]], ["online"])


if __name__ == "__main__":
    unittest.main()
