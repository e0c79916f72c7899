#!/usr/bin/env bash
# systemd_verify: installs the build into a temp prefix the way an operator
# would (cmake --install BUILD --prefix DIR) and runs systemd-analyze verify
# on the installed units. It works without systemd as PID 1 (containers,
# CI). ExecStart= must name the binaries of that very prefix (verify checks
# that the command exists and is executable), the template is checked as an
# instance, and any message at all (an unknown key, a bad value, which
# systemd only warns about) fails the test.
#
#   verify.sh BUILD_DIR
set -euo pipefail

build=${1:?usage: verify.sh BUILD_DIR}
command -v systemd-analyze >/dev/null ||
	{ echo "verify.sh: systemd-analyze missing (scripts/deps installs systemd)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" ||
	{ cat "$tmp/install.log" >&2; exit 1; }
units=$tmp/prefix/lib/systemd/system
for f in presence-registry.service presence-persister.service \
	presence-gateway@.service presence.target; do
	[ -f "$units/$f" ] || { echo "verify.sh: $units/$f not installed" >&2; exit 1; }
done
for d in presence.conf.example gateway.conf.example OPERATIONS.md; do
	[ -f "$tmp/prefix/share/doc/presence/$d" ] ||
		{ echo "verify.sh: share/doc/presence/$d not installed" >&2; exit 1; }
done
# the gateway's default web_root: the pages and the SDK side by side
for f in demo/index.html demo/demo.js admin/index.html admin/admin.js \
	ui/base.css ui/ui.js ui/logo.svg presence-client.js presence-client.d.ts; do
	[ -f "$tmp/prefix/share/presence/web/$f" ] ||
		{ echo "verify.sh: share/presence/web/$f not installed" >&2; exit 1; }
done
if grep -n '@[A-Z_]*@' "$units"/*; then
	echo "verify.sh: unsubstituted @VARIABLES@ in the units" >&2
	exit 1
fi
grep -q "^ExecStart=$tmp/prefix/bin/presence-registry " \
	"$units/presence-registry.service" ||
	{ echo "verify.sh: ExecStart does not follow the prefix" >&2; exit 1; }

# The units name the presence.target they are part of and each other:
# let verify find them in the installed directory.
export SYSTEMD_UNIT_PATH="$units:"
rc=0
(cd "$units" && systemd-analyze verify --recursive-errors=no \
	"$units/presence-registry.service" \
	"$units/presence-persister.service" \
	"$units/presence-gateway@gw1.service" \
	"$units/presence.target") >"$tmp/verify.out" 2>&1 || rc=$?
cat "$tmp/verify.out"
if [ "$rc" -ne 0 ] || [ -s "$tmp/verify.out" ]; then
	echo "verify.sh: systemd-analyze verify failed (exit $rc)" >&2
	exit 1
fi
echo "verify.sh: 4 units verified in $units"
