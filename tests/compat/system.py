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

Exits with COMMAND's status, or 1 when a daemon did not stop cleanly; the
daemons' log tails are printed when either fails."""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import System  # noqa: E402


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
    try:
        env = dict(os.environ)
        urls = ["http://127.0.0.1:%d" % g.port for g in s.gateways]
        env.update(PRS_GW_URLS=",".join(urls), PRS_AUTH=a.auth,
                   PRS_GRACE_MS=str(a.grace_ms), PRS_ADMIN_URL=urls[0])
        if s.jwt_secret:
            env["PRS_JWT_SECRET"] = s.jwt_secret
        rc = subprocess.call(cmd, cwd=HERE, env=env)
    finally:
        problems = s.stop(failed=rc != 0)
        if problems:
            print("unclean stop:\n" + problems, file=sys.stderr)
            rc = rc or 1
        if rc != 0:
            print(s.logs(60), file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
