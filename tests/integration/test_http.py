"""HTTP API (PROTOCOL.md §6) in both auth modes."""

import time
import unittest

import jwt

from harness import SystemTestCase, http_request, q, uid


class HttpChecks:
    def assertErrorBody(self, r, status, code=None):
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.json, dict, r)
        err = r.json.get("error")
        self.assertIsInstance(err, dict, r)
        self.assertIsInstance(err.get("code"), str, r)
        self.assertIsInstance(err.get("message"), str, r)
        if code is not None:
            self.assertEqual(err["code"], code, r)

    def assert2xx(self, r):
        self.assertEqual(r.status // 100, 2, r)
        return r

    def members(self, thread, **kw):
        r = self.sys.http("GET", "/v1/threads/%s/members" % q(thread), **kw)
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.json.get("user_ids"), list, r)
        return sorted(r.json["user_ids"])


class HttpNoneTest(HttpChecks, SystemTestCase):
    """auth none: every HTTP caller is an admin."""

    AUTH = "none"
    GATEWAYS = 2

    def test_healthz_readyz(self):
        for path in ("/healthz", "/readyz"):
            r = http_request(self.sys.port(), "GET", path)
            self.assertEqual(r.status, 200, (path, r))

    def test_unknown_path_404(self):
        r = self.sys.http("GET", "/v1/nothing-here")
        self.assertErrorBody(r, 404)

    def test_user_presence(self):
        a_id = uid("a")
        meta = {"user_name": "Alice"}
        self.connect(a_id, meta=meta)
        r = self.sys.http("GET", "/v1/users/%s/presence" % q(a_id))
        self.assertEqual(r.status, 200, r)
        self.assertPresence(r.json, a_id, status="online", is_online=True,
                            meta=meta)

    def test_user_presence_never_seen(self):
        x = uid("never")
        r = self.sys.http("GET", "/v1/users/%s/presence" % q(x))
        # Unspecified whether an unknown user is 404 or an offline object.
        if r.status == 404:
            self.assertErrorBody(r, 404)
        else:
            self.assertEqual(r.status, 200, r)
            self.assertPresence(r.json, x, status="offline", is_online=False,
                                last_seen=None)

    def test_user_presence_after_status_and_bye(self):
        a_id = uid("a")
        a = self.connect(a_id)
        self.assertOk(a.request("set_status", status="dnd", text="focus"))
        r = self.sys.http("GET", "/v1/users/%s/presence" % q(a_id))
        self.assertPresence(r.json, a_id, status="dnd", text="focus",
                            is_online=True)
        a.bye()
        r = self.sys.http("GET", "/v1/users/%s/presence" % q(a_id))
        self.assertPresence(r.json, a_id, status="offline", is_online=False)
        self.assertIsNotNone(r.json["last_seen"], r)

    def test_query(self):
        a_id, x = uid("a"), uid("never")
        self.connect(a_id)
        r = self.sys.http("POST", "/v1/presence/query",
                          {"user_ids": [a_id, x]})
        self.assertEqual(r.status, 200, r)
        users = {u["user_id"]: u for u in r.json["users"]}
        self.assertEqual(set(users), {a_id, x}, r)
        self.assertPresence(users[a_id], a_id, status="online")
        self.assertPresence(users[x], x, status="offline", last_seen=None)

    def test_query_bad_bodies(self):
        for body in (b"{not json", {"user_ids": "a"}, {"user_ids": [1]},
                     {}, b"[]"):
            with self.subTest(body=body):
                r = self.sys.http("POST", "/v1/presence/query", body)
                self.assertErrorBody(r, 400, "bad_request")

    def test_online(self):
        a_id, b_id, c_id = uid("a"), uid("b"), uid("c")
        t = uid("t")
        self.sys.put_members(t, [a_id, b_id])
        self.connect(a_id)
        self.connect(c_id)
        r = self.sys.http("GET", "/v1/online?thread_id=" + q(t))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["online_users"], [a_id], r)
        r = self.sys.http("GET", "/v1/online")
        self.assertEqual(r.status, 200, r)
        self.assertIn(a_id, r.json["online_users"], r)
        self.assertIn(c_id, r.json["online_users"], r)
        self.assertNotIn(b_id, r.json["online_users"], r)

    def test_members_crud(self):
        t = uid("t")
        a, b, c, d = uid("a"), uid("b"), uid("c"), uid("d")
        self.assert2xx(self.sys.http("PUT", "/v1/threads/%s/members" % q(t),
                                     {"user_ids": [a, b]}))
        self.assertEqual(self.members(t), sorted([a, b]))
        self.assert2xx(self.sys.http("POST", "/v1/threads/%s/members" % q(t),
                                     {"user_ids": [c, a]}))
        self.assertEqual(self.members(t), sorted([a, b, c]))
        self.assert2xx(self.sys.http(
            "DELETE", "/v1/threads/%s/members/%s" % (q(t), q(b))))
        self.assertEqual(self.members(t), sorted([a, c]))
        self.assert2xx(self.sys.http("PUT", "/v1/threads/%s/members" % q(t),
                                     {"user_ids": [d]}))
        self.assertEqual(self.members(t), [d])
        self.assert2xx(self.sys.http("PUT", "/v1/threads/%s/members" % q(t),
                                     {"user_ids": []}))
        self.assertEqual(self.members(t), [])
        # Visible from every gateway at once.
        self.assert2xx(self.sys.http("POST", "/v1/threads/%s/members" % q(t),
                                     {"user_ids": [a]}, gw=0))
        self.assertEqual(self.members(t, gw=1), [a])

    def test_members_of_unknown_thread(self):
        t = uid("t")
        r = self.sys.http("GET", "/v1/threads/%s/members" % q(t))
        if r.status == 404:
            self.assertErrorBody(r, 404)
        else:
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["user_ids"], [], r)

    def test_members_bad_bodies(self):
        t = uid("t")
        for method in ("PUT", "POST"):
            for body in (b"nope", {"user_ids": "a"}, {"user_ids": [3]}, {}):
                with self.subTest(method=method, body=body):
                    r = self.sys.http(method,
                                      "/v1/threads/%s/members" % q(t), body)
                    self.assertErrorBody(r, 400, "bad_request")

    def test_user_ids_with_reserved_characters(self):
        # Ids are any UTF-8 without control characters: they travel
        # percent-encoded in paths.
        t = "thread/with spaces?&é"
        a = "user/é %s" % uid()
        self.assert2xx(self.sys.http("PUT", "/v1/threads/%s/members" % q(t),
                                     {"user_ids": [a]}))
        self.assertEqual(self.members(t), [a])
        self.connect(a)
        r = self.sys.http("GET", "/v1/users/%s/presence" % q(a))
        self.assertEqual(r.status, 200, r)
        self.assertPresence(r.json, a, status="online")
        self.assert2xx(self.sys.http(
            "DELETE", "/v1/threads/%s/members/%s" % (q(t), q(a))))
        self.assertEqual(self.members(t), [])


class HttpJwtTest(HttpChecks, SystemTestCase):
    AUTH = "jwt"

    def forged(self, sub, admin=None):
        payload = {"sub": sub, "exp": int(time.time()) + 3600}
        if admin is not None:
            payload["admin"] = admin
        return jwt.encode(payload, "not-the-secret", algorithm="HS256")

    def test_health_needs_no_auth(self):
        for path in ("/healthz", "/readyz"):
            r = http_request(self.sys.port(), "GET", path)
            self.assertEqual(r.status, 200, (path, r))

    def test_members_admin_only(self):
        t = uid("t")
        u = uid("u")
        admin = self.sys.token("boss", admin=True)
        user = self.sys.token(u)
        not_admin = self.sys.token(u, admin=False)
        path = "/v1/threads/%s/members" % q(t)
        calls = [("GET", path, None), ("PUT", path, {"user_ids": [u]}),
                 ("POST", path, {"user_ids": [u]}),
                 ("DELETE", path + "/" + q(u), None)]
        for method, p, body in calls:
            with self.subTest(method=method):
                r = self.sys.http(method, p, body)
                self.assertErrorBody(r, 401, "unauthorized")
                r = self.sys.http(method, p, body,
                                  headers={"Authorization": "Bearer junk"})
                self.assertErrorBody(r, 401, "unauthorized")
                r = self.sys.http(method, p, body,
                                  token=self.forged("boss", admin=True))
                self.assertErrorBody(r, 401, "unauthorized")
                for tok in (user, not_admin):
                    r = self.sys.http(method, p, body, token=tok)
                    self.assertErrorBody(r, 403, "forbidden")
        # The admin can do it all.
        self.assert2xx(self.sys.http("PUT", path, {"user_ids": [u]},
                                     token=admin))
        self.assertEqual(self.members(t, token=admin), [u])
        self.assert2xx(self.sys.http("POST", path, {"user_ids": ["v"]},
                                     token=admin))
        self.assertEqual(self.members(t, token=admin), sorted([u, "v"]))
        self.assert2xx(self.sys.http("DELETE", path + "/" + q(u),
                                     token=admin))
        self.assertEqual(self.members(t, token=admin), ["v"])

    def test_presence_needs_a_user(self):
        a_id = uid("a")
        self.connect(a_id)
        path = "/v1/users/%s/presence" % q(a_id)
        self.assertErrorBody(self.sys.http("GET", path), 401, "unauthorized")
        self.assertErrorBody(self.sys.http("GET", path,
                                           token=self.forged(uid())),
                             401, "unauthorized")
        expired = self.sys.token(uid(), exp_in=-3600)
        self.assertErrorBody(self.sys.http("GET", path, token=expired),
                             401, "unauthorized")
        none_alg = jwt.encode({"sub": uid(), "exp": int(time.time()) + 60},
                              None, algorithm="none")
        self.assertErrorBody(self.sys.http("GET", path, token=none_alg),
                             401, "unauthorized")
        for tok in (self.sys.token(uid()), self.sys.token("boss", admin=True)):
            r = self.sys.http("GET", path, token=tok)
            self.assertEqual(r.status, 200, r)
            self.assertPresence(r.json, a_id, status="online")

    def test_query_needs_a_user(self):
        a_id = uid("a")
        body = {"user_ids": [a_id]}
        self.assertErrorBody(self.sys.http("POST", "/v1/presence/query",
                                           body), 401, "unauthorized")
        r = self.sys.http("POST", "/v1/presence/query", body, user=uid())
        self.assertEqual(r.status, 200, r)
        self.assertEqual([u["user_id"] for u in r.json["users"]], [a_id])

    def test_online_permissions(self):
        a_id, b_id, c_id = uid("a"), uid("b"), uid("c")
        t = uid("t")
        self.sys.put_members(t, [a_id, b_id])
        self.connect(a_id)
        path = "/v1/online?thread_id=" + q(t)
        self.assertErrorBody(self.sys.http("GET", path), 401, "unauthorized")
        # A member may ask about the thread, even while offline.
        r = self.sys.http("GET", path, user=b_id)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["online_users"], [a_id], r)
        # A non-member may not.
        self.assertErrorBody(self.sys.http("GET", path, user=c_id), 403,
                             "forbidden")
        # Without a thread: admin only.
        self.assertErrorBody(self.sys.http("GET", "/v1/online", user=a_id),
                             403, "forbidden")
        r = self.sys.http("GET", "/v1/online", admin=True)
        self.assertEqual(r.status, 200, r)
        self.assertIn(a_id, r.json["online_users"], r)
        r = self.sys.http("GET", path, admin=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["online_users"], [a_id], r)


if __name__ == "__main__":
    unittest.main()
