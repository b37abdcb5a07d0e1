#!/usr/bin/env bash
# packaging/test.sh: build the three .debs twice and prove them: identical
# bytes (reproducible), lintian clean, the unit's systemd-analyze exposure
# and verify, ARM binaries that run under qemu, and (packaging/test-root.sh)
# install, upgrade and purge with dpkg in a Debian 12 root. CI runs it; it
# installs the Debian tools it needs and prints how long each part took.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
unset GOOS GOARCH GOARM GOFLAGS

ms() { date +%s%3N; }
secs() { printf '%d.%01d' $(($1 / 1000)) $(($1 % 1000 / 100)); }
t0=$(ms)
part_start=$t0
part() { # part NAME: print how long the previous part took, start another
	local now; now=$(ms)
	printf '\n=== packaging: %s (previous part %ss, total %ss)\n' "$1" "$(secs $((now - part_start)))" "$(secs $((now - t0)))"
	part_start=$now
}
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }

work=$(mktemp -d /tmp/simhook-pkgtest.XXXXXX)
trap 'rm -rf "$work"' EXIT

part "Debian tools"
need=()
for t in lintian:lintian debootstrap:debootstrap systemd-analyze:systemd file:file \
	qemu-aarch64-static:qemu-user-static qemu-arm-static:qemu-user-static; do
	command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "installing: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi

part "source"
# The packages are built from the working tree. While other packages are
# half-written it may not compile; then build from the last commit instead,
# and say so. (CI builds a clean clone, where both are the same.)
# SIMHOOK_PKG_SRC names another module tree to compile the binary from.
src=${SIMHOOK_PKG_SRC:-.}
if [ -n "${SIMHOOK_PKG_SRC:-}" ]; then
	echo "building the binary from $src (SIMHOOK_PKG_SRC)"
elif ! go build -o /dev/null ./cmd/simhook 2>"$work/build.err"; then
	sed -n '1,5p' "$work/build.err"
	echo "WARN: cmd/simhook does not compile in the working tree: building the binary from HEAD ($(git rev-parse --short HEAD)) instead"
	src=$work/head
	mkdir -p "$src"
	git archive HEAD | tar -x -C "$src"
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
upstream=$(sed -n 's/^var Version = "\(.*\)"$/\1/p' simhook.go)
[ -n "$upstream" ] || fail "no Version in simhook.go"
echo "version $upstream, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"

part "build (amd64, arm64, armhf)"
go run ./packaging/build --src "$src" --version "$upstream" --out "$work/a" | tee "$work/a.sums"
part "build again: reproducible?"
go run ./packaging/build --src "$src" --version "$upstream" --out "$work/b" | tee "$work/b.sums"
sed "s|$work/a/||" "$work/a.sums" >"$work/a.cmp"
sed "s|$work/b/||" "$work/b.sums" >"$work/b.cmp"
[ "$(wc -l <"$work/a.cmp")" -eq 3 ] || fail "expected three packages"
diff "$work/a.cmp" "$work/b.cmp" || fail "two builds of one tree differ"
ok "two builds are byte-identical (sha256 above)"

part "lintian"
for deb in "$work"/a/*.deb; do
	# Errors and warnings fail; info tags are printed for the record.
	rc=0
	lintian --info --fail-on error,warning "$deb" >"$work/lintian" 2>&1 || rc=$?
	grep -v 'running with root privileges' "$work/lintian" || true
	[ $rc -eq 0 ] || fail "lintian $(basename "$deb") (exit status $rc)"
	ok "lintian $(basename "$deb"): no errors, no warnings"
done

part "systemd-analyze security"
systemd-analyze security --offline=yes systemd/simhook.service >"$work/security" 2>&1 || true
grep '✗' "$work/security" || true
score=$(sed -n 's/.*Overall exposure level for simhook.service: \([0-9.]*\).*/\1/p' "$work/security")
echo "exposure: $(grep 'Overall exposure' "$work/security")"
[ -n "$score" ] || { cat "$work/security"; fail "no exposure score"; }
systemd-analyze security --offline=yes --threshold=15 systemd/simhook.service >/dev/null 2>&1 ||
	fail "exposure $score is above 1.5"
ok "exposure $score <= 1.5"

part "ARM binaries under qemu"
for arch in arm64:qemu-aarch64-static:'ARM aarch64' armhf:qemu-arm-static:'ARM, EABI5'; do
	IFS=: read -r deb qemu kind <<<"$arch"
	dir=$work/x-$deb
	dpkg-deb -x "$work"/a/simhook_*_"$deb".deb "$dir"
	f=$(file -b "$dir/usr/bin/simhook")
	echo "$deb: $f"
	case $f in *"$kind"*statically\ linked*) ;; *) fail "$deb binary is not a static $kind ELF" ;; esac
	out=$("$qemu" "$dir/usr/bin/simhook" version)
	[ "$out" = "simhook $upstream" ] || fail "$qemu simhook version said '$out', want 'simhook $upstream'"
	ok "$qemu: $out"
done

part "install, upgrade and purge in a Debian 12 root (packaging/test-root.sh)"
# The upgrade: the same tree as the next upstream version, whose default
# configuration changed (one more comment line), so dpkg must merge.
cp packaging/simhook.yaml "$work/next.yaml"
echo "# (default changed in $upstream+next)" >>"$work/next.yaml"
go run ./packaging/build --src "$src" --version "$upstream+next" --conffile "$work/next.yaml" --arch amd64 --out "$work/next" >/dev/null
timeout "${SIMHOOK_ROOT_TIMEOUT:-600}" packaging/test-root.sh "$work"/a/simhook_*_amd64.deb "$work"/next/simhook_*_amd64.deb ||
	fail "packaging/test-root.sh (exit status $?)"

part "done"
