"""Contract points a lenient library would let through (PROTOCOL.md §1,
§2, §6): HTTP request heads that RFC 9112 says must be refused, JWTs whose
"alg" is not exactly "HS256", and WebSocket close frames that RFC 6455
says are errors. Every case goes through a real socket to a real gateway,
next to a well-formed twin that must still be accepted, so a refusal or a
close code is known to come from the defect under test."""

import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import time
import unittest

import websocket

from harness import WAIT, SystemTestCase, uid

QUERY_BODY = '{"user_ids":[]}'


class RawSocket:
    """A bare TCP connection to a gateway and what it received so far."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), WAIT)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.settimeout(WAIT)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def _more(self, what="more data"):
        chunk = self.s.recv(65536)
        if not chunk:
            raise AssertionError("connection closed before %s (got %r)"
                                 % (what, self.buf[:200]))
        self.buf += chunk

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class RawHttp(RawSocket):
    """A raw TCP client, for requests http.client refuses to send."""

    def response(self):
        """(status, body) of the next response."""
        while b"\r\n\r\n" not in self.buf:
            self._more("a response head")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        while len(self.buf) < length:
            self._more("a response body")
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, body

    def closed_by_server(self, timeout=WAIT):
        """True once the server closes (EOF or reset) within timeout, with
        nothing more sent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                return False
            except ConnectionError:
                return True
            if not chunk:
                return not self.buf
            self.buf += chunk
        return False


class HttpHeadTest(SystemTestCase):
    """RFC 9112 framing rules: each bad head gets 400 and the connection is
    closed (after it nothing the client sent can be trusted to be framed
    the way the gateway would read it)."""

    AUTH = "none"

    def setUp(self):
        super().setUp()
        self.raws = []

    def tearDown(self):
        for r in self.raws:
            r.close()
        super().tearDown()

    def raw(self):
        r = RawHttp(self.sys.port())
        self.raws.append(r)
        return r

    def exchange(self, request):
        r = self.raw()
        r.send(request)
        return r, r.response()

    def assert_refused(self, request):
        r, (status, body) = self.exchange(request)
        self.assertEqual(status, 400, (request, body))
        err = json.loads(body.decode()).get("error", {})
        self.assertEqual(err.get("code"), "bad_request", body)
        self.assertTrue(r.closed_by_server(),
                        "not closed after 400: %r" % (request,))

    def assert_accepted(self, request):
        r, (status, body) = self.exchange(request)
        self.assertEqual(status, 200, (request, body))
        return r

    def query(self, headers, body=QUERY_BODY, sep="\r\n"):
        """A POST /v1/presence/query with the given header lines (each
        without its line end) and body."""
        lines = ["POST /v1/presence/query HTTP/1.1", "Host: x"] + headers
        return sep.join(lines) + sep + sep + body

    def test_whitespace_before_colon(self):
        cl = "Content-Length: %d" % len(QUERY_BODY)
        self.assert_accepted(self.query([cl]))
        # The replay of the finding: answered 200 before.
        self.assert_refused(self.query(["Content-Length : 15"]))
        self.assert_refused(self.query(["Content-Length\t: 15"]))
        self.assert_refused(self.query([cl, "X-Trace : 1"]))

    def test_duplicate_or_conflicting_content_length(self):
        n = len(QUERY_BODY)
        for hdrs in (["Content-Length: %d" % n, "Content-Length: %d" % n],
                     ["Content-Length: %d" % n, "Content-Length: 4"],
                     ["Content-Length: 4", "Content-Length: %d" % n],
                     ["Content-Length: %d, %d" % (n, n)],
                     ["Content-Length: %d" % n, "X-A: b",
                      "content-length: %d" % n]):
            with self.subTest(hdrs=hdrs):
                self.assert_refused(self.query(hdrs))

    def test_content_length_with_transfer_encoding(self):
        chunked = "%x\r\n%s\r\n0\r\n\r\n" % (len(QUERY_BODY), QUERY_BODY)
        self.assert_accepted(self.query(["Transfer-Encoding: chunked"],
                                        chunked))
        for hdrs in (["Content-Length: %d" % len(chunked),
                      "Transfer-Encoding: chunked"],
                     ["Transfer-Encoding: chunked",
                      "Content-Length: %d" % len(chunked)]):
            with self.subTest(hdrs=hdrs):
                self.assert_refused(self.query(hdrs, chunked))

    def test_obs_fold(self):
        cl = "Content-Length: %d" % len(QUERY_BODY)
        self.assert_accepted(self.query([cl, "X-Note: a b"]))
        for fold in ("X-Note: a\r\n b", "X-Note: a\r\n\tb",
                     "X-Note:\r\n b"):
            with self.subTest(fold=fold):
                self.assert_refused(self.query([cl, fold]))

    def test_bare_cr_or_lf(self):
        cl = "Content-Length: %d" % len(QUERY_BODY)
        cases = [
            ("LF everywhere", self.query([cl], sep="\n")),
            ("LF after the request line",
             "GET /healthz HTTP/1.1\nHost: x\r\n\r\n"),
            ("LF after a header", "GET /healthz HTTP/1.1\r\nHost: x\n\r\n"),
            ("LF as the empty line",
             "GET /healthz HTTP/1.1\r\nHost: x\r\n\n"),
            ("CR inside a value",
             "GET /healthz HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n"),
            ("CR after the request line",
             "GET /healthz HTTP/1.1\rHost: x\r\n\r\n"),
            ("CR as the empty line",
             "GET /healthz HTTP/1.1\r\nHost: x\r\n\rX"),
        ]
        self.assert_accepted("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for name, req in cases:
            with self.subTest(name):
                self.assert_refused(req)

    def test_invalid_header_name(self):
        self.assert_accepted("GET /healthz HTTP/1.1\r\nHost: x\r\n"
                             "X-A.b_c~d!#$%&'*+^`|: v\r\n\r\n")
        for name in ("X(A)", 'X"A', "X/A", "X@A", "X[A]", "X{A}", "X=A",
                     "X,A", "X;A", "X?A", "X\\A", "X\x01A", "X\x7fA",
                     "X\xe9A", "X A", ""):
            with self.subTest(name=name):
                self.assert_refused(
                    ("GET /healthz HTTP/1.1\r\nHost: x\r\n%s: v\r\n\r\n"
                     % name).encode("latin-1"))

    def test_request_target_whitespace_or_control(self):
        for target in ("/heal\tthz", "/heal\x0cthz", "/heal\x0bthz",
                       "/heal\x00thz", "/heal\x01thz", "/heal\x7fthz",
                       "/heal thz", " /healthz", "/healthz "):
            with self.subTest(target=target):
                self.assert_refused(
                    ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target)
                    .encode("latin-1"))

    def test_pipelined_requests_still_served(self):
        # The head check runs per request: bodies and following requests
        # in the same segment are framed as before.
        q = self.query(["Content-Length: %d" % len(QUERY_BODY)])
        r = self.raw()
        r.send(q + q + "\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(3):
            self.assertEqual(r.response()[0], 200)
        # A bad one after a good one: the good one is answered first.
        r = self.raw()
        r.send(q + "GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n")
        self.assertEqual(r.response()[0], 200)
        self.assertEqual(r.response()[0], 400)
        self.assertTrue(r.closed_by_server())


# ---------------------------------------------------------------- JWT

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_token(secret, header, claims):
    """A JWT with exactly this header, HS256-signed with secret (whatever
    the header says)."""
    signing = "%s.%s" % (b64url(json.dumps(header).encode()),
                         b64url(json.dumps(claims).encode()))
    mac = hmac.new(secret.encode(), signing.encode(), hashlib.sha256)
    return signing + "." + b64url(mac.digest())


class JwtAlgTest(SystemTestCase):
    """RFC 7515 §4.1.1: "alg" is case-sensitive; only "HS256" is ours."""

    AUTH = "jwt"
    BAD_ALGS = ("hs256", "Hs256", "HS256 ", "hS256")

    def token(self, alg, sub):
        return hs256_token(self.sys.jwt_secret, {"alg": alg, "typ": "JWT"},
                           {"sub": sub, "exp": int(time.time()) + 3600})

    def test_exact_hs256_accepted(self):
        u = uid("alg")
        c = self.client(headers={"Authorization": "Bearer " +
                                 self.token("HS256", u)})
        self.assertEqual(c.hello()["user_id"], u)

    def test_other_case_is_401_at_upgrade(self):
        for alg in self.BAD_ALGS:
            for how in ("header", "query"):
                with self.subTest(alg=alg, how=how):
                    tok = self.token(alg, uid("alg"))
                    kw = ({"headers": {"Authorization": "Bearer " + tok}}
                          if how == "header" else {"query": {"token": tok}})
                    with self.assertRaises(
                            websocket.WebSocketBadStatusException) as cm:
                        self.client(**kw)
                    self.assertEqual(cm.exception.status_code, 401)

    def test_other_case_in_hello_is_unauthorized_1008(self):
        for alg in self.BAD_ALGS:
            with self.subTest(alg=alg):
                c = self.client()
                c.send({"type": "hello", "token": self.token(alg, uid())})
                self.assertError(c.expect(("welcome", "error")),
                                 "unauthorized")
                c.expect_close(1008)

    def test_other_case_is_401_on_http_api(self):
        u = uid("alg")
        r = self.sys.http("GET", "/v1/users/%s/presence" % u,
                          token=self.token("HS256", u))
        self.assertEqual(r.status // 100, 2, r)
        r = self.sys.http("GET", "/v1/users/%s/presence" % u,
                          token=self.token("hs256", u))
        self.assertEqual(r.status, 401, r)


# ---------------------------------------------------------------- close

def ws_frame(payload, opcode=1):
    """One final client frame, masked."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    if n < 126:
        hdr = bytes([0x80 | opcode, 0x80 | n])
    else:
        hdr = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack(">H", n)
    mask = os.urandom(4)
    return hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawWs(RawSocket):
    """A WebSocket client on a bare socket: sends exactly the frames it is
    given and reads the server's frames itself."""

    def __init__(self, port, user):
        super().__init__(port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET /v1/ws?user_id=%s HTTP/1.1\r\nHost: x\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Key: %s\r\n\r\n"
                        % (user, key)).encode())
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise AssertionError("upgrade refused: %r" % head)
        self.send(ws_frame(json.dumps({"type": "hello"})))
        while True:
            op, data = self.frame()
            if op == 1 and json.loads(data)["type"] == "welcome":
                break
            if op == 8:
                raise AssertionError("closed before welcome: %r" % data)

    def _take(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        """(opcode, payload) of the server's next frame (never masked)."""
        b0, b1 = self._take(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._take(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._take(8))[0]
        return b0 & 0x0F, self._take(n)

    def close_code(self):
        """The code of the server's close frame (None if it has none);
        text and pings before it are skipped."""
        while True:
            op, data = self.frame()
            if op == 8:
                return struct.unpack(">H", data[:2])[0] if data else None


class CloseFrameTest(SystemTestCase):
    """RFC 6455 §5.5.1 and §7.4: the close frame's own payload rules."""

    AUTH = "none"

    def setUp(self):
        super().setUp()
        self.raws = []

    def tearDown(self):
        for r in self.raws:
            r.close()
        super().tearDown()

    def ws(self):
        r = RawWs(self.sys.port(), uid("close"))
        self.raws.append(r)
        return r

    def answer(self, payload):
        c = self.ws()
        c.send(ws_frame(payload, opcode=8))
        return c.close_code()

    def test_one_byte_payload_1002(self):
        self.assertEqual(self.answer(b"\x03"), 1002)

    def test_invalid_codes_1002(self):
        for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999,
                     5000, 65535):
            with self.subTest(code=code):
                self.assertEqual(self.answer(struct.pack(">H", code)), 1002)
                self.assertEqual(
                    self.answer(struct.pack(">H", code) + b"why"), 1002)

    def test_valid_codes_echoed(self):
        for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                     1012, 1013, 1014, 3000, 4000, 4999):
            with self.subTest(code=code):
                self.assertEqual(
                    self.answer(struct.pack(">H", code) + b"bye"), code)
        self.assertIsNone(self.answer(b""))

    def test_valid_utf8_reason_echoed(self):
        self.assertEqual(self.answer(struct.pack(">H", 1000) +
                                     "au revoir, \u00e9t\u00e9 \u2603"
                                     .encode()), 1000)

    def test_invalid_utf8_reason_1007(self):
        for reason in (b"\xff", b"ok\xc3", b"\xc3\x28", b"\xc0\xaf",
                       b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"a\x80b"):
            with self.subTest(reason=reason):
                self.assertEqual(
                    self.answer(struct.pack(">H", 1000) + reason), 1007)

    def test_invalid_utf8_reason_split_1007(self):
        # The frame arrives in two reads, the reason's bad byte in the
        # second, right after the code's second byte.
        c = self.ws()
        f = ws_frame(struct.pack(">H", 1000) + b"\xff", opcode=8)
        c.send(f[:7])
        time.sleep(0.2)
        c.send(f[7:])
        self.assertEqual(c.close_code(), 1007)


# ---------------------------------------------------------------- parsers

def client_frame(payload, opcode=1, fin=True):
    """One client frame, masked, FIN as given (ws_frame is always final)."""
    f = bytearray(ws_frame(payload, opcode))
    if not fin:
        f[0] &= 0x7F
    return bytes(f)


class WsParserLifetimeTest(SystemTestCase):
    """The gateway keeps a WebSocket parser (wslay's context, ~8.8 KB) only
    while a frame or a fragmented message is partly read, so idle sessions
    stay small (docs/BENCHMARKS.md). Frames split anywhere, fragments with
    a control frame between them, and extended lengths must still arrive
    whole, and /metrics' presence_gateway_ws_parsers shows when a parser
    lives."""

    AUTH = "none"

    def setUp(self):
        super().setUp()
        self.raws = []

    def tearDown(self):
        for r in self.raws:
            r.close()
        super().tearDown()

    def ws(self):
        r = RawWs(self.sys.port(), uid("parser"))
        self.raws.append(r)
        return r

    def parsers(self):
        r = self.sys.http("GET", "/metrics")
        for line in r.text.splitlines():
            if line.startswith("presence_gateway_ws_parsers "):
                return int(line.split()[1])
        raise AssertionError("no presence_gateway_ws_parsers: %r" % r)

    def wait_parsers(self, n):
        deadline = time.monotonic() + WAIT
        while self.parsers() != n:
            if time.monotonic() > deadline:
                self.fail("presence_gateway_ws_parsers is %d, not %d"
                          % (self.parsers(), n))
            time.sleep(0.02)

    def pong(self, c, want_id):
        """The next text frame is the pong to ping want_id (control frames
        such as our ping's pong are skipped)."""
        while True:
            op, data = c.frame()
            if op == 1:
                m = json.loads(data)
                self.assertEqual((m["type"], m.get("id")), ("pong", want_id))
                return

    def test_idle_sessions_hold_no_parser(self):
        cs = [self.ws() for _ in range(3)]
        self.wait_parsers(0)
        for k, c in enumerate(cs):
            c.send(ws_frame(json.dumps({"type": "ping", "id": k})))
            self.pong(c, k)
        self.wait_parsers(0)

    def test_split_header_keeps_the_parser_until_the_frame_ends(self):
        c = self.ws()
        f = ws_frame(json.dumps({"type": "ping", "id": "split"}))
        for cut in (1, 2, 5, len(f) - 1):
            with self.subTest(cut=cut):
                c.send(f[:cut])
                self.wait_parsers(1)
                c.send(f[cut:])
                self.pong(c, "split")
                self.wait_parsers(0)
                f = ws_frame(json.dumps({"type": "ping", "id": "split"}))

    def test_extended_length_split_in_its_length(self):
        c = self.ws()
        pad = "x" * 300
        f = ws_frame(json.dumps({"type": "ping", "id": pad}))
        self.assertEqual(f[1] & 0x7F, 126)
        c.send(f[:3])  # inside the 16-bit length
        self.wait_parsers(1)
        c.send(f[3:])
        self.pong(c, pad)
        self.wait_parsers(0)

    def test_fragmented_message_with_a_ping_between_fragments(self):
        c = self.ws()
        text = json.dumps({"type": "ping", "id": "frag"})
        first = client_frame(text[:7], fin=False)
        ping = client_frame(b"hi", opcode=9)
        last = client_frame(text[7:], opcode=0)
        c.send(first)
        c.send(ping)
        op, data = c.frame()
        self.assertEqual((op, data), (10, b"hi"))  # pong, mid-message
        self.wait_parsers(1)  # the message is still open
        for i in range(len(last)):  # byte by byte
            c.send(last[i:i + 1])
        self.pong(c, "frag")
        self.wait_parsers(0)


if __name__ == "__main__":
    unittest.main()
