#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses into corpus/<name>/.

Run it again after changing the seeds (python3 tests/fuzz/make_corpus.py);
the files it writes are committed. scripts/fuzz fuzzes a copy, so the
committed corpus never grows by itself. The protobuf encoder below is just
enough for proto/presence.proto (varints and length-delimited fields).
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")
SECRET = b"fuzz-secret"

# ---------------------------------------------------------------- protobuf


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_int(num, v):
    return varint(num << 3) + varint(v) if v else b""


def f_bytes(num, v):
    if isinstance(v, str):
        v = v.encode()
    return varint(num << 3 | 2) + varint(len(v)) + v


def f_msg(num, body):
    return f_bytes(num, body)


def f_packed(num, values):
    body = b"".join(varint(v) for v in values)
    return f_bytes(num, body) if values else b""


def envelope(kind, sender, epoch, seq, body_num, body):
    return (f_int(1, kind) + f_bytes(2, sender) + f_int(3, epoch) +
            f_int(4, seq) + f_msg(body_num, body))


def frames(*envs):
    return b"".join(struct.pack(">I", len(e)) + e for e in envs)


GW, REG, PST = 1, 2, 3
HELLO, SESSIONS, CLOSE, SET_STATUS, REQUEST, TYPING, EVENT, REPLY, \
    RESYNC, BATCH, ACK, LOAD, CHUNK = range(10, 23)
# v1.1
ACTIVITY, KICK, HQUERY, HREPLY = range(24, 28)


def presence(user, status=1, online=True, text=None, last_seen=0,
             since=1700000000000, meta="", auto=False):
    b = f_bytes(1, user) + f_int(2, status) + f_int(3, 1 if online else 0)
    if text is not None:
        b += f_int(4, 1) + f_bytes(5, text)
    b += f_int(6, last_seen) + f_int(7, since)
    if meta:
        b += f_bytes(8, meta)
    return b + f_int(9, 1 if auto else 0)


def session_info(sid, user, device="", status=1, text=None, meta="",
                 watches=(), status_set=False, idle=False, since=0):
    b = f_int(1, sid) + f_bytes(2, user)
    if device:
        b += f_bytes(3, device)
    b += f_int(4, status)
    if text is not None:
        b += f_int(5, 1) + f_bytes(6, text)
    if meta:
        b += f_bytes(7, meta)
    for w in watches:
        b += f_bytes(8, w)
    b += f_int(9, 1 if status_set else 0)
    return b + f_int(10, 1 if idle else 0) + f_int(11, since)


def request(req, sid, op, user, admin=False, thread="", ids=(), since=0,
            limit=0):
    b = (f_int(1, req) + f_int(2, sid) + f_int(3, op) + f_bytes(4, user) +
         f_int(5, 1 if admin else 0))
    if thread:
        b += f_bytes(6, thread)
    for i in ids:
        b += f_bytes(7, i)
    return b + f_int(8, since) + f_int(9, limit)


def history_row(status, at, user=""):
    return (f_bytes(1, user) if user else b"") + f_int(2, status) + \
        f_int(3, at)


def session_entry(sid, gw, epoch, device="", since=0, idle=False):
    b = f_int(1, sid) + f_bytes(2, gw) + f_int(3, epoch)
    if device:
        b += f_bytes(4, device)
    return b + f_int(5, since) + f_int(6, 1 if idle else 0)


def member(thread, user, add=True):
    return f_bytes(1, thread) + f_bytes(2, user) + f_int(3, 1 if add else 0)


def prow(p, version):
    return f_msg(1, p) + f_int(2, version)


# ---------------------------------------------------------------- writers

def write(name, seeds):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for i, s in enumerate(seeds):
        if isinstance(s, str):
            s = s.encode()
        with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
            f.write(s)


def gw_link():
    E = 0x5EED

    def r(seq, num, body):
        return envelope(REG, "registry", E, seq, num, body)
    seeds = [
        frames(r(1, HELLO, f_bytes(1, "ipc:///r.sock") + f_int(3, 1))),
        frames(r(1, RESYNC, b"")),
        frames(r(1, EVENT, f_packed(1, [1, 2, 3]) +
                 f_msg(2, presence("u9", text="lunch",
                                   meta='{"user_name":"N"}')))),
        frames(r(1, EVENT, f_packed(1, [1]) +
                 f_msg(2, presence("u1", status=4, online=False)) +
                 f_int(3, 1))),
        frames(r(1, EVENT, f_packed(1, [2, 3, 99]) +
                 f_msg(2, presence("u1", status=0, online=False,
                                   last_seen=1700000000000)))),
        frames(r(1, EVENT, f_packed(1, [1]) +
                 f_msg(2, presence("u\xff", text="\xc3", meta="[1]")))),
        frames(r(1, EVENT, f_packed(1, [1, 2]))),  # no presence
        frames(r(1, TYPING, f_bytes(2, "t1") + f_bytes(3, "u2") +
                 f_int(4, 1) + f_packed(5, [1, 3]))),
        frames(r(1, TYPING, f_packed(5, [1]))),
        frames(r(1, REPLY, f_int(1, 1) + f_msg(4, presence("u2")) +
                 f_msg(4, presence("u3", status=2, text="away")))),
        frames(r(1, REPLY, f_int(1, 2) + f_bytes(2, "forbidden") +
                 f_bytes(3, "no"))),
        frames(r(1, REPLY, f_int(1, 2) + f_bytes(2, "weird-code"))),
        frames(r(1, REPLY, f_int(1, 77))),
        frames(r(1, REPLY, f_int(1, 1) + f_bytes(5, "a") + f_bytes(5, "b"))),
        frames(r(1, HELLO, b""), r(2, EVENT, f_packed(1, [1, 2, 3]) +
                                   f_msg(2, presence("u7"))),
               r(3, REPLY, f_int(1, 1) + f_msg(4, presence("u2")))),
        frames(envelope(REG, "registry", 0x1234, 1, RESYNC, b""),
               envelope(REG, "registry", 0x1234, 2, REPLY, f_int(1, 1))),
        frames(envelope(GW, "gw9", 5, 1, HELLO, b"")),
        frames(r(9, SESSIONS, f_msg(1, session_info(1, "x")))),
        frames(r(1, RESYNC, b""), r(2, RESYNC, b"")),
        b"\x00\x00\x00\x05\x08\x02\x12\x01",  # truncated
        b"\x00\x00\x00\x03\xff\xff\xff",
        b"\xff\xff\xff\xff",
        frames(b""),
        # v1.1
        frames(r(1, EVENT, f_packed(1, [1, 2]) +
                 f_msg(2, presence("u4", status=2, auto=True)) +
                 f_int(3, 1))),
        frames(r(1, KICK, f_packed(1, [1, 2, 3, 99]))),
        frames(r(1, KICK, b"")),
        frames(r(1, REPLY, f_int(1, 1) +
                 f_msg(6, session_entry(1, "gw1", 0x5EED, "phone",
                                        1700000000000, True)) +
                 f_msg(6, session_entry(2, "", 0)))),
        frames(r(1, REPLY, f_int(1, 1) + f_int(7, 3))),
        # drop-in admin list: users with their session counts
        frames(r(1, REPLY, f_int(1, 1) + f_msg(4, presence("42")) +
                 f_msg(4, presence("u3")) + f_packed(10, [2, 1]))),
        frames(r(1, REPLY, f_int(1, 1) + f_msg(4, presence("7")) +
                 f_int(10, 1) + f_int(10, 5))),
        frames(r(1, REPLY, f_int(1, 1) + f_msg(8, history_row(2, 5)) +
                 f_msg(8, history_row(0, 4)) + f_msg(8, history_row(77, -1)))),
    ]
    write("gw_link", seeds)


def reg_link():
    G = 0x77

    def g(seq, num, body, name="gw1", epoch=G):
        return envelope(GW, name, epoch, seq, num, body)

    def p(seq, num, body):
        return envelope(PST, "persister", 0x99, seq, num, body)
    hello = g(1, HELLO, f_bytes(1, "ipc:///tmp/gw1.sock"))
    sess = g(2, SESSIONS, f_msg(1, session_info(
        1, "alice", device="phone", meta='{"a":1}', watches=["bob"])) +
        f_msg(1, session_info(2, "bob", status=2, text="hi",
                              status_set=True)))
    member_set = g(3, REQUEST, request(1, 0, 6, "admin", True, "t1",
                                       ["alice", "bob", "carol"]))
    ready, notready = b"\x01", b"\x00"
    seeds = [
        ready + frames(hello),
        ready + frames(hello, sess),
        ready + frames(hello, sess, member_set),
        ready + frames(hello, member_set, sess,
                       g(4, SET_STATUS, f_int(1, 1) + f_int(2, 3) +
                         f_int(3, 1) + f_bytes(4, "busy"))),
        ready + frames(hello, sess, g(3, SET_STATUS, f_int(1, 2) +
                                      f_int(2, 4))),
        ready + frames(hello, sess, g(3, CLOSE, f_int(1, 1))),
        ready + frames(hello, sess, g(3, CLOSE, f_int(1, 2) + f_int(2, 1))),
        ready + frames(hello, sess, member_set,
                       g(4, TYPING, f_int(1, 1) + f_bytes(2, "t1") +
                         f_int(4, 1)),
                       g(5, TYPING, f_int(1, 1) + f_bytes(2, "t1"))),
        ready + frames(hello, sess, g(3, REQUEST, request(
            2, 1, 1, "alice", ids=["bob", "nobody"]))),
        ready + frames(hello, sess, member_set, g(4, REQUEST, request(
            3, 1, 2, "alice", thread="t1"))),
        ready + frames(hello, sess, member_set, g(4, REQUEST, request(
            3, 1, 2, "alice"))),
        ready + frames(hello, sess, g(3, REQUEST, request(
            4, 1, 3, "alice", ids=["carol", "dave"])),
            g(4, REQUEST, request(5, 1, 4, "alice", ids=["carol"]))),
        ready + frames(hello, member_set, g(4, REQUEST, request(
            6, 0, 5, "admin", True, "t1"))),
        ready + frames(hello, member_set, g(4, REQUEST, request(
            7, 0, 8, "admin", True, "t1", ["bob"]))),
        ready + frames(hello, member_set, g(4, REQUEST, request(
            8, 0, 7, "admin", True, "t2", ["x", "y"]))),
        ready + frames(hello, g(2, REQUEST, request(9, 0, 2, "", True))),
        ready + frames(hello, g(2, REQUEST, request(9, 5, 99, "u"))),
        ready + frames(hello, sess, g(3, SESSIONS, f_int(2, 1) +
                                      f_int(3, 1))),
        ready + frames(hello, g(7, SESSIONS, b"")),  # sequence gap
        ready + frames(hello, g(1, HELLO, f_bytes(1, "ipc:///tmp/gw1.sock"),
                                epoch=0x78)),
        ready + frames(g(1, HELLO, f_bytes(1, "http://bad"))),
        ready + frames(g(1, SESSIONS, b"")),
        notready + frames(p(1, HELLO, b""),
                          p(2, CHUNK, f_int(1, 0x4E6) + f_msg(2, prow(
                              presence("alice", last_seen=5), 1)) +
                            f_msg(3, member("t1", "alice")) + f_int(4, 1)),
                          hello, sess),
        notready + frames(p(1, CHUNK, f_int(1, 0x4E6) + f_msg(2, b"") +
                            f_msg(3, member("", "x")))),
        notready + frames(p(1, CHUNK, f_int(1, 0x4E6) + f_bytes(5, "db"))),
        notready + frames(p(1, CHUNK, f_int(1, 0x4E6) + f_msg(2, prow(
            presence("bob", status=2, text="t", meta='{"k":"v"}'), 9)) +
            f_int(4, 1))),
        ready + frames(hello, sess, p(1, ACK, f_int(1, 1) + f_int(2, 1)),
                       p(2, ACK, f_int(1, 1) + f_bytes(3, "failed"))),
        ready + frames(envelope(0, "", 0, 0, HELLO, b"")),
        ready + b"\x00\x00\x00\x02\x08",
        # v1.1: activity, admin requests, history replies
        ready + frames(hello, sess, g(3, ACTIVITY, f_int(1, 1) + f_int(2, 1)),
                       g(4, ACTIVITY, f_int(1, 2) + f_int(2, 1)),
                       g(5, ACTIVITY, f_int(1, 1)),
                       g(6, ACTIVITY, f_int(1, 9) + f_int(2, 1))),
        ready + frames(hello, g(2, SESSIONS, f_msg(1, session_info(
            3, "alice", idle=True, since=1700000000000)) + f_int(2, 1) +
            f_int(3, 1))),
        ready + frames(hello, sess, g(3, REQUEST, request(
            10, 0, 9, "admin", True, ids=["alice"]))),
        ready + frames(hello, sess, g(3, REQUEST, request(
            11, 0, 10, "admin", True, ids=["alice"])),
            g(4, CLOSE, f_int(1, 1))),
        ready + frames(hello, sess, g(3, REQUEST, request(
            12, 0, 10, "bob", ids=["alice"]))),
        ready + frames(hello, sess, g(3, REQUEST, request(
            13, 0, 11, "alice", ids=["alice"], since=5, limit=10)),
            p(1, HREPLY, f_int(1, 1) + f_msg(2, history_row(1, 9)))),
        ready + frames(hello, g(2, REQUEST, request(
            14, 0, 11, "bob", ids=["alice"], limit=1001)),
            g(3, REQUEST, request(15, 0, 9, "admin", True,
                                  ids=["a", "b"]))),
        ready + frames(p(1, HREPLY, f_int(1, 7) + f_bytes(3, "boom"))),
        # drop-in endpoints: the caller's audience, online with sessions
        ready + frames(hello, sess, member_set, g(4, REQUEST, request(
            16, 0, 12, "alice")), g(5, REQUEST, request(17, 0, 12, ""))),
        ready + frames(hello, sess, g(3, REQUEST, request(
            18, 0, 13, "admin", True)),
            g(4, REQUEST, request(19, 0, 13, "bob"))),
    ]
    write("reg_link", seeds)


def pst_link():
    R = 0x4E6

    def r(seq, num, body, epoch=R):
        return envelope(REG, "registry", epoch, seq, num, body)
    batch = (f_int(1, 1) +
             f_msg(2, prow(presence("alice", text="x", meta='{"a":1}'), 10)) +
             f_msg(2, prow(presence("bob", status=0, online=False,
                                    last_seen=1700000000001), 11)) +
             f_msg(3, f_bytes(1, "alice") + f_int(2, 1) + f_int(3, 5)) +
             f_msg(4, member("t1", "alice")) +
             f_msg(4, member("t1", "bob", False)))
    seeds = [
        frames(r(1, HELLO, f_int(3, 1))),
        frames(r(1, LOAD, f_int(1, R))),
        frames(r(1, BATCH, batch)),
        frames(r(1, BATCH, batch), r(2, BATCH, batch)),
        frames(r(1, BATCH, f_int(1, 2) + f_msg(2, b""))),
        frames(r(1, BATCH, f_int(1, 3) + f_msg(2, prow(presence(""), 1)))),
        frames(r(1, BATCH, f_int(1, 4) +
                 f_msg(2, prow(presence("a\x01b", text="\xff"), 1)))),
        frames(r(1, BATCH, f_int(1, 5) + f_msg(3, b"") + f_msg(4, b""))),
        frames(r(1, BATCH, f_int(1, 6) + f_msg(2, prow(
            presence("c", status=9, meta="not json"), -1)))),
        frames(r(1, LOAD, f_int(1, 1)), r(2, LOAD, f_int(1, 2))),
        frames(r(1, BATCH, batch, epoch=R + 1)),
        frames(envelope(GW, "gw1", 1, 1, BATCH, batch)),
        frames(r(1, ACK, f_int(1, 1))),
        frames(r(1, BATCH, b"")),
        b"\x00\x00\x00\x01\x08",
        b"\x00\x00",
        # v1.1: history queries, valid and not
        frames(r(1, HQUERY, f_int(1, 1) + f_bytes(2, "alice") +
                 f_int(3, 1700000000000) + f_int(4, 100))),
        frames(r(1, HQUERY, f_int(1, 2) + f_bytes(2, "alice")),
               r(2, HQUERY, f_int(1, 3) + f_bytes(2, "") + f_int(4, 1)),
               r(3, HQUERY, f_int(1, 4) + f_bytes(2, "a") + f_int(4, 5000)),
               r(4, HQUERY, f_int(1, 5) + f_bytes(2, "a") + f_int(3, -1) +
                 f_int(4, 1))),
        frames(r(1, BATCH, batch), r(2, HQUERY, f_int(1, 6) +
                                     f_bytes(2, "alice") + f_int(4, 1))),
    ]
    write("pst_link", seeds)


# ---------------------------------------------------------------- gateway

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def token(claims, alg="HS256", key=SECRET):
    h = b64u(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    p = b64u(json.dumps(claims).encode())
    if alg == "none":
        return (h + b"." + p + b".").decode()
    sig = b64u(hmac.new(key, h + b"." + p, hashlib.sha256).digest())
    return (h + b"." + p + b"." + sig).decode()


FAR = 4102444800  # 2100-01-01


def ws_frame(payload, opcode=1, fin=True, mask=b"\x11\x22\x33\x44",
             masked=True):
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        hdr = bytes([b0, (0x80 if masked else 0) | n])
    elif n < 65536:
        hdr = bytes([b0, (0x80 if masked else 0) | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, (0x80 if masked else 0) | 127]) + struct.pack(">Q", n)
    if not masked:
        return hdr + payload
    body = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return hdr + mask + body


KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def upgrade(path="/v1/ws", extra=""):
    return ("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: %s\r\n%s\r\n" % (path, KEY, extra)).encode()


def http():
    hello = json.dumps({"type": "hello", "user_id": "alice"})
    tok = token({"sub": "alice", "exp": FAR})
    adm = token({"sub": "root", "exp": FAR, "admin": True})
    body = json.dumps({"user_ids": ["alice", "bob"]})
    A, J = b"\x00", b"\x80"  # whole input at once; auth none / jwt
    seeds = [
        A + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        A + b"GET /readyz HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n",
        b"\x07" + b"HEAD /healthz HTTP/1.0\r\n\r\n",
        A + upgrade(),
        A + upgrade() + ws_frame(hello) + ws_frame('{"type":"ping"}'),
        b"\x05" + upgrade("/ws/presence/bob", "Sec-WebSocket-Protocol: "
                          "presence.v1\r\n") + ws_frame('{"type":"hello"}'),
        A + upgrade("/v1/ws?user_id=carol&x=%41"),
        A + upgrade(extra="Origin: https://evil.example\r\n"),
        A + upgrade(extra="Origin: https://app.example.com\r\n"),
        A + upgrade(extra="Content-Length: 3\r\n") + b"abc",
        A + upgrade(extra="Transfer-Encoding: chunked\r\n") + b"0\r\n\r\n",
        A + upgrade().replace(b"13", b"8"),
        A + upgrade().replace(KEY.encode(), b"short"),
        A + b"POST /v1/ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        J + upgrade("/v1/ws?token=" + tok) + ws_frame(hello),
        J + upgrade(extra="Authorization: Bearer " + tok + "\r\n"),
        J + upgrade("/ws/presence/bob", "Authorization: Bearer %s\r\n" % tok),
        J + upgrade(extra="Authorization: Bearer x.y.z\r\n"),
        A + ("POST /v1/presence/query?user_id=alice HTTP/1.1\r\n"
             "Content-Length: %d\r\n\r\n%s" % (len(body), body)).encode(),
        A + ("PUT /v1/threads/t1/members HTTP/1.1\r\nContent-Length: %d\r\n"
             "\r\n%s" % (len(body), body)).encode(),
        J + ("POST /v1/threads/t1/members HTTP/1.1\r\nAuthorization: Bearer "
             "%s\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
             % (adm, len(body), body)).encode(),
        A + b"DELETE /v1/threads/t1/members/bob HTTP/1.1\r\n\r\n",
        A + b"GET /v1/threads/t%201/members HTTP/1.1\r\n\r\n",
        A + b"GET /v1/users/alice/presence HTTP/1.1\r\nX-User-Id: bob\r\n\r\n",
        A + b"GET /v1/online?thread_id=t1 HTTP/1.1\r\n\r\n",
        J + ("GET /v1/online HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n"
             % tok).encode(),
        A + b"POST /v1/heartbeat?user_id=alice HTTP/1.1\r\n\r\n"
            b"POST /v1/logout?user_id=alice HTTP/1.1\r\n\r\n",
        A + b"POST /v1/presence/query HTTP/1.1\r\nExpect: 100-continue\r\n"
            b"Content-Length: 2\r\n\r\n{}",
        A + b"GET /" + b"a" * 300 + b" HTTP/1.1\r\n\r\n",
        A + b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 70 + b"\r\n",
        A + b"GET / HTTP/1.1\r\nX: " + b"v" * 9000 + b"\r\n\r\n",
        A + b"GARBAGE\r\n\r\n",
        A + b"GET /%zz HTTP/1.1\r\n\r\n",
        A + b"GET /v1/users/%00/presence HTTP/1.1\r\n\r\n",
        b"\x01" + b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
        # What the head check refuses (gw_head.c), and its pipelining.
        A + b"POST /v1/presence/query HTTP/1.1\r\nContent-Length : 2\r\n"
            b"\r\n{}",
        A + b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2"
            b"\r\n\r\n{}",
        A + b"POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: "
            b"chunked\r\n\r\n0\r\n\r\n",
        A + b"GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n",
        b"\x03" + b"GET /healthz HTTP/1.1\nHost: x\r\rX: y\r\n\r\n",
        A + b"GET /a\tb HTTP/1.1\r\nX(y): z\r\n\r\n",
        b"\x09" + b"\r\nGET /healthz HTTP/1.1\r\n\r\n\r\nPOST /v1/presence/"
            b"query HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET / HTTP/1.1"
            b"\r\nHost : x\r\n\r\n",
        # v1.1 admin API
        A + b"GET /v1/users/alice/sessions HTTP/1.1\r\n\r\n"
            b"DELETE /v1/users/alice/sessions HTTP/1.1\r\n\r\n",
        J + ("GET /v1/users/alice/sessions HTTP/1.1\r\nAuthorization: "
             "Bearer %s\r\n\r\n" % tok).encode(),
        A + b"GET /v1/users/alice/history?since=5&limit=10 HTTP/1.1\r\n\r\n"
            b"GET /v1/users/alice/history?limit=0 HTTP/1.1\r\n\r\n",
        J + ("GET /v1/users/alice/history?limit=1000 HTTP/1.1\r\n"
             "Authorization: Bearer %s\r\n\r\n" % tok).encode(),
        J + ("GET /v1/users/bob/history?since=9999999999999999999999 "
             "HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n" % tok).encode(),
        # drop-in endpoints (seeds 002, 003)
        A + b"POST /api/chat/heartbeat/?user_id=42 HTTP/1.1\r\n"
            b"Content-Length: 17\r\n\r\n{\"timestamp\":123}"
            b"GET /api/chat/online-users/?user_id=42 HTTP/1.1\r\n\r\n",
        A + b"POST /api/chat/heartbeat?user_id=alice HTTP/1.1\r\n"
            b"Content-Length: 4\r\n\r\n[1,2"
            b"GET /api/chat/rooms/online_users HTTP/1.1\r\n\r\n",
        J + ("GET /api/chat/rooms/online_users/ HTTP/1.1\r\nAuthorization: "
             "Bearer %s\r\n\r\nPOST /api/chat/heartbeat/ HTTP/1.1\r\n"
             "Authorization: Bearer %s\r\n\r\n" % (tok, tok)).encode(),
        A + b"GET /admin/online-users HTTP/1.1\r\n\r\n"
            b"GET /admin/online-users/ HTTP/1.1\r\n\r\n",
        J + ("GET /admin/online-users HTTP/1.1\r\nAuthorization: Bearer "
             "%s\r\n\r\nGET /admin/online-users/ HTTP/1.1\r\n"
             "Authorization: Bearer %s\r\n\r\n" % (tok, adm)).encode(),
        J + b"POST /api/chat/heartbeat/ HTTP/1.1\r\n\r\n"
            b"DELETE /api/chat/online-users/ HTTP/1.1\r\n\r\n",
        # SignalR (seed 000): negotiate, its preflight, hub upgrades
        A + b"POST /hubs/location/negotiate?negotiateVersion=1 HTTP/1.1\r\n"
            b"Origin: http://localhost:3000\r\n\r\n"
            b"POST /hubs/presence/negotiate HTTP/1.1\r\n\r\n"
            b"POST /hubs/presence/negotiate?negotiateVersion=x HTTP/1.1"
            b"\r\n\r\nGET /hubs/presence/negotiate HTTP/1.1\r\n\r\n",
        A + b"OPTIONS /hubs/location/negotiate HTTP/1.1\r\nOrigin: "
            b"https://app.example.com\r\nAccess-Control-Request-Method: "
            b"POST\r\nAccess-Control-Request-Headers: authorization, "
            b"x-requested-with, x-signalr-user-agent\r\n\r\n",
        A + upgrade("/hubs/presence") +
        b"{\"protocol\":\"json\",\"version\":1}\x1e",
        A + upgrade("/hubs/location/?id=nosuchtoken"),
        A + b"GET /hubs/location?id=x HTTP/1.1\r\n\r\n",
        J + ("POST /hubs/location/negotiate?negotiateVersion=1 HTTP/1.1\r\n"
             "Authorization: Bearer %s\r\n\r\n" % tok).encode(),
        J + upgrade("/hubs/location?access_token=" + tok),
        J + upgrade("/hubs/location"),
    ]
    # Socket.IO (fuzz_sio.c drives sessions; these reach its routing)
    seeds += [
        A + b"GET /socket.io/?EIO=4&transport=polling&t=x HTTP/1.1\r\n"
            b"Origin: https://app.example.com\r\n\r\n"
            b"OPTIONS /socket.io/ HTTP/1.1\r\nOrigin: http://localhost:3000"
            b"\r\nAccess-Control-Request-Method: POST\r\n"
            b"Access-Control-Request-Headers: content-type\r\n\r\n",
        A + b"POST /socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA"
            b" HTTP/1.1\r\nContent-Length: 2\r\n\r\n40"
            b"GET /socket.io?EIO=3&transport=polling HTTP/1.1\r\n\r\n"
            b"GET /socket.io/?EIO=4&transport=flash HTTP/1.1\r\n\r\n",
        A + upgrade("/socket.io/?EIO=4&transport=websocket")
        + ws_frame("40") + ws_frame('42["userOnline",{"userId":1}]')
        + ws_frame("3") + ws_frame('421["getOnlineUsers"]'),
        J + upgrade("/socket.io/?EIO=4&transport=websocket&token=" + tok)
        + ws_frame('40{"token":"%s"}' % tok)
        + ws_frame('42["userOnline",{"userId":"alice"}]'),
    ]
    write("http", seeds)


def ws():
    hello = json.dumps({"type": "hello", "user_id": "alice"})
    H, N = b"\x80", b"\x00"  # hello sent by the harness first, or not
    seeds = [
        N + ws_frame(hello),
        N + ws_frame('{"type":"ping"}'),
        H + ws_frame('{"type":"ping","id":1}'),
        H + ws_frame('{"type":"watch","user_ids":["b"]}'),
        H + ws_frame('{"type":"set_st', fin=False) +
        ws_frame('atus","status":"away"}', opcode=0),
        H + ws_frame('{"type":', fin=False) + ws_frame(b"x", opcode=9) +
        ws_frame('"ping"}', opcode=0),
        H + ws_frame(b"\x01\x02", opcode=2),
        H + ws_frame(b"\x03\xe8bye", opcode=8),
        H + ws_frame(b"", opcode=9),
        H + ws_frame(b"", opcode=10),
        H + ws_frame(b"x" * 200, opcode=9),
        H + ws_frame(b"", opcode=3),
        H + ws_frame('{"type":"ping"}', masked=False),
        H + ws_frame(b'{"t":"\xff"}'),
        H + bytes([0x81, 0xFF]) + struct.pack(">Q", 1 << 40) + b"\0\0\0\0",
        H + bytes([0xC1, 0x80, 0, 0, 0, 0]),
        H + ws_frame(b"a", opcode=0),
        b"\x83" + ws_frame('{"type":"query","user_ids":["a","b"]}') +
        ws_frame('{"type":"bye"}'),
        b"\x81" + ws_frame('{"type":"typing","thread_id":"t","active":true}'),
        H + ws_frame('{"type":"ping"}') * 60,
    ]
    write("ws", seeds)


def jsonmsgs():
    def lines(*msgs):
        return "\n".join(m if isinstance(m, str) else json.dumps(m)
                         for m in msgs)
    S, NOHELLO, JWT = "\x00", "\x01", "\x02"
    tok = token({"sub": "alice", "exp": FAR})
    seeds = [
        S + lines({"type": "ping", "id": 1}),
        S + lines({"type": "set_status", "status": "away", "text": "x"}),
        S + lines({"type": "set_status", "status": "invisible"},
                  {"type": "set_status", "status": "offline"}),
        S + lines({"type": "watch", "id": "w", "user_ids": ["a", "b"]},
                  {"type": "unwatch", "user_ids": ["a"]}),
        S + lines({"type": "query", "user_ids": ["a"]}),
        S + lines({"type": "list_online"},
                  {"type": "list_online", "thread_id": "t1"}),
        S + lines({"type": "typing", "thread_id": "t1", "active": True}),
        S + lines({"type": "bye"}),
        S + lines({"type": "hello", "user_id": "again"}),
        S + lines({"type": "nope"}, {"id": [1]}, "[1,2]", "{", "null"),
        S + lines({"type": "watch", "user_ids": ["x%d" % i
                                                 for i in range(40)]}),
        S + lines({"type": "watch", "user_ids": [1, None]},
                  {"type": "query", "user_ids": "a"}),
        NOHELLO + lines({"type": "hello", "user_id": "bob", "device": "d",
                         "status": "dnd", "text": "t",
                         "meta": {"user_name": "B"}},
                        {"type": "ping"}),
        NOHELLO + lines({"type": "hello", "device": "d" * 70}),
        NOHELLO + lines({"type": "hello", "user_id": "b",
                         "meta": {"k": "v" * 1100}}),
        NOHELLO + lines({"type": "ping"}),
        NOHELLO + lines({"type": "hello", "user_id": "", "id": {}}),
        JWT + lines({"type": "hello", "token": tok}, {"type": "ping"}),
        JWT + lines({"type": "hello", "token": "a.b.c"}),
        S + lines(*([{"type": "ping"}] * 60)),
        # v1.1
        S + lines({"type": "activity", "idle": True, "id": 1},
                  {"type": "activity", "idle": False},
                  {"type": "activity", "idle": "x"}, {"type": "activity"}),
        S + lines({"type": "refresh", "token": "x"}, {"type": "refresh"}),
        JWT + lines({"type": "hello", "token": tok},
                    {"type": "refresh", "token": tok},
                    {"type": "refresh", "token": token(
                        {"sub": "bob", "exp": FAR})},
                    {"type": "refresh", "token": "a.b.c"},
                    {"type": "refresh", "token": 5}),
    ]
    write("json", seeds)


def jwt_seeds():
    R, C = b"\x00", b"\x01"  # raw token / header NUL claims, signed here
    hdr = json.dumps({"alg": "HS256", "typ": "JWT"}).encode()

    def claims(c):
        return C + hdr + b"\0" + json.dumps(c).encode()
    seeds = [
        R + token({"sub": "alice", "exp": FAR}).encode(),
        R + token({"sub": "root", "exp": FAR, "admin": True}).encode(),
        R + token({"sub": "alice", "exp": FAR}, alg="none").encode(),
        R + token({"sub": "alice", "exp": FAR}, key=b"wrong").encode(),
        R + token({"sub": "alice", "exp": 1}).encode(),
        R + b"a.b.c",
        R + b"...",
        R + b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.",
        R + b"not a token",
        claims({"sub": "alice", "exp": FAR}),
        claims({"sub": "alice", "exp": FAR, "nbf": FAR}),
        claims({"sub": "alice", "exp": "soon"}),
        claims({"sub": "alice"}),
        claims({"sub": "", "exp": FAR}),
        claims({"sub": "a\u0001", "exp": FAR}),
        claims({"sub": 5, "exp": FAR, "admin": "yes"}),
        claims({"sub": "alice", "exp": 4102444800.5, "nbf": 1.5}),
        C + json.dumps({"alg": "none"}).encode() + b"\0" +
        json.dumps({"sub": "a", "exp": FAR}).encode(),
        C + json.dumps({"alg": "HS512"}).encode() + b"\0" +
        json.dumps({"sub": "a", "exp": FAR}).encode(),
        C + b"{\0{}",
        C + b"[]\0[]",
    ]
    write("jwt", seeds)


def eio():
    # first byte: 1 = a polling POST body (packets joined by \x1e),
    # 0 = one WebSocket text frame
    P, W = b"\x01", b"\x00"
    RS = b"\x1e"
    online = json.dumps(["userOnline", {"userId": 1, "userType": "admin",
                                        "userName": "Ann"}],
                        separators=(",", ":")).encode()
    seeds = [
        P + b"40",
        P + b'40{"token":"' + token({"sub": "1", "exp": FAR}).encode() +
        b'"}',
        P + b"42" + online + RS + b'42["getOnlineUsers"]',
        P + b'42["userHeartbeat",{"userId":1}]' + RS + b"3",
        P + b'421["userOffline",{"userId":"1"}]',
        P + b"4hello" + RS + b"2" + RS + b"4world",
        P + b"1",
        P + b"6",
        P + b"4a" + RS,
        P + RS + b"4a",
        P + b"4a" + RS + b"bAQIDBA==",
        P + b"2" + RS + b"3" + RS + b"5" + RS + b"6",
        W + b"2probe",
        W + b"3probe",
        W + b"5",
        W + b"40/custom,",
        W + b'40/custom,{"token":"abc"}',
        W + b"40/random",
        W + b"41",
        W + b"41/custom,",
        W + b'42456["message-with-ack",1,"2",{"3":[false]}]',
        W + b'43456[1,"2",{"3":[false]}]',
        W + b'42/admin,1["tellme"]',
        W + b'44{"message":"Not authorized"}',
        W + b'452-["message",{"_placeholder":true,"num":0}]',
        W + b'461-15["bar"]',
        W + b"4abc",
        W + b'429007199254740992["a"]',
        W + b'42["disconnect"]',
        W + b'42{"a":1,"a":2}',
        W + b'40{"sid":"wZX3oN0bSVIhsaknAAAI"}',
        W + b"0" + json.dumps({"sid": "lv_VI97HAXpY6yYWAAAC",
                               "upgrades": ["websocket"],
                               "pingInterval": 25000, "pingTimeout": 20000,
                               "maxPayload": 1000000}).encode(),
    ]
    write("eio", seeds)


def signalr():
    # first byte: chunk size (low 7 bits, 0 = all at once) the rest is fed
    # to the record reader in; top bit: a 64-byte record bound
    RS = b"\x1e"
    hs = b'{"protocol":"json","version":1}' + RS

    def recs(*msgs):
        return b"".join((m if isinstance(m, bytes) else
                         json.dumps(m, separators=(",", ":")).encode()) + RS
                        for m in msgs)
    register = {"arguments": ["42"], "invocationId": "0",
                "target": "RegisterUser", "type": 1}
    seeds = [
        b"\x00" + hs,
        b"\x00" + hs + recs({"type": 6}),
        b"\x05" + hs + recs(register, {"type": 6}),
        b"\x01" + hs + recs(register),
        b"\x00" + hs + recs({"arguments": ["7"], "target": "JoinUserTracking",
                             "type": 1},
                            {"arguments": [], "invocationId": "1",
                             "target": "joinalluserstracking", "type": 1},
                            {"arguments": [], "invocationId": "2",
                             "target": "SendLocation", "type": 1}),
        b"\x00" + hs + recs({"type": 7}),
        b"\x00" + hs + recs({"type": 7, "error": "x",
                             "allowReconnect": True}),
        b"\x00" + hs + recs({"type": 1, "headers": {"Foo": "Bar"},
                             "invocationId": "123", "target": "Send",
                             "arguments": [42, "Test Message"],
                             "streamIds": ["1"]}),
        b"\x00" + hs + recs({"type": 2, "invocationId": "1", "item": 1},
                            {"type": 3, "invocationId": "1"},
                            {"type": 3, "invocationId": "2", "result": 42},
                            {"type": 3, "invocationId": "3", "error": "e"},
                            {"type": 3, "invocationId": "4", "result": 1,
                             "error": "both"}),
        b"\x00" + hs + recs({"type": 4, "invocationId": "9", "target": "S",
                             "arguments": [5]},
                            {"type": 5, "invocationId": "9"},
                            {"type": 8, "sequenceId": 1394},
                            {"type": 9, "sequenceId": 1234}),
        b"\x00" + recs({"protocol": "messagepack", "version": 1}),
        b"\x00" + recs({"protocol": "json", "version": 2}),
        b"\x00" + recs({"protocol": "json"}),
        b"\x00" + b"[]" + RS,
        b"\x00" + hs + RS + RS + b"{" + RS,
        b"\x00" + hs + b'{"type":6,"type":6}' + RS,
        b"\x80" + hs + recs({"type": 1, "target": "X" * 80,
                             "arguments": []}),
        b"\x83" + hs + b"x" * 100,
        b"\x00" + hs + b'{"type":6}',
    ]
    write("signalr", seeds)


def sio():
    """fuzz_sio.c: a flags byte, then commands (op, length, payload)."""
    def c(op, payload=b""):
        if isinstance(payload, str):
            payload = payload.encode()
        return bytes([op, len(payload)]) + payload

    def post(p):
        return c(0, p)

    GET, PROBE, WSONLY = c(1), c(2), c(4)

    def frame(p):
        return c(3, p)

    def tick(units):
        return c(5, bytes([units]))

    def event(who):
        return c(6, bytes([who]))

    online = '42["userOnline",{"userId":"u1","userType":"t","userName":"n"}]'
    A, J = b"\x00", b"\x01"
    seeds = [
        A + post("40") + GET + post(online) + GET + event(0x11) + GET
        + post('42["getOnlineUsers"]') + GET + post("1") + GET,
        A + post("40") + GET + GET + PROBE + frame("2probe") + GET
        + frame("5") + frame('42["userOnline",{"userId":5}]') + event(0x15)
        + frame("3") + tick(100) + GET,
        A + WSONLY + frame("40") + frame(online) + event(0x11) + event(0x01)
        + tick(100) + tick(200) + frame("3"),
        A + post("4bad") + post("bAAA") + post("x\x1e") + WSONLY
        + frame("\xff\xfe") + frame("42[1]"),
        J + post('40{"token":"x.y.z"}') + GET + WSONLY + frame("40") + GET,
        A + c(7, "transport=polling&EIO=3") + c(7, "transport=x")
        + c(7, "EIO=4&transport=polling&sid=zzz") + c(7, "EIO=4&transport="
                                                     "websocket"),
        A + post("40/admin,") + post("44") + post("41") + post("43")
        + post('42/admin,["x"]') + GET,
        A + post('40\x1e421["userOnline",{"userId":"a"}]\x1e422["nope"]'
                 '\x1e423["userHeartbeat",{}]\x1e3') + GET,
        A + post("40") + post(online) + post('42["userOffline",{"userId":'
                                             '"u1"}]') + event(0x21) + GET
        + post('42["userHeartbeat",{"userId":"u2"}]')
        + post('42["userOnline",{"userId":"u3"}]') + GET,
        A + post("40") + GET + PROBE + frame("2probe") + frame("4x")
        + PROBE + frame("2") + tick(50) + GET,
    ]
    write("sio", seeds)


def sr_hub():
    # first byte: message size (low 6 bits, 0: whole), 0x40 handshake
    # first, 0x80 registry acks and cron seconds between messages
    RS = "\x1e"

    def recs(*msgs):
        return "".join(json.dumps(m, separators=(",", ":")) + RS
                       for m in msgs).encode()

    def inv(i, target, *args):
        m = {"type": 1, "target": target, "arguments": list(args)}
        if i is not None:
            m["invocationId"] = str(i)
        return m
    H, HC = b"\x40", b"\xc0"
    seeds = [
        H + recs(inv(1, "RegisterUser", "alice"),
                 inv(2, "JoinUserTracking", 42),
                 inv(3, "LeaveUserTracking", "42"), {"type": 6}),
        HC + recs(inv(1, "registeruser", 7), inv(2, "RegisterUser", 8),
                  inv(3, "JoinAllUsersTracking"),
                  inv(4, "LeaveAllUsersTracking"), {"type": 7}),
        H + recs(inv(1, "JoinUserTracking", "bob"),
                 inv(None, "JoinAllUsersTracking"),
                 inv(2, "RegisterUser", "carol"), inv(3, "Nope", 1),
                 inv(4, "RegisterUser"), inv(5, "RegisterUser", {"a": 1}),
                 inv(6, "JoinUserTracking", ""),
                 {"type": 4, "invocationId": "7", "target": "RegisterUser",
                  "arguments": ["x"]},
                 {"type": 1, "invocationId": "8", "target": "RegisterUser",
                  "arguments": ["y"], "streamIds": ["1"]},
                 {"type": 3, "invocationId": "9", "result": 1},
                 {"type": 5, "invocationId": "9"}),
        b"\x05" + recs({"protocol": "json", "version": 1},
                       inv(1, "RegisterUser", "dave")),
        b"\x00" + recs({"protocol": "messagepack", "version": 1}),
        b"\x00" + b"{" + RS.encode(),
        H + b'{"type":1,"target":"RegisterUser","arguments":' + RS.encode(),
        HC + recs(*([inv(1, "JoinUserTracking", "u")] * 80)),
        H + b"x" * 200,
    ]
    write("sr_hub", seeds)


def static():
    # request targets (fuzz_static.c); the same bytes are also tried as an
    # If-None-Match list
    seeds = [
        "/v1/client.js", "/v1/client.d.ts?v=1", "/demo/", "/demo",
        "/admin/admin.js", "/ui/base.css", "/demo/index.html?x=1#frag",
        "/demo/%2e%2e/%2e%2e/etc/passwd", "/demo/..%2fadmin.js",
        "/demo/a%00.js", "/demo/.hidden.js", "/demo/%64emo.js",
        'W/"1-2-3.4", "x"', "*",
    ]
    write("static", seeds)


if __name__ == "__main__":
    gw_link()
    reg_link()
    pst_link()
    http()
    ws()
    jsonmsgs()
    jwt_seeds()
    eio()
    signalr()
    sio()
    sr_hub()
    static()
