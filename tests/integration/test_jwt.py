"""JWT authentication of WebSocket clients (PROTOCOL.md §1–2): HS256 with
the configured secret; a bad token is an HTTP 401 before the upgrade, or
error unauthorized + close 1008 when it came in hello."""

import time
import unittest

import jwt
import websocket

from harness import SystemTestCase, uid


def bad_tokens(secret):
    """(name, token) pairs that must all be refused."""
    now = int(time.time())
    sub = uid("mallory")
    return [
        ("forged signature",
         jwt.encode({"sub": sub, "exp": now + 3600}, "wrong-secret",
                    algorithm="HS256")),
        ("alg none",
         jwt.encode({"sub": sub, "exp": now + 3600}, None, algorithm="none")),
        ("alg HS512 with the right secret",
         jwt.encode({"sub": sub, "exp": now + 3600}, secret,
                    algorithm="HS512")),
        ("expired",
         jwt.encode({"sub": sub, "exp": now - 3600}, secret,
                    algorithm="HS256")),
        ("missing exp",
         jwt.encode({"sub": sub}, secret, algorithm="HS256")),
        ("nbf in the future",
         jwt.encode({"sub": sub, "exp": now + 7200, "nbf": now + 3600},
                    secret, algorithm="HS256")),
        ("missing sub",
         jwt.encode({"exp": now + 3600}, secret, algorithm="HS256")),
        ("empty sub",
         jwt.encode({"sub": "", "exp": now + 3600}, secret,
                    algorithm="HS256")),
        ("sub with a control character",
         jwt.encode({"sub": "a\x01b", "exp": now + 3600}, secret,
                    algorithm="HS256")),
        ("sub too long",
         jwt.encode({"sub": "x" * 129, "exp": now + 3600}, secret,
                    algorithm="HS256")),
        ("signature stripped",
         jwt.encode({"sub": sub, "exp": now + 3600}, secret,
                    algorithm="HS256").rsplit(".", 1)[0] + "."),
        ("not a JWT", "hello.world"),
    ]


class JwtTest(SystemTestCase):
    AUTH = "jwt"

    def test_token_in_header(self):
        u = uid("alice")
        c = self.client(headers={"Authorization": "Bearer " +
                                 self.sys.token(u)})
        w = c.hello()
        self.assertEqual(w["user_id"], u)

    def test_token_in_query(self):
        u = uid("alice")
        c = self.client(query={"token": self.sys.token(u)})
        w = c.hello()
        self.assertEqual(w["user_id"], u)

    def test_token_in_hello(self):
        u = uid("alice")
        c = self.client()
        w = c.hello(token=self.sys.token(u))
        self.assertEqual(w["user_id"], u)
        self.assertEqual(c.request("ping")["type"], "pong")

    def test_max_length_sub_accepted(self):
        u = "u" * 128
        c = self.client()
        self.assertEqual(c.hello(token=self.sys.token(u))["user_id"], u)

    def test_header_wins_over_query_and_hello(self):
        # "Credentials, first match wins": header, then ?token=, then hello.
        h, qu, he = uid("h"), uid("q"), uid("he")
        c = self.client(headers={"Authorization": "Bearer " +
                                 self.sys.token(h)},
                        query={"token": self.sys.token(qu)})
        w = c.hello(token=self.sys.token(he))
        self.assertEqual(w["user_id"], h)
        c = self.client(query={"token": self.sys.token(qu)})
        w = c.hello(token=self.sys.token(he))
        self.assertEqual(w["user_id"], qu)

    def test_hello_user_id_does_not_override_token(self):
        u, other = uid("u"), uid("other")
        c = self.client()
        c.send({"type": "hello", "token": self.sys.token(u),
                "user_id": other})
        m = c.expect(("welcome", "error"))
        # Either refused, or the token's user: never the named one.
        if m["type"] == "welcome":
            self.assertEqual(m["user_id"], u, m)

    def _refused_upgrade(self, name, **client_kw):
        try:
            c = self.client(**client_kw)
        except websocket.WebSocketBadStatusException as e:
            self.assertEqual(e.status_code, 401, "%s: %s" % (name, e))
            return
        self.fail("%s: upgrade accepted (%r)" % (name, c))

    def test_bad_token_in_header_is_401(self):
        for name, tok in bad_tokens(self.sys.jwt_secret):
            with self.subTest(name):
                self._refused_upgrade(
                    name, headers={"Authorization": "Bearer " + tok})

    def test_bad_token_in_query_is_401(self):
        for name, tok in bad_tokens(self.sys.jwt_secret):
            with self.subTest(name):
                self._refused_upgrade(name, query={"token": tok})

    def test_bad_token_in_hello_is_unauthorized_1008(self):
        for name, tok in bad_tokens(self.sys.jwt_secret):
            with self.subTest(name):
                c = self.client()
                c.send({"type": "hello", "token": tok})
                m = c.expect(("welcome", "error"))
                self.assertError(m, "unauthorized")
                c.expect_close(1008)

    def test_hello_without_any_token(self):
        c = self.client()
        c.send({"type": "hello", "user_id": uid()})
        m = c.expect(("welcome", "error"))
        self.assertError(m, "unauthorized")
        c.expect_close(1008)

    def test_bad_header_token_is_not_rescued_by_hello(self):
        # A refused header token ends it before any hello.
        tok = bad_tokens(self.sys.jwt_secret)[0][1]
        self._refused_upgrade("forged header",
                              headers={"Authorization": "Bearer " + tok})

    def test_jwt_users_see_each_other(self):
        a_id, b_id = uid("a"), uid("b")
        self.sys.put_members(uid("t"), [a_id, b_id])
        b = self.connect(b_id)
        self.connect(a_id)
        self.assertPresence(b.expect_presence(a_id), a_id, status="online")

    def test_seed_path_still_needs_token(self):
        u = uid("seed")
        # In jwt mode the path names nobody: the token does.
        c = self.client(path="/ws/presence/" + u,
                        query={"token": self.sys.token(u)})
        self.assertEqual(c.hello()["user_id"], u)
        try:
            c2 = self.client(path="/ws/presence/" + u)
        except websocket.WebSocketBadStatusException as e:
            self.assertEqual(e.status_code, 401, e)
            return
        c2.send({"type": "hello"})
        m = c2.expect(("welcome", "error"))
        self.assertError(m, "unauthorized")
        c2.expect_close(1008)


if __name__ == "__main__":
    unittest.main()
