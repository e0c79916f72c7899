"""Session basics (PROTOCOL.md §1, §3, §4): hello/welcome, errors, ping,
bye, the WebSocket framing rules and the upgrade."""

import base64
import os
import socket
import subprocess
import time
import unittest

import websocket

from harness import WAIT, SystemTestCase, now_ms, uid


class SessionTest(SystemTestCase):
    AUTH = "none"

    def test_welcome_fields(self):
        u = uid("alice")
        c = self.client()
        c.send({"type": "hello", "id": "h1", "user_id": u, "device": "phone",
                "meta": {"user_name": "Alice", "user_type": "agent"}})
        w = c.expect(("welcome", "error"))
        self.assertEqual(w["type"], "welcome", w)
        self.assertEqual(w.get("id"), "h1", w)
        self.assertEqual(w["user_id"], u, w)
        self.assertIn("session_id", w)
        self.assertTrue(w["session_id"] not in (None, "", 0), w)
        self.assertIsInstance(w["heartbeat_ms"], int, w)
        self.assertGreater(w["heartbeat_ms"], 0, w)
        self.assertIsInstance(w["server_time"], int, w)
        # Same machine: the server clock is ours.
        self.assertLess(abs(w["server_time"] - now_ms()), 60000, w)

    def test_session_ids_differ(self):
        u = uid("alice")
        a = self.connect(u)
        b = self.connect(u)
        self.assertNotEqual(a.session_id, b.session_id)

    def test_numeric_id_echoed(self):
        c = self.client()
        c.send({"type": "hello", "id": 17, "user_id": uid()})
        w = c.expect("welcome")
        self.assertEqual(w.get("id"), 17, w)

    def test_user_id_from_query(self):
        u = uid("q")
        c = self.client(query={"user_id": u})
        w = c.hello()
        self.assertEqual(w["user_id"], u)

    def test_seed_style_path(self):
        u = uid("seed")
        c = self.client(path="/ws/presence/" + u)
        w = c.hello()
        self.assertEqual(w["user_id"], u)
        r = c.request("ping")
        self.assertEqual(r["type"], "pong", r)

    def test_subprotocol_echoed(self):
        c = self.client(subprotocols=["presence.v1"])
        self.assertEqual(c.ws.getsubprotocol(), "presence.v1")
        c.hello(user_id=uid())

    def test_message_before_hello(self):
        for first in ({"type": "ping", "id": 1},
                      {"type": "watch", "user_ids": ["x"]},
                      {"type": "nonsense"}):
            with self.subTest(first=first):
                c = self.client()
                c.send(first)
                m = c.expect("error")
                self.assertError(m, "unauthorized")
                c.expect_close(1008)

    def test_bad_request_keeps_connection(self):
        c = self.connect(uid())
        cases = [
            {"type": "no_such_type"},
            {"id": "x"},  # no type at all
            {"type": 5},
            {"type": "watch"},  # missing user_ids
            {"type": "watch", "user_ids": "bob"},
            {"type": "watch", "user_ids": [1, 2]},
            {"type": "unwatch", "user_ids": {"a": 1}},
            {"type": "query", "user_ids": None},
            {"type": "set_status"},
            {"type": "set_status", "status": 3},
            {"type": "set_status", "status": "away", "text": 42},
            {"type": "typing", "thread_id": 7, "active": True},
            {"type": "typing", "thread_id": "t", "active": "yes"},
            {"type": "typing", "active": True},
            {"type": "list_online", "thread_id": ["t"]},
        ]
        for i, msg in enumerate(cases):
            with self.subTest(msg=msg):
                msg = dict(msg)
                if "id" not in msg:
                    msg["id"] = "b%d" % i
                c.send(msg)
                m = c.expect(None, lambda m, i=msg["id"]: m.get("id") == i)
                self.assertError(m, "bad_request")
        # Still open and working.
        r = c.request("ping")
        self.assertEqual(r["type"], "pong", r)

    def test_unknown_status_value_is_an_error(self):
        # "sleeping" is well typed but not a status: some error, still open.
        c = self.connect(uid())
        r = c.request("set_status", status="sleeping")
        self.assertEqual(r["type"], "error", r)
        r = c.request("set_status", status="offline")
        self.assertEqual(r["type"], "error", r)
        self.assertEqual(c.request("ping")["type"], "pong")

    def test_ping_pong(self):
        c = self.connect(uid())
        c.send({"type": "ping", "id": "p1"})
        m = c.expect("pong")
        self.assertEqual(m.get("id"), "p1", m)
        self.assertIsInstance(m["server_time"], int, m)
        self.assertLess(abs(m["server_time"] - now_ms()), 60000, m)
        c.send({"type": "ping", "id": 99})
        self.assertEqual(c.expect("pong").get("id"), 99)
        c.send({"type": "ping"})
        m = c.expect("pong")
        self.assertIsInstance(m["server_time"], int, m)

    def test_bye_closes_1000(self):
        c = self.connect(uid())
        c.send({"type": "bye"})
        c.expect_close(1000)

    def test_binary_frame_closes_1003(self):
        c = self.connect(uid())
        c.ws.send_binary(b'{"type":"ping"}')
        c.expect_close(1003)

    def test_invalid_utf8_closes_1007(self):
        c = self.connect(uid())
        c.ws.send(b'{"type":"ping","id":"\xff\xfe"}',
                  websocket.ABNF.OPCODE_TEXT)
        c.expect_close(1007)

    def test_message_size_limit(self):
        c = self.connect(uid())

        def sized(n):
            base = '{"type":"ping","id":"r","pad":""}'
            s = base.replace('"pad":""', '"pad":"%s"' % ("x" * (n - len(base))))
            assert len(s.encode()) == n
            return s

        # Exactly 65536 bytes is allowed: some reply, connection open.
        c.send(sized(65536))
        m = c.expect(("pong", "error"), lambda m: m.get("id") == "r")
        self.assertNotEqual(m.get("code"), "too_large", m)
        self.assertEqual(c.request("ping")["type"], "pong")
        c.send(sized(65537))
        c.expect_close(1009)

    def test_unmasked_frame_closes_1002(self):
        c = self.connect(uid())
        payload = b'{"type":"ping"}'
        # FIN + text, no mask bit.
        c.ws.sock.sendall(bytes([0x81, len(payload)]) + payload)
        c.expect_close(1002)

    def _raw_upgrade(self, headers, method="GET", path="/v1/ws",
                     version="HTTP/1.1", body=b""):
        s = socket.create_connection(("127.0.0.1", self.sys.port()), WAIT)
        try:
            req = "%s %s %s\r\nHost: 127.0.0.1\r\n" % (method, path, version)
            for k, v in headers.items():
                req += "%s: %s\r\n" % (k, v)
            s.sendall((req + "\r\n").encode() + body)
            s.settimeout(WAIT)
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            line = data.split(b"\r\n", 1)[0].decode("latin-1")
            return int(line.split()[1])
        finally:
            s.close()

    def test_upgrade_validation(self):
        key = base64.b64encode(os.urandom(16)).decode()
        good = {"Upgrade": "websocket", "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": key}
        self.assertEqual(self._raw_upgrade(good), 101)
        bad_version = dict(good, **{"Sec-WebSocket-Version": "8"})
        self.assertEqual(self._raw_upgrade(bad_version), 426)
        no_key = {k: v for k, v in good.items() if k != "Sec-WebSocket-Key"}
        self.assertEqual(self._raw_upgrade(no_key), 400)
        bad_key = dict(good, **{"Sec-WebSocket-Key": "short"})
        self.assertEqual(self._raw_upgrade(bad_key), 400)
        self.assertEqual(self._raw_upgrade(good, method="POST"), 400)
        chunked = dict(good, **{"Transfer-Encoding": "chunked"})
        self.assertEqual(self._raw_upgrade(chunked, body=b"0\r\n\r\n"), 400)
        with_body = dict(good, **{"Content-Length": "5"})
        self.assertEqual(self._raw_upgrade(with_body, body=b"hello"), 400)
        self.assertEqual(self._raw_upgrade(good, version="HTTP/1.0"), 400)

    def test_two_clients_independent(self):
        # One client's bad request or bye never affects another.
        a = self.connect(uid())
        b = self.connect(uid())
        a.send({"type": "bye"})
        a.expect_close(1000)
        self.assertEqual(b.request("ping")["type"], "pong")


class LimitsTest(SystemTestCase):
    """Field limits of §2–3. The error code for an over-long field is not
    specified: any error, and the connection stays usable."""

    AUTH = "none"

    def test_user_id_length(self):
        ok = "u" * 128
        c = self.client()
        self.assertEqual(c.hello(user_id=ok)["user_id"], ok)
        for bad in ("", "u" * 129, "a\x01b", "tab\there"):
            with self.subTest(user_id=bad):
                c = self.client()
                c.send({"type": "hello", "user_id": bad})
                m = c.expect(("welcome", "error"))
                self.assertEqual(m["type"], "error", m)

    def test_multibyte_user_id(self):
        u = "\u00e9\u4e16\U0001F600" + uid()
        c = self.client()
        self.assertEqual(c.hello(user_id=u)["user_id"], u)

    def test_text_length(self):
        c = self.connect(uid())
        self.assertOk(c.request("set_status", status="away", text="t" * 256))
        # 256 bytes of UTF-8 (128 two-byte characters).
        self.assertOk(c.request("set_status", status="away",
                                text="\u00e9" * 128))
        r = c.request("set_status", status="away", text="t" * 257)
        self.assertEqual(r["type"], "error", r)
        r = c.request("set_status", status="away", text="\u00e9" * 129)
        self.assertEqual(r["type"], "error", r)
        self.assertEqual(c.request("ping")["type"], "pong")

    def test_hello_field_limits(self):
        for name, extra in (("device", {"device": "d" * 65}),
                            ("text", {"text": "t" * 257}),
                            ("meta", {"meta": {"k": "v" * 1100}}),
                            ("meta type", {"meta": "not an object"}),
                            ("status", {"status": "offline"})):
            with self.subTest(name):
                c = self.client()
                msg = {"type": "hello", "user_id": uid()}
                msg.update(extra)
                c.send(msg)
                m = c.expect(("welcome", "error"))
                self.assertEqual(m["type"], "error", m)
        c = self.client()
        w = c.hello(user_id=uid(), device="d" * 64, text="t" * 256,
                    meta={"k": "v" * 900})
        self.assertEqual(w["type"], "welcome")

    def test_watch_batch_limit(self):
        c = self.connect(uid())
        r = c.request("watch", user_ids=["w%d" % i for i in range(1000)])
        self.assertEqual(r["type"], "presence_list", r)
        self.assertEqual(len(r["users"]), 1000)
        r = c.request("watch", user_ids=["x%d" % i for i in range(1001)])
        self.assertEqual(r["type"], "error", r)
        r = c.request("query", user_ids=["q%d" % i for i in range(1001)])
        self.assertEqual(r["type"], "error", r)
        self.assertEqual(c.request("ping")["type"], "pong")


class HeartbeatTest(SystemTestCase):
    """§5 dead connections, with a short heartbeat: a client that answers
    the server's pings stays; one that goes silent is dropped, and its
    user goes offline after the grace."""

    AUTH = "none"
    GRACE_MS = 1000
    GATEWAY_ARGS = ("--heartbeat-ms", "500", "--heartbeat-timeout-ms", "700")

    def test_heartbeat(self):
        a_id, b_id, c_id = uid("a"), uid("b"), uid("c")
        self.sys.put_members(uid("t"), [a_id, b_id, c_id])
        b = self.connect(b_id)  # b keeps reading, so it answers pings
        self.assertEqual(self.connect(c_id).user_id, c_id)
        b.expect_presence(c_id, "online")
        a = self.client()
        welcome = a.hello(user_id=a_id)
        self.assertEqual(welcome["heartbeat_ms"], 500, welcome)
        b.expect_presence(a_id, "online")
        # A now reads nothing (its pings go unanswered); B reads and
        # answers, and stays connected well past heartbeat + timeout.
        start = time.monotonic()
        ev = b.expect_presence(a_id, timeout=1.2 + 1.0 + WAIT)
        self.assertEqual(ev["status"], "offline", ev)
        self.assertGreaterEqual(time.monotonic() - start, 1.0)
        self.assertGreater(b.pings, 0)
        self.assertEqual(b.request("ping")["type"], "pong")
        # C, silent too, went the same way.
        b.expect_presence(c_id, "offline")


class HelloTimeoutTest(SystemTestCase):
    AUTH = "none"
    GATEWAY_ARGS = ("--hello-timeout-ms", "1500")

    def test_no_hello_closes_1008(self):
        c = self.client()
        start = time.monotonic()
        c.expect_close(1008, timeout=WAIT + 1.5)
        # Not before the configured timeout.
        self.assertGreaterEqual(time.monotonic() - start, 1.2)

    def test_pings_do_not_extend_hello_timeout(self):
        c = self.client()
        start = time.monotonic()
        # WebSocket pings (control frames) every 300 ms; no hello.
        deadline = start + WAIT
        while c.closed is None and time.monotonic() < deadline:
            try:
                c.ws.ping(b"x")
            except Exception:
                break
            try:
                c.expect_nothing(0.3)
            except AssertionError:
                break
        c.expect_close(1008, timeout=2)
        self.assertGreaterEqual(time.monotonic() - start, 1.2)


if __name__ == "__main__":
    unittest.main()


class PinnedTest(SystemTestCase):
    """`cpu = N` (every daemon): all threads of the process, NNG's
    included, run on CPU N, and the system works as before."""

    REGISTRY_ARGS = ("--cpu", "0")
    GATEWAY_ARGS = ("--cpu", "0")

    @staticmethod
    def cpus_of_threads(pid):
        cpus = set()
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith("Cpus_allowed_list:"):
                        cpus.add(line.split(":", 1)[1].strip())
        return cpus

    def test_threads_pinned_and_presence_flows(self):
        a_id, b_id = uid("a"), uid("b")
        b = self.connect(b_id)
        r = b.request("watch", user_ids=[a_id])
        self.assertEqual(r["type"], "presence_list", r)
        self.connect(a_id)
        b.expect_presence(a_id, "online")
        for p in (self.sys.registry, self.sys.gateways[0].proc):
            self.assertEqual(self.cpus_of_threads(p.pid), {"0"}, p.name)
        # NNG's threads exist by now: the process has more than its loop.
        self.assertGreater(len(os.listdir("/proc/%d/task" %
                                          self.sys.registry.pid)), 1)
        # Not pinned: the persister keeps the CPUs this test may use.
        if len(os.sched_getaffinity(0)) > 1:
            self.assertNotIn("0", self.cpus_of_threads(
                self.sys.persister.pid))

    def test_bad_cpu_stops_at_start(self):
        reg = os.environ["PRS_REGISTRY_BIN"]
        for cpu, why in (("100000", "an integer -1.."),
                         ("1023", "cpu 1023:"),
                         ("x", "bad value")):
            p = subprocess.run([reg, "--cpu", cpu, "--url",
                                "ipc:///tmp/prs-no-such.sock"],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, (cpu, p.stderr))
            self.assertIn(why, p.stderr, cpu)
