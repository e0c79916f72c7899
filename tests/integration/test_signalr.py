"""SignalR drop-in (seed 000, docs/MIGRATING.md) where the Node suite
(tests/compat/signalr.test.mjs, the real @microsoft/signalr client) does
not reach: a gateway that stops, a registry restart, an admin's kick, a
token that expires. A small raw hub client speaks the JSON hub protocol
over websocket-client, next to v1 watchers on other gateways."""

import json
import signal
import time
import unittest

import websocket

from harness import WAIT, SystemTestCase, q, uid

RS = "\x1e"


class Hub:
    """A raw SignalR hub connection: handshake done on creation; records
    that arrive while waiting for others are kept in order."""

    def __init__(self, tc, gw=0, path="/hubs/presence", token=None):
        url = "ws://127.0.0.1:%d%s" % (tc.sys.port(gw), path)
        if token is not None:
            url += "?access_token=" + token
        self.ws = websocket.create_connection(url, timeout=WAIT)
        tc.addCleanup(self.shutdown)
        self.recs = []
        self.buf = ""
        self.closed = None
        self.ids = 0
        self.send({"protocol": "json", "version": 1})
        tc.assertEqual(self.expect(lambda r: True, what="handshake"), {})

    def send(self, obj):
        self.ws.send(json.dumps(obj) + RS)

    def _read(self, timeout):
        """Reads one frame into self.recs; False on timeout or close."""
        if self.closed is not None:
            return False
        self.ws.settimeout(timeout)
        try:
            op, frame = self.ws.recv_data_frame(True)
        except websocket.WebSocketTimeoutException:
            return False
        except (websocket.WebSocketConnectionClosedException,
                ConnectionError, OSError):
            self.closed = (None, "lost")
            return False
        if op == websocket.ABNF.OPCODE_CLOSE:
            data = frame.data or b""
            self.closed = (int.from_bytes(data[:2], "big")
                           if len(data) >= 2 else None,
                           data[2:].decode("utf-8", "replace"))
            return False
        if op != websocket.ABNF.OPCODE_TEXT:
            return True
        self.buf += frame.data.decode("utf-8")
        while RS in self.buf:
            rec, self.buf = self.buf.split(RS, 1)
            self.recs.append(json.loads(rec))
        return True

    def expect(self, pred, timeout=WAIT, what="record"):
        deadline = time.monotonic() + timeout
        while True:
            for i, r in enumerate(self.recs):
                if pred(r):
                    return self.recs.pop(i)
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(left) and
                             self.closed is not None):
                raise AssertionError("no %s within %.1f s (closed %r); "
                                     "have %r" % (what, timeout, self.closed,
                                                  self.recs))

    def invoke(self, target, *args):
        self.ids += 1
        iid = str(self.ids)
        self.send({"type": 1, "invocationId": iid, "target": target,
                   "arguments": list(args)})
        return self.expect(lambda r: r.get("type") == 3 and
                           r.get("invocationId") == iid,
                           what="completion of %s" % target)

    def register(self, user):
        c = self.invoke("RegisterUser", user)
        assert "error" not in c, c
        self.expect(lambda r: r.get("target") == "UserRegistered",
                    what="UserRegistered")

    def expect_status(self, user, status, timeout=WAIT):
        return self.expect(
            lambda r: r.get("target") == "UserStatusChanged" and
            r["arguments"][0]["user_id"] == user and
            r["arguments"][0]["status"] == status,
            timeout, "UserStatusChanged %s %s" % (user, status))

    def expect_close(self, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while self.closed is None and time.monotonic() < deadline:
            self._read(deadline - time.monotonic())
        if self.closed is None:
            raise AssertionError("no close within %.1f s" % timeout)
        return self.closed[0]

    def shutdown(self):
        try:
            self.ws.shutdown()
        except Exception:
            pass


class SignalRRestartTest(SystemTestCase):
    PER_TEST = True
    GATEWAYS = 2
    GRACE_MS = 2000

    def test_gateway_stop_allows_reconnect_and_grace_applies(self):
        """A stopping gateway sends {"type":7,"allowReconnect":true}
        (clients built withAutomaticReconnect() come back), closes 1001,
        and its users go offline only after the grace."""
        u = uid("sr")
        w = self.connect(uid("w"), gw=0)
        w.request("watch", user_ids=[u])
        h = Hub(self, gw=1)
        h.register(u)
        w.expect_presence(u, "online")
        self.sys.kill_gateway(1, signal.SIGTERM)
        self.assertEqual(self.sys.gateways[1].proc.returncode(), 0)
        cl = h.expect(lambda r: r.get("type") == 7, what="Close record")
        self.assertEqual(cl, {"type": 7, "allowReconnect": True})
        self.assertEqual(h.expect_close(), 1001)
        # the registry's own times: offline a grace after last seen
        ev = w.expect_presence(u, "offline", timeout=self.grace_s() + WAIT)
        self.assertGreaterEqual(ev["since"] - ev["last_seen"],
                                self.sys.grace_ms * 0.9, ev)

    def test_registry_restart_keeps_sessions_and_tracking(self):
        """After a registry restart the hub session is re-announced: its
        user stays online and what it tracks still reaches it."""
        t, u = uid("trk"), uid("tgt")
        w = self.connect(uid("w"), gw=1)
        w.request("watch", user_ids=[t])
        h = Hub(self, gw=0)
        h.register(t)
        self.assertNotIn("error", h.invoke("JoinUserTracking", u))
        w.expect_presence(t, "online")
        self.sys.kill_registry(signal.SIGKILL)
        self.sys.start_registry()
        self.sys.wait_serving()
        cu = self.connect(u, gw=1)
        ev = h.expect_status(u, "online", timeout=WAIT + 5)
        self.assertIs(ev["arguments"][0]["is_active"], True)
        w.expect_no_presence(t, self.grace_s() + 1)
        cu.bye()
        h.expect_status(u, "offline")


class SignalRJwtTest(SystemTestCase):
    AUTH = "jwt"
    GATEWAYS = 1
    GRACE_MS = 1500

    def test_kick_closes_without_reconnect(self):
        """An admin's kick: a Close record with an error and no
        allowReconnect, close 4001, offline at once."""
        u = uid("kick")
        w = self.connect(uid("w"))
        w.request("watch", user_ids=[u])
        h = Hub(self, token=self.sys.token(u))
        h.register(u)
        w.expect_presence(u, "online")
        r = self.sys.http("DELETE", "/v1/users/%s/sessions" % q(u),
                          admin=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["ended"], 1, r)
        cl = h.expect(lambda r: r.get("type") == 7, what="Close record")
        self.assertIn("error", cl)
        self.assertNotIn("allowReconnect", cl)
        self.assertEqual(h.expect_close(), 4001)
        w.expect_presence(u, "offline", timeout=self.grace_s() * 0.8)

    def test_token_expiry_ends_unclean_with_reconnect(self):
        """The session does not outlive its token: a Close record with
        an error and allowReconnect (a fresh negotiate brings a new token),
        and offline only after the grace."""
        u = uid("exp")
        w = self.connect(uid("w"))
        w.request("watch", user_ids=[u])
        h = Hub(self, token=self.sys.token(u, exp_in=2))
        h.register(u)
        w.expect_presence(u, "online")
        cl = h.expect(lambda r: r.get("type") == 7, timeout=WAIT,
                      what="Close record")
        self.assertIn("error", cl)
        self.assertIs(cl.get("allowReconnect"), True)
        self.assertEqual(h.expect_close(), 1008)
        ev = w.expect_presence(u, "offline", timeout=self.grace_s() + WAIT)
        self.assertGreaterEqual(ev["since"] - ev["last_seen"],
                                self.sys.grace_ms * 0.9, ev)

    def test_register_other_user_refused(self):
        """RegisterUser names another user than the token's: refused, and
        nothing changes."""
        u, other = uid("me"), uid("other")
        w = self.connect(uid("w"))
        w.request("watch", user_ids=[other])
        h = Hub(self, token=self.sys.token(u))
        c = h.invoke("RegisterUser", other)
        self.assertNotIn("error", c)
        f = h.expect(lambda r: r.get("target") == "UserRegistrationFailed",
                     what="UserRegistrationFailed")
        self.assertEqual(f["arguments"][0]["user_id"], other)
        w.expect_no_presence(other, 0.8)


if __name__ == "__main__":
    unittest.main()
