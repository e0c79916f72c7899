"""The HTTP contract (docs/openapi.yaml) and the WebSocket message schemas
(docs/schema/ws/*.json) against a real system.

The routes come from the YAML, so a route added there is tested here
without touching this file:

- the document is well formed: every $ref resolves, every schema is a
  valid JSON Schema 2020-12, every operation has an id, a default answer
  and an x-presence-auth, and its paths are exactly the gateway's route
  table (gateway/gw_router.c);
- every documented operation answers (a valid request gets its 2xx, or
  101 for an upgrade), and its answer validates against the schema of its
  status, with the documented Content-Type and headers;
- paths that are not documented (typos, extra or missing segments,
  another case) get 404, and documented paths with another method 405
  (400 on the WebSocket paths, whose handler refuses other methods);
- invalid requests (bad ids, bodies, parameters, limits), refused
  credentials (auth jwt), a registry and a persister that are down: each
  answer's status is documented and its body validates;
- every message exchanged with a real gateway over the v1 WebSocket
  validates against the schema of its type, and every message type of
  PROTOCOL.md §3-4 has a schema.

Only Debian packages: python3-yaml and python3-jsonschema (4.10: draft
2020-12, RefResolver).
"""

import base64
import glob
import hashlib
import json
import os
import re
import secrets
import socket
import time
import unittest
import urllib.parse

import jsonschema
import yaml
from jsonschema import Draft202012Validator, RefResolver

from harness import (REPO, WAIT, Resp, SystemTestCase, http_request, q,
                     uid)

SPEC_PATH = os.path.join(REPO, "docs", "openapi.yaml")
WS_DIR = os.path.join(REPO, "docs", "schema", "ws")
ROUTER_C = os.path.join(REPO, "gateway", "gw_router.c")
PROTOCOL_MD = os.path.join(REPO, "docs", "PROTOCOL.md")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch",
           "trace")
AUTHS = ("none", "user", "admin", "admin-or-member", "admin-or-self")
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

with open(SPEC_PATH) as _f:
    SPEC = yaml.safe_load(_f)


def deref(node, root=None):
    """node with local $refs followed ('#/a/b')."""
    root = SPEC if root is None else root
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise AssertionError("non-local $ref %r" % ref)
        node = root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        seen += 1
        if seen > 20:
            raise AssertionError("$ref loop at %r" % ref)
    return node


def path_items():
    return [(p, deref(item)) for p, item in SPEC["paths"].items()]


def operations(frontends=False):
    """(path template, METHOD, operation, path item) for every operation;
    those of the drop-in frontends (x-presence-frontend: Socket.IO,
    SignalR, tested by FrontendRoutesTest) only if frontends."""
    for path, item in path_items():
        if item.get("x-presence-frontend") and not frontends:
            continue
        for m in METHODS:
            if m in item:
                yield path, m.upper(), item[m], item


def params_of(item, op):
    out = {}
    for p in (item.get("parameters") or []) + (op.get("parameters") or []):
        p = deref(p)
        out[(p["name"], p["in"])] = p
    return list(out.values())


def spec_match(path, allow_empty=False):
    """The documented (template, path item) a request path (without its
    query) falls under, or (None, None). A template parameter takes one
    segment, non-empty unless allow_empty (the gateway routes an empty id
    segment to the endpoint, which answers 400; the paths generated as
    undocumented never have one)."""
    segs = [urllib.parse.unquote(s) for s in path.split("/")[1:]]
    for tpl, item in path_items():
        tsegs = tpl.split("/")[1:]
        if len(tsegs) != len(segs):
            continue
        if all((t.startswith("{") and (s != "" or allow_empty)) or t == s
               for t, s in zip(tsegs, segs)):
            return tpl, item
    return None, None


def spec_validator(schema):
    return Draft202012Validator(schema,
                                resolver=RefResolver.from_schema(SPEC))


def response_spec(op, status):
    rs = op["responses"]
    for key in (str(status), str(status)[0] + "XX", "default"):
        if key in rs:
            return key, deref(rs[key])
    return None, None


def _norm_media(s):
    return (s or "").replace(" ", "").lower()


# ---------------------------------------------------------------- WebSocket
# schemas

def _ws_schemas():
    out = {}
    for f in sorted(glob.glob(os.path.join(WS_DIR, "*.json"))):
        with open(f) as fh:
            out[os.path.basename(f)] = json.load(fh)
    return out


WS_SCHEMAS = _ws_schemas()
WS_BASE = "file://" + WS_DIR + "/"
WS_STORE = {WS_BASE + name: s for name, s in WS_SCHEMAS.items()}


def ws_validator(name):
    schema = WS_SCHEMAS[name]
    return Draft202012Validator(
        schema, resolver=RefResolver(WS_BASE + name, schema,
                                     store=WS_STORE))


def ws_validate(direction, msg):
    """Validates one message against docs/schema/ws/<direction>-<type>."""
    name = "%s-%s.json" % (direction, msg.get("type"))
    if name not in WS_SCHEMAS:
        raise AssertionError("no schema %s for %r" % (name, msg))
    try:
        ws_validator(name).validate(msg)
    except jsonschema.ValidationError as e:
        raise AssertionError("%s: %r: %s" % (name, msg, e.message)) from None


def protocol_message_types():
    """The message types of PROTOCOL.md §3 (client) and §4 (server)."""
    with open(PROTOCOL_MD) as f:
        text = f.read()
    c = text[text.index("## 3."):text.index("## 4.")]
    s = text[text.index("## 4."):text.index("A presence object:")]
    row = re.compile(r"^\| `([a-z_]+)`", re.M)
    return set(row.findall(c)), set(row.findall(s))


# ---------------------------------------------------------------- raw HTTP

def raw_upgrade(port, path, headers=None, key=None, timeout=5.0):
    """A WebSocket upgrade by hand; returns a Resp (the 101's head only),
    and closes the connection."""
    key = key or base64.b64encode(secrets.token_bytes(16)).decode()
    hdrs = {"Host": "127.0.0.1:%d" % port, "Upgrade": "websocket",
            "Connection": "Upgrade", "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Version": "13"}
    hdrs.update(headers or {})
    req = "GET %s HTTP/1.1\r\n" % path + "".join(
        "%s: %s\r\n" % kv for kv in hdrs.items() if kv[1] is not None)
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall((req + "\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        h = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            h[k.strip().lower()] = v.strip()
        if status != 101:
            want = int(h.get("content-length", "0"))
            while len(body) < want:
                chunk = s.recv(4096)
                if not chunk:
                    break
                body += chunk
        else:
            body = b""
        r = Resp(status, h, body)
        r.key = key
        return r
    finally:
        s.close()


def accept_of(key):
    return base64.b64encode(
        hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


# ---------------------------------------------------------------- base

class ContractBase(SystemTestCase):
    """Requests built from the document, answers checked against it."""

    def creds(self, op, user=None, admin=True, token=None):
        """Headers naming the caller: X-User-Id under auth none, a bearer
        token under jwt (an admin's unless admin=False); none for an
        operation without security."""
        if op.get("security") == []:
            return {}
        user = user or "contract-admin"
        if self.sys.auth == "none":
            return {"X-User-Id": user}
        tok = token or self.sys.token(user, admin=True if admin else None)
        return {"Authorization": "Bearer " + tok}

    def valid_request(self, tpl, op, item, ids=None):
        """(path with query, body) of a valid request: fresh ids for the
        path, the query parameters that have an example, the body's
        example."""
        ids = dict(ids or {})
        path = tpl
        query = {}
        for p in params_of(item, op):
            if p["in"] == "path":
                v = ids.setdefault(p["name"], uid(p["name"][0]))
                path = path.replace("{%s}" % p["name"], q(v))
            elif p["in"] == "query" and "example" in p:
                query[p["name"]] = p["example"]
        if query:
            path += "?" + urllib.parse.urlencode(query)
        body = None
        rb = deref(op.get("requestBody") or {})
        if rb:
            body = rb["content"]["application/json"].get("example")
            self.assertIsNotNone(body, "%s: no body example" % tpl)
        return path, body

    def request(self, method, path, body=None, headers=None, gw=0):
        return http_request(self.sys.port(gw), method, path, body, headers,
                            timeout=WAIT)

    def op_for(self, method, path):
        tpl, item = spec_match(path.split("?")[0], allow_empty=True)
        self.assertIsNotNone(tpl, "%s is not documented" % path)
        op = item.get(method.lower())
        self.assertIsNotNone(op, "%s %s is not documented" % (method, path))
        return op

    def check(self, op, method, r, what, status=None):
        """Asserts that r's status is documented for op (and equals status
        when given), and that its headers and body match the document.
        Returns the parsed body."""
        if status is not None:
            self.assertEqual(r.status, status, "%s: %r" % (what, r))
        key, spec = response_spec(op, r.status)
        self.assertIsNotNone(spec, "%s: status %d not documented: %r"
                             % (what, r.status, r))
        for name, h in (spec.get("headers") or {}).items():
            h = deref(h)
            got = r.headers.get(name.lower())
            if h.get("required"):
                self.assertIsNotNone(got, "%s: no %s header: %r"
                                     % (what, name, r.headers))
            const = (h.get("schema") or {}).get("const")
            if got is not None and const is not None:
                self.assertEqual(got, const, "%s: header %s" % (what, name))
        content = spec.get("content")
        if method == "HEAD" or r.status == 101:
            self.assertEqual(r.raw, b"", what)
            return None
        if not content:
            self.assertEqual(r.raw, b"", "%s: undocumented body" % what)
            return None
        ctype = r.headers.get("content-type")
        media = [m for m in content if _norm_media(m) == _norm_media(ctype)]
        self.assertTrue(media, "%s: Content-Type %r, documented %r"
                        % (what, ctype, list(content)))
        schema = content[media[0]].get("schema") or {}
        inst = r.text
        if media[0].startswith("application/json"):
            self.assertIsNotNone(r.json, "%s: not JSON: %r" % (what, r))
            inst = r.json
        try:
            spec_validator(schema).validate(inst)
        except jsonschema.ValidationError as e:
            raise AssertionError("%s: status %d: body %s does not validate "
                                 "against %s: %s at %s" % (
                                     what, r.status, r.text[:500],
                                     schema, e.message,
                                     list(e.absolute_path))) from None
        return inst

    def call(self, method, path, body=None, headers=None, status=None):
        """Sends a request, checks it against its documented operation,
        returns (Resp, body)."""
        op = self.op_for(method, path)
        if op is None:
            return None, None
        r = self.request(method, path, body, headers)
        return r, self.check(op, method, r, "%s %s" % (method, path),
                             status)

    def call_op(self, tpl, method, op, item, status, ids=None, **creds):
        """The valid request of op, with the given credentials; asserts
        the status and the answer."""
        path, body = self.valid_request(tpl, op, item, ids)
        what = "%s %s" % (method, path)
        if item.get("x-presence-upgrade"):
            hdrs = {}
            if creds.get("token"):
                path += ("&" if "?" in path else "?") + "token=" + \
                    q(creds["token"])
            r = raw_upgrade(self.sys.port(), path, hdrs)
            self.check(op, method, r, what, status)
            if r.status == 101:
                self.assertEqual(r.headers.get("sec-websocket-accept"),
                                 accept_of(r.key), what)
            return r
        r = self.request(method, path, body, self.creds(op, **creds))
        self.check(op, method, r, what, status)
        return r


# ---------------------------------------------------------------- the
# document itself

class SpecTest(unittest.TestCase):
    def test_openapi_document(self):
        self.assertTrue(str(SPEC["openapi"]).startswith("3.1."))
        for k in ("title", "version"):
            self.assertIn(k, SPEC["info"])
        ids, seen = set(), set()
        for tpl, method, op, item in operations(frontends=True):
            what = "%s %s" % (method, tpl)
            if id(op) in seen:
                continue  # a path item referenced by two paths
            seen.add(id(op))
            self.assertIn("operationId", op, what)
            self.assertNotIn(op["operationId"], ids, what)
            ids.add(op["operationId"])
            self.assertIn("default", op["responses"], what)
            self.assertIn(op.get("x-presence-auth"), AUTHS, what)
            self.assertTrue(set(op.get("x-presence-needs", ())) <=
                            {"registry", "persister"}, what)
            names = {p["name"] for p in params_of(item, op)
                     if p["in"] == "path"}
            self.assertEqual(names, set(re.findall(r"\{([^}]+)\}", tpl)),
                             what)
            for p in params_of(item, op):
                if p["in"] == "path":
                    self.assertTrue(p.get("required"), what)
            for key, r in op["responses"].items():
                self.assertRegex(str(key), r"^([1-5][0-9X]{2}|default)$")
                r = deref(r)
                self.assertIn("description", r, what)
                for mt in (r.get("content") or {}).values():
                    Draft202012Validator.check_schema(mt.get("schema", {}))
            rb = deref(op.get("requestBody") or {})
            for mt in (rb.get("content") or {}).values():
                spec_validator(mt["schema"]).validate(mt["example"])

    def test_every_ref_resolves_and_every_schema_is_valid(self):
        def walk(node, where):
            if isinstance(node, dict):
                if "$ref" in node:
                    deref(node)
                for k, v in node.items():
                    walk(v, where + "/" + str(k))
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, "%s/%d" % (where, i))
        walk(SPEC, "#")
        for name, s in SPEC["components"]["schemas"].items():
            Draft202012Validator.check_schema(s)
            for ex in [s["example"]] if "example" in s else []:
                spec_validator(s).validate(ex)

    def test_paths_are_the_route_table(self):
        """Every route of gw_router.c is documented with its methods, and
        every documented path is a route."""
        with open(ROUTER_C) as f:
            src = f.read()
        table = src[src.index("routes[] = {"):]
        table = table[:table.index("\n};")]
        entries = re.findall(
            r"\{\s*((?:M\(HTTP_[A-Z]+\)\s*\|?\s*)+|M_ANY)\s*,\s*\"([^\"]+)\"",
            table)
        self.assertGreater(len(entries), 10)
        routes = {}
        for methods, pattern in entries:
            segs = ["{}" if s in ("*", "+") else s
                    for s in pattern.split("/")[1:]]
            key = "/" + "/".join(segs)
            ms = ({"ANY"} if methods == "M_ANY" else
                  set(re.findall(r"HTTP_([A-Z]+)", methods)))
            routes.setdefault(key, set()).update(ms)
        # cfg_routes[]: paths from the configuration, matched by functions;
        # the default configuration's paths (the trailing slash optional
        # on the Socket.IO path and on a hub, gw_path_is)
        defaults = {"router_sio_path": ["/socket.io/", "/socket.io"],
                    "gw_signalr_is_negotiate": ["/hubs/location/negotiate",
                                                "/hubs/presence/negotiate"],
                    "gw_signalr_is_hub": ["/hubs/location", "/hubs/location/",
                                          "/hubs/presence", "/hubs/presence/"]}
        cfg = src[src.index("cfg_routes[] = {"):]
        cfg = cfg[:cfg.index("\n};")]
        cfg_entries = re.findall(
            r"\{\{\s*((?:M\(HTTP_[A-Z]+\)\s*\|?\s*)+)\s*,[^}]*\}\s*,"
            r"\s*([a-z_]+)\s*\}", cfg)
        self.assertEqual({m for _, m in cfg_entries}, set(defaults))
        for methods, match in cfg_entries:
            for key in defaults[match]:
                routes.setdefault(key, set()).update(
                    re.findall(r"HTTP_([A-Z]+)", methods))
        documented = {}
        for tpl, item in path_items():
            key = re.sub(r"\{[^}]+\}", "{}", tpl)
            ms = {m.upper() for m in METHODS if m in item}
            if item.get("x-presence-upgrade"):
                self.assertEqual(ms, {"GET"}, tpl)
                ms = {"ANY"}
            documented[key] = ms
        self.assertEqual(documented, routes)

    def test_ws_schemas(self):
        for name, s in WS_SCHEMAS.items():
            Draft202012Validator.check_schema(s)
        client, server = protocol_message_types()
        self.assertGreaterEqual(len(client), 10)
        self.assertGreaterEqual(len(server), 7)
        have_c = {n[len("client-"):-5] for n in WS_SCHEMAS
                  if n.startswith("client-")}
        have_s = {n[len("server-"):-5] for n in WS_SCHEMAS
                  if n.startswith("server-")}
        self.assertEqual(have_c, client)
        # user_status_changed: seed 004's event (MIGRATING.md)
        self.assertEqual(have_s, server | {"user_status_changed"})

    def test_ws_schemas_refuse_what_they_should(self):
        ok = {"type": "presence", "user_id": "a", "status": "online",
              "is_online": True, "text": None, "last_seen": 1, "since": 1,
              "meta": None}
        ws_validate("server", ok)
        for bad in (dict(ok, extra=1), dict(ok, status="gone"),
                    dict(ok, is_online=False), dict(ok, auto=False),
                    {k: v for k, v in ok.items() if k != "since"}):
            with self.assertRaises(AssertionError, msg=bad):
                ws_validate("server", bad)
        ws_validate("client", {"type": "watch", "user_ids": ["a"]})
        for bad in ({"type": "watch"}, {"type": "watch", "user_ids": [1]},
                    {"type": "watch", "user_ids": ["x"] * 1001},
                    {"type": "set_status", "status": "offline"},
                    {"type": "typing", "thread_id": "t"}):
            with self.assertRaises(AssertionError, msg=bad):
                ws_validate("client", bad)


# ---------------------------------------------------------------- auth none

class RoutesTest(ContractBase):
    AUTH = "none"

    def test_every_documented_operation_answers(self):
        for tpl, method, op, item in operations():
            with self.subTest(op=op["operationId"]):
                expect = min(int(k) for k in op["responses"]
                             if k != "default" and int(k) < 300)
                self.call_op(tpl, method, op, item, expect)

    def test_undocumented_paths_are_404(self):
        cands = {"/", "/v1", "/v2/online", "/v1/online/extra", "/V1/online",
                 "/v1/users", "/v1/users/alice", "/v1/users/alice/",
                 "/v1/users/alice/status", "/v1/presence",
                 "/v1/presence/query/", "/v1/thread/t1/members",
                 "/v1/threads/t1", "/v1/threads/t1/members/a/b",
                 "/api/chat", "/api/chat/online_users/", "/api/chat/hb/",
                 "/admin", "/admin/online", "/healthz/", "/health",
                 "/metrics.txt", "/readyz/x", "/ws", "/ws/presence",
                 "/ws/presence/a/b", "/v1/ws/", "/v1/ws/x",
                 "/v1/users/a/history/x", "/v1/users/a/sessions/s1",
                 "/v1/users/%2Fa/presence/x", "/.env", "/index.html"}
        for tpl, _ in path_items():
            inst = re.sub(r"\{[^}]+\}", "x1", tpl)
            segs = inst.split("/")
            cands.add(inst + "/extra")
            cands.add("/".join(segs[:-1]) or "/")
            cands.add(inst.upper())
            cands.add(inst[:-1] if inst.endswith("/") else inst + "/")
            for i in range(1, len(segs)):
                if segs[i] not in ("x1", ""):
                    cands.add("/".join(segs[:i] + [segs[i] + "s"] +
                                       segs[i + 1:]))
        n404 = 0
        for path in sorted(cands):
            tpl, item = spec_match(path, allow_empty=True)
            for method in ("GET", "POST", "DELETE"):
                r = self.request(method, path,
                                 headers={"X-User-Id": "contract"})
                what = "%s %s" % (method, path)
                if tpl is None:
                    self.assertEqual(r.status, 404, "%s: %r" % (what, r))
                    self.assertEqual(r.json["error"]["code"], "not_found",
                                     what)
                    spec_validator(SPEC["components"]["schemas"]["Error"]) \
                        .validate(r.json)
                    n404 += 1
                else:
                    self.assertNotEqual(r.status, 404, "%s: %r" % (what, r))
        self.assertGreater(n404, 100)

    def test_other_methods_are_405(self):
        for tpl, item in path_items():
            path, _ = self.valid_request(tpl, {}, item,
                                         ids={"user_id": "u1",
                                              "thread_id": "t1"})
            path = re.sub(r"\{[^}]+\}", "x1", path)
            for m in METHODS:
                if m in item:
                    continue
                method = m.upper()
                r = self.request(method, path,
                                 headers={"X-User-Id": "contract"})
                what = "%s %s" % (method, path)
                want = 400 if item.get("x-presence-upgrade") else 405
                self.assertEqual(r.status, want, "%s: %r" % (what, r))
                op = next(item[k] for k in METHODS if k in item)
                self.check(op, method, r, what)

    def test_invalid_requests(self):
        long_id = "x" * 129
        me = {"X-User-Id": "contract"}
        cases = [
            ("GET", "/v1/users/%s/presence" % long_id, None, me, 400),
            ("GET", "/v1/users/a%01b/presence", None, me, 400),
            ("GET", "/v1/users//presence", None, me, 400),
            ("POST", "/v1/presence/query", "not json", me, 400),
            ("POST", "/v1/presence/query", {}, me, 400),
            ("POST", "/v1/presence/query", {"user_ids": "a"}, me, 400),
            ("POST", "/v1/presence/query", {"user_ids": [1]}, me, 400),
            ("POST", "/v1/presence/query", {"user_ids": [long_id]}, me, 400),
            ("POST", "/v1/presence/query",
             {"user_ids": ["u%d" % i for i in range(1001)]}, me, 413),
            ("GET", "/v1/online?thread_id=" + long_id, None, me, 400),
            ("GET", "/v1/online?thread_id=%zz", None, me, 400),
            ("GET", "/v1/threads/%s/members" % long_id, None, me, 400),
            ("PUT", "/v1/threads/t1/members", [], me, 400),
            ("PUT", "/v1/threads/t1/members", {"user_ids": None}, me, 400),
            ("POST", "/v1/threads/t1/members", {"ids": []}, me, 400),
            ("DELETE", "/v1/threads/t1/members/" + long_id, None, me, 400),
            ("GET", "/v1/users/%s/sessions" % long_id, None, me, 400),
            ("DELETE", "/v1/users/%s/sessions" % long_id, None, me, 400),
            ("GET", "/v1/users/u1/history?limit=0", None, me, 400),
            ("GET", "/v1/users/u1/history?limit=1001", None, me, 400),
            ("GET", "/v1/users/u1/history?since=-1", None, me, 400),
            ("GET", "/v1/users/u1/history?since=abc", None, me, 400),
            ("GET", "/v1/users/%s/history" % long_id, None, me, 400),
            ("POST", "/v1/heartbeat", None, {}, 400),
            ("POST", "/v1/logout", None, {}, 400),
            ("POST", "/api/chat/heartbeat/", "[1]", me, 400),
            ("POST", "/api/chat/heartbeat", None, {}, 400),
            ("GET", "/v1/online?x=" + "a" * 5000, None, me, 414),
            ("POST", "/v1/presence/query", {"user_ids": ["a" * 100] * 700},
             me, 413),
            ("GET", "/v1/online",
             None, dict(me, **{"X-H%d" % i: "v" for i in range(70)}), 431),
        ]
        for method, path, body, hdrs, status in cases:
            with self.subTest(method=method, path=path[:80]):
                self.call(method, path, body, hdrs, status)

    def test_invalid_upgrades(self):
        port = self.sys.port()
        for path in ("/v1/ws", "/ws/presence/u1"):
            op = self.op_for("GET", path)
            cases = [
                ({"Upgrade": None}, 400),
                ({"Connection": "keep-alive"}, 400),
                ({"Sec-WebSocket-Version": None}, 400),
                ({"Sec-WebSocket-Version": "12"}, 426),
            ]
            for hdrs, status in cases:
                r = raw_upgrade(port, path, hdrs)
                self.check(op, "GET", r, "%s %r" % (path, hdrs), status)
            r = raw_upgrade(port, path, key="short")
            self.check(op, "GET", r, "%s bad key" % path, 400)
            # a plain GET, as a browser's address bar would send
            r = self.request("GET", path)
            self.check(op, "GET", r, "plain GET %s" % path, 400)
        r = raw_upgrade(port, "/ws/presence/" + "x" * 129)
        self.check(self.op_for("GET", "/ws/presence/u1"), "GET", r,
                   "long id", 400)
        r = raw_upgrade(port, "/v1/ws", {"Sec-WebSocket-Protocol":
                                         "presence.v1"})
        self.check(self.op_for("GET", "/v1/ws"), "GET", r, "subprotocol",
                   101)
        self.assertEqual(r.headers.get("sec-websocket-protocol"),
                         "presence.v1")

    def test_answers_with_data(self):
        """Every GET answer validated with real content: online users,
        meta, text, auto-away, HTTP sessions, history, numeric drop-in
        ids."""
        num = str(10**9 + secrets.randbelow(10**9))  # goes out as a number
        a, b, c, t = num, uid("b"), uid("c"), uid("t")
        self.sys.put_members(t, [a, b, c])
        ca = self.connect(a, device="phone", status="dnd", text="busy",
                          meta={"user_name": "A"})
        cb = self.connect(b)
        self.assertOk(cb.request("activity", idle=True))
        r, _ = self.call("POST", "/v1/heartbeat", headers={"X-User-Id": c},
                         status=200)
        me = {"X-User-Id": "contract"}
        _, p = self.call("GET", "/v1/users/%s/presence" % q(a), headers=me,
                         status=200)
        self.assertEqual((p["status"], p["text"], p["meta"]),
                         ("dnd", "busy", {"user_name": "A"}))
        deadline = time.monotonic() + WAIT
        while True:
            _, p = self.call("GET", "/v1/users/%s/presence" % q(b),
                             headers=me, status=200)
            if p.get("auto"):
                break
            self.assertLess(time.monotonic(), deadline, p)
            time.sleep(0.05)
        _, body = self.call("POST", "/v1/presence/query",
                            {"user_ids": [a, b, c, uid("never")]}, me, 200)
        self.assertEqual(len(body["users"]), 4)
        _, body = self.call("GET", "/v1/online", headers=me, status=200)
        self.assertTrue({a, b, c} <= set(body["online_users"]), body)
        _, body = self.call("GET", "/v1/online?thread_id=" + q(t),
                            headers=me, status=200)
        self.assertEqual(set(body["online_users"]), {a, b, c})
        _, body = self.call("GET", "/v1/threads/%s/members" % q(t),
                            headers=me, status=200)
        self.assertEqual(set(body["user_ids"]), {a, b, c})
        _, body = self.call("GET", "/v1/users/%s/sessions" % q(a),
                            headers=me, status=200)
        self.assertEqual(body["sessions"][0]["session_id"], ca.session_id)
        _, body = self.call("GET", "/v1/users/%s/sessions" % q(c),
                            headers=me, status=200)
        self.assertEqual(body["sessions"][0]["device"], "http")
        deadline = time.monotonic() + WAIT
        while True:
            _, body = self.call("GET", "/v1/users/%s/history?limit=5" % q(a),
                                headers=me, status=200)
            if body["events"]:
                break
            self.assertLess(time.monotonic(), deadline, "no history")
            time.sleep(0.1)
        for path in ("/api/chat/online-users/", "/api/chat/online-users",
                     "/api/chat/rooms/online_users/",
                     "/api/chat/rooms/online_users"):
            _, body = self.call("GET", path, headers={"X-User-Id": b},
                                status=200)
            self.assertIn(int(num), body["online_users"], body)
            self.assertIn(b, body["online_users"], body)
        for path in ("/admin/online-users", "/admin/online-users/"):
            _, body = self.call("GET", path, headers=me, status=200)
            conns = {u["user_id"]: u["connections"]
                     for u in body["online_users"]}
            self.assertEqual(conns.get(int(num)), 1, body)
        for path in ("/api/chat/heartbeat/", "/api/chat/heartbeat"):
            self.call("POST", path, {"timestamp": 1}, {"X-User-Id": c}, 200)
            self.call("POST", path, None, {"X-User-Id": c}, 200)
        self.call("POST", "/v1/logout", headers={"X-User-Id": c},
                  status=200)
        _, body = self.call("DELETE", "/v1/users/%s/sessions" % q(a),
                            headers=me, status=200)
        self.assertEqual(body, {"ended": 1})
        ca.expect_close(4001)
        for path in ("/healthz", "/readyz", "/metrics"):
            self.call("HEAD", path, status=200)
            r, _ = self.call("GET", path, status=200)
        self.assertIn("presence_gateway_sessions ", r.text)


# ---------------------------------------------------------------- drop-in
# frontends (Socket.IO, SignalR: x-presence-frontend)

class FrontendRoutesTest(ContractBase):
    """Every operation of the Socket.IO and SignalR paths, exercised with
    the requests its protocol makes; answers validated as above."""
    AUTH = "none"

    def eio_error(self, method, path, code, body=None):
        r, err = self.call(method, path, body,
                           {"Content-Type": "text/plain"} if body else None,
                           400)
        self.assertEqual(err["code"], code, "%s %s: %r" % (method, path, r))

    def test_every_frontend_operation_answers(self):
        documented = {op["operationId"]
                      for _, _, op, _ in operations(frontends=True)} - \
            {op["operationId"] for _, _, op, _ in operations()}
        self.assertEqual(documented, {
            "socketIoGet", "socketIoPost", "socketIoPreflight",
            "signalrNegotiate", "signalrNegotiatePreflight",
            "signalrConnect"})
        open_v = spec_validator(SPEC["components"]["schemas"]["EngineIoOpen"])
        for base in ("/socket.io/", "/socket.io"):
            # socketIoGet: the polling handshake, its open packet
            _, text = self.call("GET", base + "?EIO=4&transport=polling",
                                status=200)
            self.assertEqual(text[0], "0", text)
            o = json.loads(text[1:])
            open_v.validate(o)
            self.assertEqual((o["upgrades"], o["pingInterval"],
                              o["pingTimeout"]),
                             (["websocket"], 25000, 20000))
            sid = o["sid"]
            # socketIoPost: a CONNECT packet for the session
            r, ok = self.call("POST", "%s?EIO=4&transport=polling&sid=%s"
                              % (base, q(sid)), "40",
                              {"Content-Type": "text/plain;charset=UTF-8"},
                              200)
            self.assertEqual(ok, "ok")
            # Engine.IO's errors
            self.eio_error("GET", base + "?EIO=4&transport=polling&sid=nope",
                           1)
            self.eio_error("POST", base + "?EIO=4&transport=polling&sid=nope",
                           1, "40")
            self.eio_error("POST", base + "?EIO=4&transport=polling", 2, "40")
            self.eio_error("GET", base + "?EIO=4&transport=foo", 0)
            self.eio_error("GET", base + "?EIO=4", 0)
            self.eio_error("GET", base + "?EIO=3&transport=polling", 5)
            self.eio_error("GET", base + "?EIO=4&transport=websocket", 3)
            # socketIoPreflight
            self.call("OPTIONS", base, headers={
                "Origin": "http://example.test",
                "Access-Control-Request-Method": "POST"}, status=204)
            # socketIoGet: a WebSocket-only session
            path = base + "?EIO=4&transport=websocket"
            r = raw_upgrade(self.sys.port(), path)
            self.check(self.op_for("GET", path), "GET", r, path, 101)
            self.assertEqual(r.headers.get("sec-websocket-accept"),
                             accept_of(r.key))
        for hub in ("/hubs/location", "/hubs/presence"):
            neg = hub + "/negotiate"
            # signalrNegotiate, versions 1 and 0
            _, v1 = self.call("POST", neg + "?negotiateVersion=1",
                              status=200)
            self.assertEqual(v1["negotiateVersion"], 1)
            self.assertIn("connectionToken", v1)
            self.assertEqual(v1["availableTransports"], [
                {"transport": "WebSockets", "transferFormats": ["Text"]}])
            _, v0 = self.call("POST", neg, status=200)
            self.assertEqual(v0["negotiateVersion"], 0)
            self.assertNotIn("connectionToken", v0)
            self.call("POST", neg + "?negotiateVersion=x", status=400)
            # signalrNegotiatePreflight
            self.call("OPTIONS", neg, headers={
                "Origin": "http://example.test",
                "Access-Control-Request-Method": "POST"}, status=204)
            for path in (hub, hub + "/"):
                op = self.op_for("GET", path)
                # signalrConnect: an unknown id is 404 before the upgrade
                r = raw_upgrade(self.sys.port(), path + "?id=nope")
                body = self.check(op, "GET", r, path + "?id=nope", 404)
                self.assertEqual(body["error"]["code"], "not_found")
                # the token of negotiate (1), the connectionId (0), none
                _, n1 = self.call("POST", neg + "?negotiateVersion=1",
                                  status=200)
                _, n0 = self.call("POST", neg, status=200)
                for query in ("?id=" + q(n1["connectionToken"]),
                              "?id=" + q(n0["connectionId"]), ""):
                    r = raw_upgrade(self.sys.port(), path + query)
                    self.check(op, "GET", r, path + query, 101)
                    self.assertEqual(r.headers.get("sec-websocket-accept"),
                                     accept_of(r.key))
                # single use
                r = raw_upgrade(self.sys.port(),
                                path + "?id=" + q(n1["connectionToken"]))
                self.check(op, "GET", r, "used id", 404)
                # a plain GET
                r = self.request("GET", path)
                self.check(op, "GET", r, "plain GET " + path, 400)


# ---------------------------------------------------------------- WebSocket
# messages

class WsMessagesTest(ContractBase):
    AUTH = "none"

    def recorded(self, **kw):
        """A client (not yet greeted) whose every message, sent or
        received, is kept for validation."""
        c = self.client(**kw)
        c.sent_log, c.got_log = [], []
        send, recv = c.send, c._recv

        def rec_send(msg):
            c.sent_log.append(msg if isinstance(msg, dict)
                              else json.loads(msg))
            send(msg)

        def rec_recv(timeout):
            m = recv(timeout)
            if m is not None:
                c.got_log.append(m)
            return m

        c.send, c._recv = rec_send, rec_recv
        self.recorded_clients.append(c)
        return c

    def setUp(self):
        super().setUp()
        self.recorded_clients = []

    def refused(self, c, code, mtype, **fields):
        """Sends a message its schema refuses; the gateway must refuse it
        too (error code). It is left out of the client's log."""
        msg = dict(fields, type=mtype)
        with self.assertRaises(AssertionError, msg=msg):
            ws_validate("client", msg)
        self.assertError(c.request(mtype, **fields), code)
        c.sent_log = [m for m in c.sent_log
                      if {k: v for k, v in m.items() if k != "id"} != msg]

    def validate_all(self):
        sent, got = set(), set()
        for c in self.recorded_clients:
            for m in c.sent_log:
                ws_validate("client", m)
                sent.add(m["type"])
            for m in c.got_log:
                ws_validate("server", m)
                got.add(m["type"])
        return sent, got

    def test_every_message_validates(self):
        a, b, t = uid("a"), uid("b"), uid("t")
        self.sys.put_members(t, [a, b])
        cb = self.recorded()
        cb.hello(user_id=b, id=1)
        ca = self.recorded()
        ca.hello(user_id=a, id="h", device="laptop", status="away",
                 text="hi", meta={"user_name": "A", "n": 1})
        cb.expect_presence(a, "away")
        self.assertOk(ca.request("set_status", status="dnd", text="x"))
        cb.expect_presence(a, "dnd")
        self.assertOk(ca.request("set_status", status="online"))
        cb.expect_presence(a, "online")
        r = ca.request("watch", user_ids=[b, uid("never")])
        self.assertEqual(r["type"], "presence_list")
        self.assertOk(ca.request("unwatch", user_ids=[b]))
        self.assertEqual(ca.request("query", user_ids=[a, b])["type"],
                         "presence_list")
        self.assertEqual(ca.request("list_online", thread_id=t)["type"],
                         "presence_list")
        self.assertEqual(ca.request("list_online")["type"], "presence_list")
        ca.send({"type": "typing", "thread_id": t, "active": True})
        m = cb.expect("typing")
        self.assertEqual((m["user_id"], m["active"]), (a, True))
        ca.send({"type": "typing", "thread_id": t, "active": False})
        cb.expect("typing", lambda m: m["active"] is False)
        self.assertEqual(ca.request("ping")["type"], "pong")
        ca.send({"type": "ping"})
        ca.expect("pong")
        self.assertOk(ca.request("refresh", token="anything"))
        # auto-away: b's only session goes idle, a sees "auto": true
        self.assertOk(cb.request("activity", idle=True))
        ca.expect_presence(b, "away", auto=True)
        self.assertOk(cb.request("activity", idle=False))
        ca.expect_presence(b, "online")
        # invisible: others see offline, own sessions invisible
        cb2 = self.recorded()
        cb2.hello(user_id=b)
        self.assertOk(cb.request("set_status", status="invisible"))
        ca.expect_presence(b, "offline")
        cb2.expect_presence(b, "invisible")
        # errors: bad request, too large, forbidden, unauthorized
        self.refused(ca, "bad_request", "set_status", status="gone")
        self.refused(ca, "bad_request", "set_status")
        self.refused(ca, "bad_request", "nonsense")
        self.refused(ca, "bad_request", "watch", user_ids=[1])
        self.refused(ca, "bad_request", "typing", thread_id=t)
        self.refused(ca, "too_large", "query", user_ids=["u"] * 1001)
        self.refused(ca, "too_large", "set_status", status="away",
                     text="x" * 257)
        self.assertError(ca.request("list_online", thread_id=uid("t")),
                         "forbidden")
        anon = self.recorded()
        anon.send({"type": "hello", "id": 7})
        self.assertError(anon.expect("error"), "unauthorized")
        anon.expect_close(1008)
        ca.send({"type": "bye"})
        ca.expect_close(1000)
        cb.expect_presence(a, "offline")
        sent, got = self.validate_all()
        client, server = protocol_message_types()
        self.assertEqual(sent, client)
        self.assertEqual(got, server)


class Seed004MessagesTest(WsMessagesTest):
    GATEWAY_ARGS = ("--compat-events", "seed004")

    def test_every_message_validates(self):
        num = str(10**9 + secrets.randbelow(10**9))
        a, t = uid("a"), uid("t")
        self.sys.put_members(t, [a, num])
        c = self.recorded(path="/ws/presence/" + q(num))
        c.hello()
        x = self.recorded(path="/ws/presence/" + q(a))
        x.hello()
        m = c.expect("user_status_changed")
        self.assertEqual((m["user_id"], m["is_online"]), (a, True))
        x.send({"type": "bye"})
        x.expect_close(1000)
        m = c.expect("user_status_changed")
        self.assertEqual((m["user_id"], m["is_online"]), (a, False))
        _, got = self.validate_all()
        self.assertIn("user_status_changed", got)


class WsJwtMessagesTest(WsMessagesTest):
    AUTH = "jwt"

    def test_every_message_validates(self):
        u = uid("u")
        c = self.recorded()
        c.hello(token=self.sys.token(u, exp_in=2))
        m = c.expect("error", timeout=WAIT)
        self.assertError(m, "token_expired")
        c.expect_close(1008)
        bad = self.recorded()
        bad.send({"type": "hello", "token": "nope"})
        self.assertError(bad.expect("error"), "unauthorized")
        self.validate_all()


# ---------------------------------------------------------------- auth jwt

class RoutesJwtTest(ContractBase):
    AUTH = "jwt"

    def test_credentials(self):
        """401 without or with a refused token, 403 without the right,
        2xx with it: every answer documented and valid."""
        forged = "e30.e30.c2ln"
        for tpl, method, op, item in operations():
            auth = op["x-presence-auth"]
            if auth == "none":
                continue
            with self.subTest(op=op["operationId"]):
                ok = min(int(k) for k in op["responses"]
                         if k != "default" and int(k) < 300)
                me = uid("me")
                if item.get("x-presence-upgrade"):
                    self.call_op(tpl, method, op, item, 401, token=forged)
                    self.call_op(tpl, method, op, item, 101,
                                 token=self.sys.token(me),
                                 ids={"user_id": me})
                    if "{user_id}" in tpl:
                        self.call_op(tpl, method, op, item, 403,
                                     token=self.sys.token(uid("other")))
                    continue
                path, body = self.valid_request(tpl, op, item,
                                                {"user_id": me})
                r = self.request(method, path, body)
                self.check(op, method, r, "no token", 401)
                r = self.request(method, path, body,
                                 {"Authorization": "Bearer " + forged})
                self.check(op, method, r, "forged token", 401)
                expired = self.sys.token(me, admin=True, exp_in=-30)
                r = self.request(method, path, body,
                                 {"Authorization": "Bearer " + expired})
                self.check(op, method, r, "expired token", 401)
                user = {"Authorization": "Bearer " + self.sys.token(me)}
                r = self.request(method, path, body, user)
                if auth in ("admin", "admin-or-member"):
                    self.check(op, method, r, "user token", 403)
                else:
                    self.check(op, method, r, "user token", ok)
                if auth == "admin-or-self":
                    other, _ = self.valid_request(tpl, op, item,
                                                  {"user_id": uid("x")})
                    r = self.request(method, other, body, user)
                    self.check(op, method, r, "another user", 403)
                self.call_op(tpl, method, op, item, ok,
                             ids={"user_id": me})


# ---------------------------------------------------------------- outages

class RoutesOutageTest(ContractBase):
    AUTH = "none"
    PER_TEST = True

    def wait_status(self, path, status):
        deadline = time.monotonic() + WAIT
        while self.request("GET", path).status != status:
            self.assertLess(time.monotonic(), deadline, path)
            time.sleep(0.05)

    def test_registry_down(self):
        self.sys.kill_registry()
        self.wait_status("/readyz", 503)
        for tpl, method, op, item in operations():
            with self.subTest(op=op["operationId"]):
                needs = op.get("x-presence-needs", ())
                ok = min(int(k) for k in op["responses"]
                         if k != "default" and int(k) < 300)
                self.call_op(tpl, method, op, item,
                             503 if "registry" in needs else ok)
        self.sys.start_registry()
        self.sys.wait_serving()

    def test_persister_down(self):
        self.sys.kill_persister()
        for tpl, method, op, item in operations():
            with self.subTest(op=op["operationId"]):
                needs = op.get("x-presence-needs", ())
                ok = min(int(k) for k in op["responses"]
                         if k != "default" and int(k) < 300)
                self.call_op(tpl, method, op, item,
                             503 if "persister" in needs else ok)
        self.sys.start_persister()


if __name__ == "__main__":
    unittest.main()
