"""Drop-in endpoints of seeds 002, 003 and 004 (docs/MIGRATING.md), through
real sockets, next to v1 clients on other gateways.

gw1 and gw2 speak v1 only; gw3 runs with --compat-events seed004, so its
/ws/presence/{id} sessions get seed 004 events while /v1/ws sessions there
keep v1 presence objects."""

import random
import re
import time
import unittest

from harness import SystemTestCase, http_request, q, uid

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TTL_MS = 1500


def int_id():
    """A user id that drop-in endpoints write as a JSON number."""
    return str(random.randint(10 ** 9, 2 ** 53))


def as_json(user):
    """How §0 writes user on the way out."""
    return int(user) if re.match(r"^(0|[1-9][0-9]*)$", user) and \
        int(user) <= 2 ** 53 else user


class CompatSeedsTest(SystemTestCase):
    AUTH = "jwt"
    GATEWAYS = 3
    GATEWAY_ARGS = ("--http-session-ttl-ms", str(TTL_MS))
    GATEWAY_ARGS_EACH = {2: ("--compat-events", "seed004")}

    # -- helpers

    def heartbeat(self, user, gw=0, path="/api/chat/heartbeat/",
                  body=None):
        r = self.sys.http("POST", path, body, gw=gw, user=user)
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.json.get("success"), True, r)
        self.assertRegex(r.json.get("last_activity", ""), ISO_MS, r)
        return r

    def watcher(self, users, gw=1):
        w = self.connect(uid("watcher"), gw=gw)
        rep = w.request("watch", user_ids=list(users))
        self.assertEqual(rep.get("type"), "presence_list", rep)
        return w

    def online_users(self, user, path="/api/chat/online-users/", gw=0):
        r = self.sys.http("GET", path, gw=gw, user=user)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.json.get("online_users"), list, r)
        return r.json["online_users"]

    def admin_list(self, path="/admin/online-users"):
        r = self.sys.http("GET", path, admin=True)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.json.get("online_users"), list, r)
        return {(e["user_id"]): e for e in r.json["online_users"]}

    def seed004_client(self, user, gw=2):
        tok = self.sys.token(user)
        return self.connect(user, gw=gw, client_kw={
            "path": "/ws/presence/%s" % q(user),
            "headers": {"Authorization": "Bearer " + tok}})

    def expect_seed004(self, c, user, online):
        m = c.expect("user_status_changed",
                     lambda m: m.get("user_id") == as_json(user),
                     what="user_status_changed of %s" % user)
        self.assertEqual(set(m), {"type", "user_id", "is_online",
                                  "timestamp"}, m)
        self.assertIs(m["is_online"], online, m)
        self.assertIsInstance(m["timestamp"], int, m)
        self.assertLess(abs(m["timestamp"] - time.time()), 60, m)
        return m

    # -- seed 002

    def test_heartbeat_online_then_logout(self):
        a = int_id()
        w = self.watcher([a])
        self.heartbeat(a, body={"timestamp": int(time.time() * 1000)})
        w.expect_presence(a, "online", is_online=True)
        # renewals change nothing visible; both spellings of the path
        self.heartbeat(a, path="/api/chat/heartbeat")
        self.heartbeat(a, gw=0)
        w.expect_nothing(0.5, "presence")
        # logout as in v1: offline at once (clean)
        r = self.sys.http("POST", "/v1/logout", gw=0, user=a)
        self.assertEqual(r.status, 200, r)
        w.expect_presence(a, "offline", is_online=False,
                          timeout=self.grace_s() / 2)

    def test_heartbeat_expiry_offline_after_grace(self):
        a = uid("hb")
        w = self.watcher([a])
        self.heartbeat(a)
        w.expect_presence(a, "online")
        t0 = time.monotonic()
        w.expect_presence(a, "offline",
                          timeout=TTL_MS / 1000.0 + self.grace_s() + 3)
        # unclean (expiry): not before ttl + grace
        self.assertGreaterEqual(time.monotonic() - t0,
                                (TTL_MS - 600) / 1000.0 + self.grace_s())

    def test_heartbeat_errors(self):
        r = http_request(self.sys.port(), "POST", "/api/chat/heartbeat/")
        self.assertEqual(r.status, 401, r)
        self.assertIsInstance(r.json.get("error"), dict, r)
        r = http_request(self.sys.port(), "POST", "/api/chat/heartbeat/",
                         headers={"Authorization": "Bearer nope"})
        self.assertEqual(r.status, 401, r)
        r = self.sys.http("POST", "/api/chat/heartbeat/", "[1,2",
                          user=uid("bad"))
        self.assertEqual(r.status, 400, r)
        r = self.sys.http("GET", "/api/chat/heartbeat/", user=uid("m"))
        self.assertEqual(r.status, 405, r)

    def test_online_users_audience(self):
        me, a, s, x = int_id(), int_id(), uid("str"), int_id()
        thread = uid("t")
        self.sys.put_members(thread, [me, a, s])
        self.connect(a, gw=1)           # v1 WebSocket
        self.heartbeat(s, gw=1)         # seed 002 on another gateway
        self.connect(x, gw=0)           # online, but not in my audience
        # not online myself: the others only
        got = self.online_users(me)
        self.assertEqual(sorted(map(str, got)), sorted([a, s]), got)
        self.heartbeat(me)
        for path in ("/api/chat/online-users/", "/api/chat/online-users",
                     "/api/chat/rooms/online_users/",
                     "/api/chat/rooms/online_users"):
            got = self.online_users(me, path=path, gw=2)
            self.assertEqual(got[0], as_json(me), got)  # the caller first
            self.assertIn(as_json(a), got, got)
            self.assertIn(s, got, got)
            self.assertNotIn(as_json(x), got, got)
            self.assertEqual(len(got), 3, got)
            # integer ids as numbers, others as strings
            self.assertIsInstance(as_json(a), int)
            self.assertTrue(any(isinstance(v, int) and v == int(a)
                                for v in got), got)
        r = http_request(self.sys.port(), "GET", "/api/chat/online-users/")
        self.assertEqual(r.status, 401, r)
        r = self.sys.http("POST", "/api/chat/online-users/", user=me)
        self.assertEqual(r.status, 405, r)
        self.sys.http("POST", "/v1/logout", user=me)
        self.sys.http("POST", "/v1/logout", gw=1, user=s)

    def test_online_users_watched(self):
        me, b = int_id(), int_id()
        c = self.connect(me)
        rep = c.request("watch", user_ids=[b])
        self.assertEqual(rep.get("type"), "presence_list", rep)
        self.connect(b, gw=1)
        c.expect_presence(b, "online")
        got = self.online_users(me)
        self.assertEqual(got, [int(me), int(b)], got)

    # -- seed 003

    def test_admin_online_connections(self):
        a, b, s = int_id(), int_id(), uid("adm")
        self.connect(a, gw=0)
        self.connect(a, gw=1)
        self.connect(b, gw=2)
        self.heartbeat(s)
        for path in ("/admin/online-users", "/admin/online-users/"):
            lst = self.admin_list(path)
            self.assertEqual(lst[int(a)]["connections"], 2, lst[int(a)])
            self.assertEqual(lst[int(b)]["connections"], 1, lst[int(b)])
            self.assertEqual(lst[s]["connections"], 1, lst[s])
            for e in (lst[int(a)], lst[int(b)], lst[s]):
                self.assertEqual(set(e), {"user_id", "last_seen",
                                          "connections"}, e)
                self.assertRegex(e["last_seen"], ISO_MS, e)
        r = self.sys.http("GET", "/admin/online-users", user=a)
        self.assertEqual(r.status, 403, r)
        r = http_request(self.sys.port(), "GET", "/admin/online-users")
        self.assertEqual(r.status, 401, r)
        self.sys.http("POST", "/v1/logout", user=s)

    # -- seed 004

    def test_seed004_events_and_v1_alongside(self):
        a, me, s = int_id(), int_id(), uid("s4")
        thread = uid("t")
        v1_id = uid("v1")
        self.sys.put_members(thread, [a, me, s, v1_id])
        seed = self.seed004_client(me)          # gw3, /ws/presence/{id}
        v1 = self.connect(v1_id, gw=1)          # v1 elsewhere
        v1_on_3 = self.connect(uid("v1b"), gw=2)  # /v1/ws on gw3
        rep = v1_on_3.request("watch", user_ids=[a, s])
        self.assertEqual(rep.get("type"), "presence_list", rep)

        ca = self.connect(a, gw=0)
        self.expect_seed004(seed, a, True)
        v1.expect_presence(a, "online", is_online=True)
        v1_on_3.expect_presence(a, "online", is_online=True)

        cs = self.connect(s, gw=1)
        m = self.expect_seed004(seed, s, True)
        self.assertIsInstance(m["user_id"], str, m)
        v1.expect_presence(s, "online")

        ca.bye()
        self.expect_seed004(seed, a, False)
        v1.expect_presence(a, "offline", is_online=False)
        v1_on_3.expect_presence(a, "offline", is_online=False)
        # no v1 presence object ever reaches the seed 004 session
        seed.expect_nothing(0.3, "presence",
                            lambda m: m.get("user_id") != me)
        cs.bye()
        self.expect_seed004(seed, s, False)

    def test_seed004_not_on_v1_gateways(self):
        a, me = int_id(), int_id()
        thread = uid("t")
        self.sys.put_members(thread, [a, me])
        c = self.seed004_client(me, gw=0)  # gw1: no compat_events
        self.connect(a, gw=1)
        c.expect_presence(a, "online", is_online=True)


if __name__ == "__main__":
    unittest.main()
