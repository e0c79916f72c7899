#!/usr/bin/env bash
# package_deb: the Debian package end to end on this machine (root). Builds
# it with cpack from a Release build of its own (-DCMAKE_INSTALL_PREFIX=/usr,
# never the sanitizer build of the tests), checks its control data, installs
# it with dpkg -i (and again: the upgrade path of the maintainer scripts),
# runs every installed binary's --version, checks the units, /etc/presence,
# the web files and the presence user, then removes and purges it and checks
# that its files are gone and its enabled units disabled. Whatever happens,
# the trap purges the package and deletes the presence user if this test
# created it.
#
#   test_deb.sh SOURCE_DIR PACKAGE_BUILD_DIR VERSION
#
# PRS_DEB=FILE tests that package instead of building one. Exit 77 (ctest:
# skipped) when it cannot run here: not root, no dpkg, or presence already
# installed on this machine by something other than this test (an
# operator's install is never touched). One run at a time per machine
# (flock): dpkg and the presence user are machine-wide.
set -euo pipefail

src=${1:?usage: test_deb.sh SOURCE_DIR PACKAGE_BUILD_DIR VERSION}
build=${2:?usage: test_deb.sh SOURCE_DIR PACKAGE_BUILD_DIR VERSION}
version=${3:?usage: test_deb.sh SOURCE_DIR PACKAGE_BUILD_DIR VERSION}

say() { echo "test_deb: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
skip() { say "SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg -i)"
if ! command -v dpkg >/dev/null || ! command -v dpkg-deb >/dev/null; then
	skip "no dpkg"
fi

LOCK=/run/lock/presence-test-deb.lock
# Written before this test installs and removed by its cleanup: a presence
# package found installed with this file present is a leftover of a killed
# run, which is purged (and the user deleted if that run created it);
# without it, someone else's, which is left alone.
MARK=/var/lib/presence-test-deb.installed
BINS=(presence-gateway presence-registry presence-persister presencectl
	presence-bench)
UNITS=(presence-registry.service presence-persister.service
	presence-gateway@.service presence.target)
CONFS=(presence.conf gateway-gw1.conf)
export DEBIAN_FRONTEND=noninteractive

exec 9>"$LOCK"
flock -w 1200 9 || fail "another package_deb run holds $LOCK"

installed() {
	dpkg-query -W -f='${db:Status-Abbrev}' presence 2>/dev/null | grep -q '^.[^n]'
}

# dpkg, waiting while another dpkg or apt holds its lock.
dpkg_() {
	local out rc i
	for i in $(seq 1 60); do
		rc=0
		out=$(dpkg "$@" 2>&1) || rc=$?
		printf '%s\n' "$out" >&2
		if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -Eq 'lock was locked|database area is locked|unable to (acquire|lock) '; then
			say "dpkg is locked, waiting ($i)"
			sleep 2
			continue
		fi
		return "$rc"
	done
	return 1
}

user_existed=
getent passwd presence >/dev/null && user_existed=1
group_existed=
getent group presence >/dev/null && group_existed=1
if installed; then
	[ -e "$MARK" ] || skip "presence is installed on this machine (not by this test)"
	say "purging the package a killed earlier run left installed"
	dpkg_ --purge presence
	# whether the user was there before that run (cleanup below)
	# shellcheck source=/dev/null
	. "$MARK"
fi
rm -f "$MARK"
# An installation by hand (docs/OPERATIONS.md) would be overwritten or, with
# its config, purged by the package: leave such a machine alone.
for f in /etc/presence /usr/bin/presence-gateway /lib/systemd/system/presence.target; do
	if [ -e "$f" ]; then
		skip "$f exists (presence installed without the package)"
	fi
done

cleanup() {
	local rc=$?
	set +e
	if installed; then
		say "cleanup: purging presence"
		dpkg_ --purge presence >/dev/null 2>&1
	fi
	if [ -z "$user_existed" ] && getent passwd presence >/dev/null; then
		userdel presence
	fi
	if [ -z "$group_existed" ] && getent group presence >/dev/null; then
		groupdel presence
	fi
	rm -f "$MARK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The package.
if [ -n "${PRS_DEB:-}" ]; then
	deb=$PRS_DEB
else
	say "building the package in $build (Release, prefix /usr)"
	mkdir -p "$build"
	log=$build/test_deb
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_INSTALL_PREFIX=/usr -DBUILD_TESTING=OFF -DPRS_WERROR=ON \
		-DPRS_SANITIZE= -DPRS_FUZZ=OFF >"$log.configure.log" 2>&1 ||
		{ cat "$log.configure.log" >&2; fail "configure"; }
	cmake --build "$build" -j"$(nproc)" >"$log.build.log" 2>&1 ||
		{ tail -n 50 "$log.build.log" >&2; fail "build"; }
	deb=$build/presence_${version}_$(dpkg --print-architecture).deb
	rm -f "$deb"
	(cd "$build" && cpack -G DEB) >"$log.cpack.log" 2>&1 ||
		{ cat "$log.cpack.log" >&2; fail "cpack -G DEB"; }
fi
[ -f "$deb" ] || fail "$deb not built"
t0=$(date +%s)
say "testing $deb"

# Control data.
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = presence ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version), want $version"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture: $(field Architecture)"
depends=$(field Depends)
for d in adduser libc6 libpq5 libsystemd0; do
	printf '%s' "$depends" | grep -Eq "(^|, )$d( |,|$)" || fail "Depends lacks $d: $depends"
done
ctl=$(mktemp -d /tmp/presence-test-deb.XXXXXX)
dpkg-deb -e "$deb" "$ctl/DEBIAN"
for s in postinst prerm postrm; do
	[ -x "$ctl/DEBIAN/$s" ] || fail "no executable $s"
done
printf '/etc/presence/%s\n' "${CONFS[@]}" | diff - "$ctl/DEBIAN/conffiles" ||
	fail "conffiles"
rm -rf "$ctl"

# Install.
printf 'user_existed=%s\ngroup_existed=%s\n' "$user_existed" "$group_existed" >"$MARK"
dpkg_ -i "$deb" || fail "dpkg -i"
[ "$(dpkg-query -W -f='${Status}' presence)" = "install ok installed" ] ||
	fail "not installed: $(dpkg-query -W -f='${Status}' presence)"
for b in "${BINS[@]}"; do
	[ -x "/usr/bin/$b" ] || fail "/usr/bin/$b missing"
	out=$("/usr/bin/$b" --version) || fail "$b --version exited $?"
	[ "$out" = "$b $version" ] || fail "$b --version: '$out', want '$b $version'"
	say "ok: $out"
done
for u in "${UNITS[@]}"; do
	[ -f "/lib/systemd/system/$u" ] || fail "/lib/systemd/system/$u missing"
done
for u in presence-registry presence-persister presence-gateway; do
	f=/lib/systemd/system/$u.service
	[ -f "$f" ] || f=/lib/systemd/system/$u@.service
	grep -q "^ExecStart=/usr/bin/$u " "$f" || fail "$f: ExecStart is not /usr/bin/$u"
done
if grep -n '@[A-Z_]*@' /lib/systemd/system/presence*; then
	fail "unsubstituted @VARIABLES@ in the units"
fi
for c in "${CONFS[@]}"; do
	[ -f "/etc/presence/$c" ] || fail "/etc/presence/$c missing"
done
[ "$(stat -c '%U:%G %a' /etc/presence)" = "root:presence 750" ] ||
	fail "/etc/presence is $(stat -c '%U:%G %a' /etc/presence), want root:presence 750"
for w in demo/index.html admin/index.html ui/base.css presence-client.js; do
	[ -f "/usr/share/presence/web/$w" ] || fail "/usr/share/presence/web/$w missing"
done
# The gateway's default web_root is where the package put the web files.
help=$(/usr/bin/presence-gateway --help)
case "$help" in
*"(default: /usr/share/presence/web)"*) ;;
*) fail "presence-gateway's default web_root is not /usr/share/presence/web" ;;
esac
[ -f /usr/share/doc/presence/OPERATIONS.md ] || fail "/usr/share/doc/presence/OPERATIONS.md missing"
pw=$(getent passwd presence) || fail "no presence user"
case "$pw" in
*:/usr/sbin/nologin) ;;
*) fail "presence user: $pw (want a nologin system user)" ;;
esac
say "ok: $pw"

# Again over itself: postinst with a previous version (the upgrade path)
# and an existing user must succeed and keep the edited conffile.
echo "# edited by test_deb.sh" >>/etc/presence/presence.conf
dpkg_ -i "$deb" || fail "dpkg -i over the installed package"
grep -q 'edited by test_deb.sh' /etc/presence/presence.conf ||
	fail "reinstall replaced an edited conffile"

# Enabled units (systemctl enable works without systemd running) are
# disabled by the removal: no link is left pointing at a removed unit.
links=
if command -v systemctl >/dev/null; then
	systemctl --quiet enable presence.target presence-gateway@gw1.service ||
		fail "systemctl enable"
	links=$(find /etc/systemd/system -name 'presence*')
	[ -n "$links" ] || fail "systemctl enable made no links"
fi

# Remove: the files go, the conffiles stay; purge: they go too.
dpkg_ -r presence || fail "dpkg -r"
if [ -n "$links" ]; then
	left=$(find /etc/systemd/system -name 'presence*')
	[ -z "$left" ] || fail "dpkg -r left enablement links: $left"
fi
for b in "${BINS[@]}"; do
	[ ! -e "/usr/bin/$b" ] || fail "/usr/bin/$b left after dpkg -r"
done
for u in "${UNITS[@]}"; do
	[ ! -e "/lib/systemd/system/$u" ] || fail "/lib/systemd/system/$u left after dpkg -r"
done
[ ! -e /usr/share/presence ] || fail "/usr/share/presence left after dpkg -r"
[ -f /etc/presence/presence.conf ] || fail "dpkg -r removed a conffile"
dpkg_ -P presence || fail "dpkg -P"
[ ! -e /etc/presence ] || fail "/etc/presence left after purge: $(ls -A /etc/presence)"
if installed; then
	fail "presence still known to dpkg after purge"
fi
rm -f "$MARK"
say "ok: $(($(date +%s) - t0)) s for install, checks, remove and purge"
say "PASS"
