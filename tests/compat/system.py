#!/usr/bin/env python3
"""Runs a command against one complete, throwaway presence system.

    system.py [--gateways N] [--auth none|jwt] [--gateway-arg ARG]...
              [--gateway-arg-at K:ARG]... [--registry-arg ARG]...
              [--grace-ms MS] -- COMMAND...

--gateway-arg-at K:ARG gives ARG to gateway K (0-based) only.

Starts PostgreSQL-backed daemons exactly as the integration tests do
(tests/integration/harness.py: PRS_*_BIN and PRS_PG_DIR must be set),
waits until every gateway is ready, then runs COMMAND with:

    PRS_GW_URLS       http://127.0.0.1:PORT of each gateway, comma-separated
    PRS_AUTH          none or jwt
    PRS_JWT_SECRET    the HS256 secret (jwt only)
    PRS_GRACE_MS      the registry's offline grace
    PRS_ADMIN_URL     gw1's URL (same as the first of PRS_GW_URLS)
    PRS_CONTROL_URL   a small HTTP control of the gateway processes, for
                      tests of what clients do when one dies (real signals):
                        GET  /gateways                 [{name, url, pid, alive}]
                        POST /gateways/K/signal/SIG    K 0-based, SIG e.g.
                             KILL or TERM; waits for the exit
                        POST /gateways/K/start         starts it again on its
                             port, waits for /readyz 200

Exits with COMMAND's status, or 1 when a daemon did not stop cleanly; the
daemons' log tails are printed when either fails."""

import argparse
import http.server
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import Proc, System, http_request  # noqa: E402


def control_server(s):
    """Serves PRS_CONTROL_URL (above) for System s on a loopback port, in
    a thread; returns the server. The daemons are started and signalled
    from one worker thread that lives as long as the run: a daemon dies
    with the thread that started it (PR_SET_PDEATHSIG), and the server's
    threads end with each request."""
    jobs = queue.Queue()

    def worker():
        while True:
            fn, out, done = jobs.get()
            try:
                out.append(fn())
            except Exception as e:  # noqa: BLE001 (reported to the test)
                out.append(e)
            done.set()

    threading.Thread(target=worker, daemon=True).start()

    def run(fn):
        out, done = [], threading.Event()
        jobs.put((fn, out, done))
        done.wait()
        if isinstance(out[0], Exception):
            raise out[0]
        return out[0]

    def gw_info(k, g):
        return {"name": g.name, "url": "http://127.0.0.1:%d" % g.port,
                "pid": g.proc.pid, "alive": g.proc.alive(), "index": k}

    def start(g):
        old = g.proc
        g.proc = Proc(old.name, old.argv, old.logpath, old.cwd, env=old.env)
        g.proc.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not g.proc.alive():
                raise RuntimeError("%s exited at start" % g.name)
            try:
                if http_request(g.port, "GET", "/readyz",
                                timeout=1.0).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("%s not ready after 30 s" % g.name)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/gateways":
                return self.reply(200, [gw_info(k, g) for k, g in
                                        enumerate(s.gateways)])
            self.reply(404, {"error": "no such path"})

        def do_POST(self):
            parts = self.path.strip("/").split("/")
            try:
                if len(parts) < 3 or parts[0] != "gateways":
                    raise KeyError(self.path)
                k = int(parts[1])
                g = s.gateways[k]
                if parts[2] == "signal" and len(parts) == 4:
                    sig = getattr(signal, "SIG" + parts[3])
                    run(lambda: s.kill_gateway(k, sig))
                    return self.reply(200, gw_info(k, g))
                if parts[2] == "start" and len(parts) == 3:
                    if g.proc.alive():
                        return self.reply(409, {"error": "running"})
                    run(lambda: start(g))
                    return self.reply(200, gw_info(k, g))
                raise KeyError(self.path)
            except (KeyError, IndexError, ValueError, AttributeError) as e:
                self.reply(404, {"error": "bad request: %s" % e})
            except Exception as e:  # noqa: BLE001 (reported to the test)
                self.reply(500, {"error": str(e)})

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gateways", type=int, default=2)
    ap.add_argument("--auth", choices=("none", "jwt"), default="none")
    ap.add_argument("--grace-ms", type=int, default=1200)
    ap.add_argument("--gateway-arg", action="append", default=[])
    ap.add_argument("--gateway-arg-at", action="append", default=[])
    ap.add_argument("--registry-arg", action="append", default=[])
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        ap.error("no command after --")
    each = {}
    for spec in a.gateway_arg_at:
        k, sep, arg = spec.partition(":")
        if not sep or not k.isdigit():
            ap.error("--gateway-arg-at takes K:ARG")
        each.setdefault(int(k), []).append(arg)
    s = System(grace_ms=a.grace_ms, gateways=a.gateways, auth=a.auth,
               gateway_args=a.gateway_arg, gateway_args_each=each,
               registry_args=a.registry_arg).start()
    rc = 1
    ctl = None
    try:
        ctl = control_server(s)
        env = dict(os.environ)
        urls = ["http://127.0.0.1:%d" % g.port for g in s.gateways]
        env.update(PRS_GW_URLS=",".join(urls), PRS_AUTH=a.auth,
                   PRS_GRACE_MS=str(a.grace_ms), PRS_ADMIN_URL=urls[0],
                   PRS_CONTROL_URL="http://127.0.0.1:%d" %
                   ctl.server_address[1])
        if s.jwt_secret:
            env["PRS_JWT_SECRET"] = s.jwt_secret
        rc = subprocess.call(cmd, cwd=HERE, env=env)
    finally:
        if ctl is not None:
            ctl.shutdown()
        problems = s.stop(failed=rc != 0)
        if problems:
            print("unclean stop:\n" + problems, file=sys.stderr)
            rc = rc or 1
        if rc != 0:
            print(s.logs(60), file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
