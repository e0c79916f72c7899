"""Metrics (docs/OPERATIONS.md, "Metrics"): /metrics of all three processes
in Prometheus text format, values that follow real activity, the dashboard
(docs/grafana/presence.json) and the alert rules (docs/prometheus/alerts.yml)
naming only metrics a running system exports, promtool on the rules, and
hostile bytes on the registry's and the persister's metrics ports.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time
import unittest

import yaml

from harness import REPO, WAIT, SystemTestCase, http_request, uid

DASHBOARD = os.path.join(REPO, "docs", "grafana", "presence.json")
ALERTS = os.path.join(REPO, "docs", "prometheus", "alerts.yml")

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\\n])*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s(?:,%s)*)?\})? "
                    r"(-?[0-9.eE+-]+|NaN|[+-]Inf)$" % (NAME, LABEL, LABEL))
COMMENT = re.compile(r"^# (HELP|TYPE) (%s) (.*)$" % NAME)
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse(testcase, text, who):
    """Checks the text format line by line; returns {sample name: [(labels,
    value)]} and {family: type}."""
    samples, types = {}, {}
    testcase.assertTrue(text.endswith("\n"), "%s: no final newline" % who)
    for line in text.splitlines():
        m = COMMENT.match(line)
        if m:
            if m.group(1) == "TYPE":
                testcase.assertIn(m.group(3), TYPES, "%s: %r" % (who, line))
                testcase.assertNotIn(m.group(2), types,
                                     "%s: TYPE twice: %r" % (who, line))
                types[m.group(2)] = m.group(3)
            continue
        m = SAMPLE.match(line)
        testcase.assertIsNotNone(m, "%s: bad line %r" % (who, line))
        value = float(m.group(3))
        samples.setdefault(m.group(1), []).append((m.group(2) or "", value))
    for fam, t in types.items():
        testcase.assertTrue(fam.startswith("presence_"), fam)
        if t == "counter":
            testcase.assertTrue(fam.endswith("_total"), fam)
        if t == "histogram":
            for suf in ("_bucket", "_sum", "_count"):
                testcase.assertIn(fam + suf, samples, "%s: %s" % (who, fam))
    return samples, types


def referenced_names(exprs):
    names = set()
    for e in exprs:
        names.update(re.findall(r"\bpresence_[a-z0-9_]+", e))
    return names


def dashboard_exprs():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    out = []

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "expr" and isinstance(v, str):
                    out.append(v)
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(dash)
    return dash, out


def alert_exprs():
    with open(ALERTS) as f:
        doc = yaml.safe_load(f)
    return [r["expr"] for g in doc["groups"] for r in g["rules"]]


class MetricsTest(SystemTestCase):
    GATEWAYS = 1

    def scrape(self, port, who):
        r = http_request(port, "GET", "/metrics")
        self.assertEqual(r.status, 200, "%s: %r" % (who, r))
        self.assertTrue(r.headers.get("content-type", "").startswith(
            "text/plain; version=0.0.4"), r.headers)
        return parse(self, r.text, who)

    def scrape_all(self):
        return {
            "registry": self.scrape(self.sys.registry_metrics_port,
                                    "registry"),
            "persister": self.scrape(self.sys.persister_metrics_port,
                                     "persister"),
            "gateway": self.scrape(self.sys.port(0), "gateway"),
        }

    def value(self, port, name, labels=None):
        samples, _ = self.scrape(port, str(port))
        for lab, v in samples.get(name, []):
            if labels is None or labels in lab:
                return v
        return None

    def wait_value(self, port, name, pred, labels=None, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            v = self.value(port, name, labels)
            if v is not None and pred(v):
                return v
            if time.monotonic() > deadline:
                self.fail("%s on port %d: %r after %.0f s" %
                          (name, port, v, timeout))
            time.sleep(0.1)

    def test_format_and_names(self):
        got = self.scrape_all()
        for who, (samples, types) in got.items():
            self.assertTrue(types, who)
        self.assertIn("presence_registry_ready", got["registry"][0])
        self.assertIn("presence_persister_postgres_up", got["persister"][0])
        self.assertIn("presence_gateway_event_handoff_seconds_bucket",
                      got["gateway"][0])
        # Families are each served by one process only.
        fams = [set(t) for _, t in got.values()]
        self.assertFalse(fams[0] & fams[1] or fams[0] & fams[2] or
                         fams[1] & fams[2])

    def test_dashboard_and_alerts_name_exported_metrics(self):
        exported = set()
        for samples, types in self.scrape_all().values():
            exported.update(samples)
            exported.update(types)
        dash, dexprs = dashboard_exprs()
        aexprs = alert_exprs()
        self.assertGreaterEqual(len(aexprs), 5)
        self.assertIn("datasource",
                      [v["name"] for v in dash["templating"]["list"]])
        for what, exprs in (("dashboard", dexprs), ("alerts", aexprs)):
            names = referenced_names(exprs)
            self.assertTrue(names, what)
            missing = sorted(n for n in names if n not in exported)
            self.assertEqual(missing, [], "%s names metrics no process "
                             "exports" % what)

    def test_promtool_check_rules(self):
        promtool = shutil.which("promtool")
        if promtool is None:
            self.skipTest("promtool not installed (Debian package "
                          "prometheus; scripts/deps test installs it)")
        r = subprocess.run([promtool, "check", "rules", ALERTS],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("5 rules found", r.stdout)

    def test_values_follow_activity(self):
        reg = self.sys.registry_metrics_port
        pst = self.sys.persister_metrics_port
        gw = self.sys.port(0)
        self.wait_value(reg, "presence_registry_ready", lambda v: v == 1)
        self.wait_value(pst, "presence_persister_postgres_up",
                        lambda v: v == 1)
        online0 = self.value(reg, "presence_registry_users_online")
        events0 = self.value(reg, "presence_registry_events_sent_total")
        handoff0 = self.value(
            gw, "presence_gateway_event_handoff_seconds_count")
        batches0 = self.value(pst, "presence_persister_batches_total")

        a_id, b_id = uid("a"), uid("b")
        t = uid("t")
        self.sys.put_members(t, [a_id, b_id])
        b = self.connect(b_id)
        self.wait_value(reg, "presence_registry_users_online",
                        lambda v: v == online0 + 1)
        a = self.connect(a_id)
        b.expect_presence(a_id)
        self.wait_value(reg, "presence_registry_users_online",
                        lambda v: v == online0 + 2)
        self.wait_value(reg, "presence_registry_sessions",
                        lambda v: v >= 2, labels='gateway="gw1"')
        self.assertGreaterEqual(
            self.value(reg, "presence_registry_memberships"), 2)
        self.assertGreater(
            self.value(reg, "presence_registry_events_sent_total"), events0)
        self.wait_value(gw, "presence_gateway_event_handoff_seconds_count",
                        lambda v: v > handoff0)
        self.wait_value(gw, "presence_gateway_event_send_seconds_count",
                        lambda v: v >= 1)
        # the rows reach PostgreSQL: batches commit, the lag returns to 0
        self.wait_value(pst, "presence_persister_batches_total",
                        lambda v: v > batches0)
        self.wait_value(pst, "presence_persister_batch_duration_seconds_count",
                        lambda v: v >= 1)
        self.wait_value(reg, "presence_registry_write_lag_seconds",
                        lambda v: v == 0)
        self.assertEqual(self.value(
            pst, "presence_persister_postgres_errors_total", 'kind="sql"'),
            0)
        a.bye()
        self.wait_value(reg, "presence_registry_users_online",
                        lambda v: v == online0 + 1)
        b.bye()
        self.wait_value(reg, "presence_registry_users_online",
                        lambda v: v == online0)

    def test_http_answers(self):
        for port in (self.sys.registry_metrics_port,
                     self.sys.persister_metrics_port):
            self.assertEqual(http_request(port, "GET", "/").status, 404)
            self.assertEqual(http_request(port, "GET", "/metricsx").status,
                             404)
            r = http_request(port, "POST", "/metrics", body="x")
            self.assertEqual(r.status, 405)
            self.assertIn("GET", r.headers.get("allow", ""))
            r = http_request(port, "HEAD", "/metrics")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.raw, b"")
            self.assertEqual(
                http_request(port, "GET", "/metrics?x=1").status, 200)

    def raw(self, port, data, timeout=5.0):
        """Sends data, returns what comes back until the server closes."""
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        out = b""
        try:
            try:
                s.sendall(data)
            except OSError:
                pass  # closed on us mid-send: fine
            while True:
                try:
                    chunk = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not chunk:
                    break
                out += chunk
        finally:
            s.close()
        return out

    def test_hostile_input(self):
        for port in (self.sys.registry_metrics_port,
                     self.sys.persister_metrics_port):
            out = self.raw(port, bytes(range(256)) * 8)
            self.assertTrue(out == b"" or out.startswith(b"HTTP/1.1 400"),
                            out[:100])
            # a header larger than the bound: refused, not buffered
            out = self.raw(port, b"GET /metrics HTTP/1.1\r\nX-Big: " +
                           b"a" * 200000 + b"\r\n\r\n")
            self.assertTrue(out == b"" or out.startswith(b"HTTP/1.1 431"),
                            out[:100])
            # a request cut short, then silence: closed by the deadline
            t0 = time.monotonic()
            out = self.raw(port, b"GET /metr", timeout=15.0)
            self.assertEqual(out, b"")
            self.assertLess(time.monotonic() - t0, 12.0)
            # more idle connections than the endpoint keeps
            idle = [socket.create_connection(("127.0.0.1", port), timeout=5)
                    for _ in range(40)]
            self.sys.check_alive()
            for s in idle:
                s.close()
            # still serving
            deadline = time.monotonic() + WAIT
            while True:
                try:
                    if http_request(port, "GET", "/metrics").status == 200:
                        break
                except OSError:
                    pass
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.1)
        self.sys.check_alive()

    def test_help_lists_metrics_address(self):
        for var in ("PRS_REGISTRY_BIN", "PRS_PERSISTER_BIN"):
            r = subprocess.run([os.environ[var], "--help"],
                               stdout=subprocess.PIPE,
                               universal_newlines=True, timeout=30)
            self.assertEqual(r.returncode, 0)
            self.assertIn("--metrics-address", r.stdout)


class MetricsOffTest(SystemTestCase):
    """metrics_address empty: no endpoint, the daemons run as before."""

    @classmethod
    def make_system(cls):
        s = super().make_system()
        s.registry_args += ["--metrics-address", ""]
        s.persister_args += ["--metrics-address", ""]
        return s

    def test_off(self):
        for port in (self.sys.registry_metrics_port,
                     self.sys.persister_metrics_port):
            with self.assertRaises(OSError):
                http_request(port, "GET", "/metrics", timeout=2.0)
        c = self.connect(uid("u"))
        c.bye()


if __name__ == "__main__":
    unittest.main()
