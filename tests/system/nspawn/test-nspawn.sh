#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# jetsnap on real systemd: boot a Debian 12 root with systemd-nspawn, with
# jetsnap installed by `meson install --prefix=/usr`, and let
# jetsnap-selftest.service (selftest.sh) drive jetsnapd.service over the
# real system bus; results come back through a bind-mounted directory.
#
# The pristine root (debootstrap, a few minutes the first time) is cached in
# $JETSNAP_BUILD/nspawn-root and copied for each run, so runs do not see
# each other's state. Needs root; skips loudly elsewhere (exit 77), and a
# skip is a failure under CI=true.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${JETSNAP_SRC:-$(cd "$here/../../.." && pwd)}
build=${JETSNAP_BUILD:?JETSNAP_BUILD is not set; run through meson test}
cache="$build/nspawn-root"
install_build="$build/nspawn-build"
run_root="$build/nspawn-run"
results="$build/nspawn-results"

skip() {
    echo "SKIP: $*"
    if [[ "${CI:-}" == true ]]; then
        echo "FAIL: CI=true and this test may not be skipped"
        exit 1
    fi
    exit 77
}

[[ $(id -u) -eq 0 ]] || skip "systemd-nspawn needs root"
for tool in systemd-nspawn debootstrap meson ldconfig chroot; do
    command -v "$tool" >/dev/null || skip "$tool not found (tools/install-deps.sh installs it)"
done

cleanup() {
    rm -rf "$run_root"
}
trap cleanup EXIT

# The mirror apt already uses (deb822 "URIs:" or one-line "deb URL"), so the
# test reaches whatever this machine may reach.
mirror() {
    local url
    url=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
              /etc/apt/sources.list.d/*.sources 2>/dev/null |
          grep -v -e security -e updates |
          sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' |
          awk '{print $1}' | grep -E '/debian/?$' | head -n1)
    echo "${url:-http://deb.debian.org/debian}"
}

if [[ ! -x "$cache/lib/systemd/systemd" ]]; then
    echo "== debootstrap bookworm into $cache (cached for later runs)"
    rm -rf "$cache.tmp"
    debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,dbus,libyaml-0-2,liblmdb0,libsystemd0,passwd \
        bookworm "$cache.tmp" "$(mirror)" > "$build/nspawn-debootstrap.log" 2>&1 || {
        tail -n 30 "$build/nspawn-debootstrap.log"
        echo "FAIL: debootstrap failed (log: $build/nspawn-debootstrap.log)"
        exit 1
    }
    mv "$cache.tmp" "$cache"
fi

echo "== build and install jetsnap with --prefix=/usr"
if [[ ! -f "$install_build/build.ninja" ]]; then
    meson setup "$install_build" "$src" --prefix=/usr -Dtests=disabled -Dbench=disabled >/dev/null
fi
meson compile -C "$install_build" >/dev/null
rm -rf "$run_root" "$results"
cp -a "$cache" "$run_root"
meson install -C "$install_build" --destdir "$run_root" --quiet
ldconfig -r "$run_root"

echo "== prepare the container"
# No /etc/jetsnapd/jetsnapd.yaml: the service runs on the embedded default, as after a plain install.
install -D -m 0755 "$here/selftest.sh" "$run_root/usr/local/lib/jetsnap-selftest/selftest.sh"
install -D -m 0644 "$here/jetsnap-selftest.service" "$run_root/etc/systemd/system/jetsnap-selftest.service"
mkdir -p "$run_root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/jetsnap-selftest.service "$run_root/etc/systemd/system/multi-user.target.wants/"
ln -sf /lib/systemd/system/jetsnapd.service "$run_root/etc/systemd/system/multi-user.target.wants/"
# No login prompt on the console: nothing would answer it.
ln -sf /dev/null "$run_root/etc/systemd/system/console-getty.service"
chroot "$run_root" useradd --create-home outsider
chroot "$run_root" useradd --create-home backupop
mkdir -p "$results"

echo "== boot"
rc=0
timeout --kill-after=10 300 systemd-nspawn --boot --register=no --keep-unit --console=read-only \
    -D "$run_root" --bind="$results:/results" > "$build/nspawn-boot.log" 2>&1 || rc=$?
cat "$results/selftest.log" 2>/dev/null || true

if [[ ! -f "$results/rc" ]]; then
    echo "---- boot log (tail)"
    sed 's/\x1b\[[0-9;]*m//g' "$build/nspawn-boot.log" | tail -n 40
    echo "---- journal (tail)"
    tail -n 60 "$results/journal.txt" 2>/dev/null || true
    echo "FAIL: the selftest did not finish (systemd-nspawn exit status $rc)"
    exit 1
fi
n=$(cat "$results/rc")
if [[ "$n" != 0 ]]; then
    echo "---- journal of the container: $results/journal.txt"
    grep -E 'jetsnapd|jetsnap-selftest' "$results/journal.txt" | tail -n 40 || true
    echo "FAIL: $n selftest check(s) failed"
    exit 1
fi
echo "PASS: jetsnap works on real systemd"
