"""Several hosts, as network namespaces joined by a bridge, with mutual TLS
between the processes (tls+tcp://, scripts/make-certs; docs/OPERATIONS.md,
"Several hosts"):

- host A: the registry and the persister, also linked over tls+tcp://
  (PostgreSQL is the test cluster, reached over its UNIX socket, i.e. on
  A's file system);
- hosts B and C: one gateway each;
- clients in the root namespace, over a veth of the test's own bridge.

Every namespace, veth and bridge is made and removed by the test. Root
only (network namespaces): skipped with a message otherwise.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import (REPO, WAIT, Gateway, Proc, System, SystemTestCase,
                     http_request, uid)

IP = shutil.which("ip") or "/usr/sbin/ip"
CAN = os.geteuid() == 0 and os.access(IP, os.X_OK)
WHY = "needs root and iproute2 (network namespaces)"

REG_PORT, PST_PORT, GW_PORT, HTTP_PORT = 7100, 7300, 7200, 8080


def run(*argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), r.stderr.strip()))
    return r.stdout


class Net:
    """Namespaces <tag>a, <tag>b, <tag>c and a switch <tag>s holding a
    bridge; one veth from each host and from the root namespace to it,
    all in one /24 that no interface of this machine uses yet. No default
    route anywhere: nothing the namespaces send can leave them."""

    def __init__(self):
        self.tag = "prs%04d" % random.randint(0, 9999)
        used = run(IP, "-4", "-o", "addr")
        for _ in range(200):
            n = random.randint(1, 250)
            if (" 10.77.%d." % n) not in used:
                break
        self.prefix = "10.77.%d." % n
        self.addr = {"root": self.prefix + "1", "a": self.prefix + "2",
                     "b": self.prefix + "3", "c": self.prefix + "4"}
        self.made = []

    def ns(self, h):
        return self.tag + h

    def dev(self, h):
        return self.tag + h  # the host end of its veth (<= 15 chars)

    def up(self):
        s = self.ns("s")
        for h in ("s", "a", "b", "c"):
            run(IP, "netns", "add", self.ns(h))
            self.made.append(self.ns(h))
        run(IP, "-n", s, "link", "add", "br0", "type", "bridge")
        run(IP, "-n", s, "link", "set", "br0", "up")
        for h in ("a", "b", "c", "root"):
            dev = self.tag + ("r" if h == "root" else h)
            run(IP, "link", "add", dev, "type", "veth", "peer", "name",
                dev + "p")
            run(IP, "link", "set", dev + "p", "netns", s)
            run(IP, "-n", s, "link", "set", dev + "p", "master", "br0", "up")
            if h == "root":
                self.rootdev = dev
                run(IP, "addr", "add", self.addr[h] + "/24", "dev", dev)
                run(IP, "link", "set", dev, "up")
            else:
                run(IP, "link", "set", dev, "netns", self.ns(h))
                run(IP, "-n", self.ns(h), "addr", "add",
                    self.addr[h] + "/24", "dev", dev)
                run(IP, "-n", self.ns(h), "link", "set", dev, "up")
                run(IP, "-n", self.ns(h), "link", "set", "lo", "up")

    def down(self):
        if getattr(self, "rootdev", None):
            subprocess.run([IP, "link", "del", self.rootdev],
                           capture_output=True)
        for n in self.made:
            subprocess.run([IP, "netns", "del", n], capture_output=True)

    def exec_argv(self, h):
        return [IP, "netns", "exec", self.ns(h)]

    def link(self, h, state):
        run(IP, "-n", self.ns(h), "link", "set", self.dev(h), state)


class MultiHostSystem(System):
    """The registry and persister in A, gw1 in B, gw2 in C, every link
    over tls+tcp:// with the certificates in certs."""

    def __init__(self, net, certs, **kw):
        super().__init__(gateways=2, **kw)
        self.net = net
        self.certs = certs

    def tls(self, name, certs=None):
        d = certs or self.certs
        return ["--tls-ca-file", os.path.join(d, "ca.pem"),
                "--tls-cert-file", os.path.join(d, name + ".pem"),
                "--tls-key-file", os.path.join(d, name + ".key")]

    def reg_url(self):
        return "tls+tcp://%s:%d" % (self.net.addr["a"], REG_PORT)

    def pst_url(self):
        return "tls+tcp://%s:%d" % (self.net.addr["a"], PST_PORT)

    def _registry_proc(self, reg_bin=None):
        reg_bin = reg_bin or self._bin("PRS_REGISTRY_BIN")
        return Proc("registry", self.net.exec_argv("a") + [
            reg_bin, "--url", self.reg_url(),
            "--persister-url", self.pst_url(),
            "--offline-grace-ms", str(self.grace_ms)] +
            self.tls("registry") + self.registry_args,
            os.path.join(self.tmp, "registry.log"), self.tmp)

    def gateway(self, k, host, name, certs=None):
        addr = self.net.addr[host]
        argv = self.net.exec_argv(host) + [
            self._bin("PRS_GATEWAY_BIN"), "--name", name,
            "--url", "tls+tcp://%s:%d" % (addr, GW_PORT + k),
            "--registry-url", self.reg_url(),
            "--http-host", addr, "--http-port", str(HTTP_PORT + k),
            "--auth-mode", self.auth,
            "--web-root", os.path.join(REPO, "web")] + \
            self.tls(name, certs) + self.gateway_args
        return Gateway(name, HTTP_PORT + k, Proc(
            name, argv, os.path.join(self.tmp, name + ".log"), self.tmp),
            host=addr)

    def start(self):
        self.tmp = tempfile.mkdtemp(prefix="prs-it-")
        try:
            self._create_db()
            self.persister = Proc("persister", self.net.exec_argv("a") + [
                self._bin("PRS_PERSISTER_BIN"),
                "--url", self.pst_url(),
                "--registry-url", self.reg_url(),
                "--database-url", self.db_url] + self.tls("persister"),
                os.path.join(self.tmp, "persister.log"), self.tmp)
            self.registry = self._registry_proc()
            self.gateways = [self.gateway(0, "b", "gw1"),
                             self.gateway(1, "c", "gw2")]
            self.persister.start()
            self.registry.start()
            for g in self.gateways:
                g.proc.start()
            self.wait_ready()
        except BaseException:
            self.stop(failed=True)
            raise
        return self


@unittest.skipUnless(CAN, WHY)
class MultiHostTest(SystemTestCase):
    PER_TEST = True
    GRACE_MS = 1500
    REGISTRY_ARGS = ("--gateway-timeout-ms", "2000")

    @classmethod
    def setUpClass(cls):
        cls.certs = tempfile.mkdtemp(prefix="prs-certs-")
        run(os.path.join(REPO, "scripts", "make-certs"), cls.certs,
            "registry", "persister", "gw1", "gw2")
        cls.evil = tempfile.mkdtemp(prefix="prs-certs-")
        run(os.path.join(REPO, "scripts", "make-certs"), cls.evil, "gw3")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.certs, ignore_errors=True)
        shutil.rmtree(cls.evil, ignore_errors=True)

    @classmethod
    def make_system(cls):
        cls.net = Net()
        try:
            cls.net.up()
        except BaseException:
            cls.net.down()
            raise
        return MultiHostSystem(cls.net, cls.certs, grace_ms=cls.GRACE_MS,
                               registry_args=cls.REGISTRY_ARGS)

    def setUp(self):
        try:
            super().setUp()
        except BaseException:
            self.net.down()  # tearDown does not run after a failed setUp
            raise

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            self.net.down()

    def test_presence_flows_between_hosts(self):
        a, b = uid("a"), uid("b")
        self.sys.put_members(uid("t"), [a, b])
        ca = self.connect(a, gw=0)
        cb = self.connect(b, gw=1)
        ca.expect_presence(b, "online")
        self.assertOk(cb.request("set_status", status="dnd", text="x"))
        ca.expect_presence(b, "dnd")
        self.assertOk(ca.request("set_status", status="away"))
        cb.expect_presence(a, "away")
        # Nothing but the test's own interfaces, and no way out of them.
        for h in ("a", "b", "c"):
            links = run(IP, "-n", self.net.ns(h), "-o", "link")
            names = sorted(ln.split(":")[1].strip().split("@")[0]
                           for ln in links.splitlines())
            self.assertEqual(names, sorted(["lo", self.net.dev(h)]), links)
            routes = run(IP, "-n", self.net.ns(h), "route")
            self.assertNotIn("default", routes)
            self.assertEqual(len(routes.strip().splitlines()), 1, routes)

    def test_link_down_and_back(self):
        """B's link goes down: its users go offline for C's watchers after
        the gateway timeout and the grace; one who reconnects on C meanwhile
        shows no flicker; when the link is back, B re-announces the
        sessions it still holds."""
        t, w, stay, move = uid("t"), uid("w"), uid("s"), uid("m")
        self.sys.put_members(t, [w, stay, move], gw=1)
        cw = self.connect(w, gw=1)
        cs = self.connect(stay, gw=0)
        cm = self.connect(move, gw=0)
        cw.expect_presence(stay, "online")
        cw.expect_presence(move, "online")
        self.net.link("b", "down")
        try:
            # move's client gives up on B and reconnects on C at once
            cm.shutdown()
            cm2 = self.connect(move, gw=1)
            ev = cw.expect_presence(stay, timeout=WAIT + 5)
            self.assertPresence(ev, stay, status="offline", is_online=False)
            cw.expect_no_presence(move, 0.5)
        finally:
            self.net.link("b", "up")
        # B's gateway reconnects; the registry had ended its sessions, so it
        # closes its clients with 1001, and they reconnect: online again.
        self.assertEqual(cs.expect_close(timeout=WAIT + 5), 1001)
        self.sys.wait_ready()
        cs2 = self.connect(stay, gw=0)
        ev = cw.expect_presence(stay, timeout=WAIT)
        self.assertPresence(ev, stay, status="online", is_online=True)
        self.alive_request(cs2)
        self.alive_request(cm2)
        cw.expect_no_presence(move, 0.5)

    def alive_request(self, c):
        r = c.request("query", user_ids=[c.user_id])
        self.assertEqual(r.get("type"), "presence_list", r)

    def test_wrong_certificate_never_joins(self):
        """gw3 on C has a certificate from another CA: its TLS handshake
        with the registry fails, it never joins, the others are served."""
        g = self.sys.gateway(2, "c", "gw3", certs=self.evil)
        self.sys.gateways.append(g)
        g.proc.start()
        answers = 0
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            self.sys.check_alive()
            try:
                r = http_request(g.port, "GET", "/readyz", host=g.host)
            except OSError:
                time.sleep(0.1)  # not listening yet
                continue
            answers += 1
            self.assertEqual(r.status, 503, r)
            time.sleep(0.2)
        self.assertGreater(answers, 5)
        log = self.sys.registry.tail(400)
        self.assertNotIn("gateway gw3", log)
        # NNG retries the refused handshake in silence: gw3 says why it
        # is not ready, 10 s into the outage.
        deadline = time.monotonic() + 20.0
        while ("not connected for" not in g.proc.tail(100) and
               time.monotonic() < deadline):
            time.sleep(0.2)
        self.assertIn("do both sides present certificates signed by the "
                      "CA the other trusts?", g.proc.tail(100))
        # Nor does a client without TLS (garbage on the registry's port);
        # the registry still serves the real gateways.
        with socket.create_connection((self.net.addr["a"], REG_PORT),
                                      timeout=5) as s:
            s.sendall(b"\x00SP\x00\x00\x50\x00\x00" + os.urandom(512))
        a, b = uid("a"), uid("b")
        self.sys.put_members(uid("t"), [a, b])
        ca = self.connect(a, gw=0)
        self.connect(b, gw=1)
        ca.expect_presence(b, "online")
        g.proc.signal(signal.SIGTERM)
        g.proc.popen.wait(10)


if __name__ == "__main__":
    unittest.main()
