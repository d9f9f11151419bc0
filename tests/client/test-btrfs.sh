#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# jetsnapctl snapshot --btrfs on a loop-mounted Btrfs: the snapshot is
# read-only, named jetsnap-<time>-<id>, holds the instance's files, and
# instances outside the subvolume are refused before anything freezes.
# Needs root, mkfs.btrfs and loop devices; otherwise SKIP (exit 77), except
# with CI=true, where a skip is a failure.
set -eu

skip() {
        echo "SKIP: jetsnapctl --btrfs test ($*)" >&2
        if [ "${CI:-}" = true ]; then
                echo "CI=true: refusing to skip" >&2
                exit 1
        fi
        exit 77
}
fail() { echo "FAIL: $*" >&2; exit 1; }

ctl="${JETSNAPCTL:?}"
src="${JETSNAP_SRC:?}"
[ "$(id -u)" -eq 0 ] || skip "not root"
command -v mkfs.btrfs >/dev/null || skip "mkfs.btrfs not installed"
command -v losetup >/dev/null || skip "losetup not installed"

work=$(mktemp -d /tmp/jetsnap-btrfs-XXXXXX)
mnt="$work/mnt"
cleanup() {
        umount "$mnt" 2>/dev/null || true
        rm -rf "$work"
}
trap cleanup EXIT
mkdir "$mnt"
truncate -s 256M "$work/fs.img"
mkfs.btrfs -q "$work/fs.img" >/dev/null 2>&1 || skip "mkfs.btrfs failed"
mount -o loop "$work/fs.img" "$mnt" 2>/dev/null || skip "cannot loop-mount (no loop devices or no permission)"
command -v btrfs >/dev/null || skip "btrfs-progs not installed"
btrfs -q subvolume create "$mnt/data" >/dev/null
mkdir "$mnt/snapshots" "$work/outside"

cat >"$work/inside.yaml" <<YAML
instances:
  - name: inside
    path: $mnt/data/inside
    databases:
      - name: main
        path: $mnt/data/inside/main.jdb
        map-size: 64MiB
YAML
cat >"$work/outside.yaml" <<YAML
instances:
  - name: inside
    path: $mnt/data/inside2
    databases:
      - name: main
        path: $mnt/data/inside2/main.jdb
        map-size: 64MiB
  - name: outside
    path: $work/outside/inst
    databases:
      - name: main
        path: $work/outside/inst/main.jdb
        map-size: 64MiB
YAML

# The subvolume holds everything: the snapshot is made, read-only, and has the files.
"$src/tests/lib/with-daemon" --config "$work/inside.yaml" -- sh -eu -c '
        ctl=$1 mnt=$2
        "$ctl" put inside main t k v
        out=$("$ctl" snapshot --btrfs "$mnt/data" --to "$mnt/snapshots")
        case "$out" in
        "$mnt/snapshots/jetsnap-"*T*Z-*) ;;
        *) echo "unexpected snapshot path: $out" >&2; exit 1 ;;
        esac
        test -d "$out/inside/logs" || { echo "no logs in $out" >&2; exit 1; }
        test -f "$out/inside/main.jdb" || { echo "no database in $out" >&2; exit 1; }
        test "$(btrfs property get -ts "$out" ro)" = "ro=true" || { echo "$out is writable" >&2; exit 1; }
        "$ctl" verify "$out/inside" >/dev/null
        # Not a subvolume, not Btrfs: refused up front.
        mkdir -p "$mnt/data/plain"
        if "$ctl" snapshot --btrfs "$mnt/data/plain" --to "$mnt/snapshots" 2>/dev/null; then exit 1; fi
        if "$ctl" snapshot --btrfs /tmp --to "$mnt/snapshots" 2>/dev/null; then exit 1; fi
        test "$(busctl get-property org.jetsnap1 /org/jetsnap1 org.jetsnap1.Manager ActiveSnapshotId)" = "t 0"
' sh "$ctl" "$mnt" || fail "snapshot of a subvolume holding every instance"

# An instance outside the subvolume: refused before any session starts, nothing created.
"$src/tests/lib/with-daemon" --config "$work/outside.yaml" -- sh -eu -c '
        ctl=$1 mnt=$2
        before=$(ls "$mnt/snapshots" | wc -l)
        set +e
        "$ctl" snapshot --btrfs "$mnt/data" --to "$mnt/snapshots" 2>"$mnt/err"
        rc=$?
        set -e
        test "$rc" -eq 1 || { echo "exit $rc, expected 1" >&2; exit 1; }
        grep -q "instance .outside.*not inside Btrfs subvolume" "$mnt/err" || { cat "$mnt/err" >&2; exit 1; }
        test "$(ls "$mnt/snapshots" | wc -l)" -eq "$before"
        # Only the instance inside: allowed.
        "$ctl" snapshot --instance inside --btrfs "$mnt/data" --to "$mnt/snapshots" >/dev/null
' sh "$ctl" "$mnt" || fail "refusal of an instance outside the subvolume"

echo "jetsnapctl --btrfs: all checks passed"
