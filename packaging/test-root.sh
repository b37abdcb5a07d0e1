#!/usr/bin/env bash
# packaging/test-root.sh OLD.deb NEW.deb: install, upgrade and purge the
# amd64 package for real, with dpkg in a Debian 12 root made by debootstrap.
# NEW must be a later version than OLD, with a different default config. packaging/test.sh calls it under
# `timeout`; it can also run alone.
#
# The root (minbase with systemd, procps and man-db: see include=) is
# cached as a tarball in $SIMHOOK_PKG_CACHE (default ~/.cache/simhook-packaging);
# a clean machine builds it with debootstrap from the mirror apt uses here.
# No systemd runs in the chroot: the maintainer scripts must cope.
set -euo pipefail
old=$(realpath "$1")
new=$(realpath "$2")

ms() { date +%s%3N; }
secs() { printf '%d.%01d' $(($1 / 1000)) $(($1 % 1000 / 100)); }
t0=$(ms)
part_start=$t0
part() { # part NAME: print how long the previous part took, start another
	local now; now=$(ms)
	echo "--- root: $1 (previous part $(secs $((now - part_start)))s, total $(secs $((now - t0)))s)"
	part_start=$now
}
# binver DEBVERSION: the version the binary reports (packaging/build's mapping
# undone: no revision, the pre-release "~" back to "-").
binver() { echo "$1" | sed 's/-[^-]*$//; s/~/-/'; }
fail() { echo "FAIL (root): $*" >&2; exit 1; }
ok() { echo "ok   (root): $*"; }

suite=bookworm
cache=${SIMHOOK_PKG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/simhook-packaging}
# systemd: systemd-sysusers and systemd-analyze; procps: /bin/kill (the
# unit's ExecReload); man-db: verify checks the unit's Documentation=.
include=systemd,procps,man-db
tarball=$cache/debian-$suite-minbase-${include//,/-}-$(dpkg --print-architecture).tar.gz

# The Debian mirror apt uses on this machine (deb822 or one-line sources).
mirror() {
	local m
	m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)
	[ -n "$m" ] || m=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v security | head -n1 || true)
	echo "${m:-http://deb.debian.org/debian}"
}

work=$(mktemp -d /tmp/simhook-root.XXXXXX)
root=$work/root
cleanup() {
	# Unmount anything left below the root before deleting it.
	if [ -d "$root" ]; then
		for m in $(awk -v r="$root" '$2 ~ "^"r {print $2}' /proc/mounts | sort -r); do umount -l "$m" || true; done
	fi
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

part "Debian $suite root"
if [ -f "$tarball" ]; then
	mkdir -p "$root"
	tar -C "$root" -xzf "$tarball"
	echo "root: unpacked cached $tarball"
else
	command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
	m=$(mirror)
	echo "root: cold: debootstrap --variant=minbase --include=$include $suite from $m"
	cold0=$(date +%s)
	debootstrap --variant=minbase --include="$include" "$suite" "$root" "$m" >"$work/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$work/debootstrap.log"; fail "debootstrap"; }
	echo "root: cold debootstrap took $(( $(date +%s) - cold0 ))s"
	mkdir -p "$cache"
	tar -C "$root" -czf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
	echo "root: cached as $tarball"
fi
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
# What a service manager would check stays out: no /run/systemd/system here.
[ ! -d "$root/run/systemd/system" ] || fail "the root must not look like a running systemd"
cp "$old" "$root/tmp/old.deb"
cp "$new" "$root/tmp/new.deb"
oldv=$(dpkg-deb -f "$old" Version)
newv=$(dpkg-deb -f "$new" Version)
dpkg --compare-versions "$newv" gt "$oldv" || fail "$newv is not newer than $oldv"

part "install $oldv"
in_root dpkg -i /tmp/old.deb || fail "dpkg -i $oldv"
[ "$(in_root dpkg-query -W -f '${Status} ${Version}' simhook)" = "install ok installed $oldv" ] || fail "not installed"
ok "dpkg -i $oldv"

# The user, its group and dialout.
pw=$(in_root getent passwd simhook) || fail "no user simhook"
uid=$(echo "$pw" | cut -d: -f3)
[ "$uid" -lt 1000 ] || fail "simhook is not a system user (uid $uid)"
echo "$pw" | grep -q ':/usr/sbin/nologin$' || fail "simhook has a login shell: $pw"
in_root id -nG simhook | tr ' ' '\n' | grep -qx dialout || fail "simhook is not in dialout: $(in_root id -nG simhook)"
ok "user: $pw; groups: $(in_root id -nG simhook)"

# Owners and modes.
while read -r path want; do
	got=$(in_root stat -c '%U:%G %a' "$path") || fail "$path missing"
	[ "$got" = "$want" ] || fail "$path is $got, want $want"
	ok "$path $got"
done <<'LIST'
/usr/bin/simhook root:root 755
/etc/simhook root:root 755
/etc/simhook/simhook.yaml root:simhook 640
/lib/systemd/system/simhook.service root:root 644
/usr/lib/sysusers.d/simhook.conf root:root 644
/lib/udev/rules.d/77-simhook.rules root:root 644
/usr/share/man/man1/simhook.1.gz root:root 644
/usr/share/doc/simhook/copyright root:root 644
/usr/share/doc/simhook/changelog.Debian.gz root:root 644
/usr/share/lintian/overrides/simhook root:root 644
LIST
conffiles=$(in_root dpkg-query -W -f '${Conffiles}\n' simhook | awk 'NF {print $1}')
[ "$conffiles" = /etc/simhook/simhook.yaml ] || fail "conffiles are: $conffiles (want only the config; the unit must not be one)"
ok "the only conffile is /etc/simhook/simhook.yaml"
[ -L "$root/etc/systemd/system/multi-user.target.wants/simhook.service" ] || fail "the unit was not enabled"
ok "the unit is enabled (deb-systemd-helper, without a running systemd)"

part "run the binary in the root"
out=$(in_root simhook version) || fail "simhook version"
echo "root: simhook version: $out"
[ "$out" = "simhook $(binver "$oldv")" ] || fail "version says '$out' for package $oldv"
# The service user reads the config through its group; other users cannot.
in_root runuser -u simhook -- head -c 1 /etc/simhook/simhook.yaml >/dev/null || fail "user simhook cannot read the config"
! in_root runuser -u nobody -- head -c 1 /etc/simhook/simhook.yaml >/dev/null 2>&1 || fail "user nobody can read the config"
ok "the config is readable by user simhook and not by nobody"
set +e
# As the service would: user simhook.
check=$(in_root runuser -u simhook -- simhook config check /etc/simhook/simhook.yaml 2>&1)
rc=$?
set -e
echo "$check" | sed -n '1,3p'
if [ $rc -ne 0 ] && echo "$check" | grep -q 'unknown command'; then
	echo "WARN (root): this build of simhook has no 'config check' yet (exit status $rc): not checked"
else
	[ $rc -eq 0 ] || fail "simhook config check of the shipped conffile: exit status $rc"
	ok "simhook config check, run as user simhook, accepts the shipped conffile"
fi
if in_root systemd-analyze verify /lib/systemd/system/simhook.service >"$work/verify" 2>&1; then
	ok "systemd-analyze verify (in the root, where /usr/bin/simhook exists): clean"
else
	cat "$work/verify"; fail "systemd-analyze verify"
fi
[ ! -s "$work/verify" ] || { cat "$work/verify"; fail "systemd-analyze verify printed warnings"; }

part "edit the config, upgrade to $newv"
sed -i 's/^user_id: 1$/user_id: 7/' "$root/etc/simhook/simhook.yaml"
echo "# edited by packaging/test-root.sh" >>"$root/etc/simhook/simhook.yaml"
grep -qx 'user_id: 7' "$root/etc/simhook/simhook.yaml" || fail "could not edit the config"
before=$(sha256sum <"$root/etc/simhook/simhook.yaml")
# State the service would have written, and a secret next to the config.
gid=$(echo "$pw" | cut -d: -f4)
install -d -o "$uid" -g "$gid" -m 0750 "$root/var/lib/simhook"
echo outbox >"$root/var/lib/simhook/outbox.db"
install -m 0640 -g "$gid" /dev/null "$root/etc/simhook/crm-secret"
# The shipped default changed too: keep the administrator's version, as
# unattended upgrades do (--force-confold), and put the new one beside it.
in_root dpkg -i --force-confold /tmp/new.deb </dev/null || fail "upgrade to $newv"
[ "$(in_root dpkg-query -W -f '${Version}' simhook)" = "$newv" ] || fail "upgrade did not happen"
[ "$(sha256sum <"$root/etc/simhook/simhook.yaml")" = "$before" ] || fail "the edited config was replaced on upgrade"
[ "$(in_root stat -c '%U:%G %a' /etc/simhook/simhook.yaml)" = "root:simhook 640" ] || fail "config owner/mode changed on upgrade"
cmp -s "$root/etc/simhook/simhook.yaml.dpkg-dist" <(dpkg-deb --fsys-tarfile "$new" | tar -xO ./etc/simhook/simhook.yaml) ||
	fail "no simhook.yaml.dpkg-dist with the new default"
[ -f "$root/var/lib/simhook/outbox.db" ] || fail "the upgrade lost the state"
out=$(in_root simhook version)
[ "$out" = "simhook $(binver "$newv")" ] || fail "after the upgrade, version says '$out'"
ok "upgraded to $newv ($out); the edit survived (new default in .dpkg-dist), owner and mode kept, state kept"

part "remove, then purge"
in_root dpkg -r simhook || fail "dpkg -r"
[ -f "$root/etc/simhook/simhook.yaml" ] || fail "remove deleted the config (only purge may)"
[ -f "$root/var/lib/simhook/outbox.db" ] || fail "remove deleted the state (only purge may)"
[ ! -e "$root/usr/bin/simhook" ] || fail "remove left the binary"
ok "remove kept config and state, removed the binary"
in_root dpkg -P simhook || fail "dpkg -P"
for p in /etc/simhook /var/lib/simhook /run/simhook /etc/systemd/system/multi-user.target.wants/simhook.service /etc/systemd/system/simhook.service; do
	[ ! -e "$root$p" ] && [ ! -L "$root$p" ] || fail "purge left $p"
done
in_root dpkg-statoverride --list /etc/simhook/simhook.yaml >/dev/null && fail "purge left the statoverride"
in_root dpkg-query -W -f '${Status}' simhook 2>/dev/null | grep -q installed && fail "still installed"
ok "purge removed config, state, statoverride and the unit's links"

part "direct purge of an installed package"
in_root dpkg -i /tmp/new.deb >/dev/null || fail "reinstall"
in_root dpkg -P simhook || fail "dpkg -P"
[ ! -e "$root/etc/simhook" ] && [ ! -e "$root/var/lib/simhook" ] || fail "purge left files"
ok "install then purge leaves nothing"
part "done"
