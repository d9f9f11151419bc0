#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Installs the Debian 12 packages jetsnap needs to build, test and demo.
# Idempotent: when everything is already there, apt is not touched at all.
# Runs apt through sudo when not root.
set -euo pipefail

packages=(
    # build
    gcc libc6-dev pkg-config meson ninja-build
    libsystemd-dev libyaml-dev liblmdb-dev
    # man pages, and the test that renders them
    scdoc man-db groff-base
    # unit tests, sanitizer and valgrind runs
    check valgrind
    # integration tests and the demo: a private dbus-daemon, busctl, python-dbus
    dbus systemd python3 python3-dbus
    # system tests: Btrfs/LVM snapshots on loop devices, the systemd-nspawn boot
    btrfs-progs lvm2 util-linux kmod debootstrap systemd-container debian-archive-keyring
    # benchmarks (bench/ compares against SQLite)
    libsqlite3-dev
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#packages[@]} packages already installed"
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
