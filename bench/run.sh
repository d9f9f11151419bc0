#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench/run.sh [--quick] [--dir DIR] [--no-btrfs]
#
# Builds the tree into build-bench/ (meson, if needed) and runs every
# benchmark in one go, each against its baselines on the same file system:
#   bench-engine    in-process commits, 1 and 8 threads
#   bench-recovery  replay speed of a crashed instance, clean open
#   bench-commit    commits over the bus, 1/8/32 client processes
#   bench-freeze    Freeze latency with 1/8/32 instances vs fdatasync and
#                   fsfreeze, stall across Freeze + Btrfs snapshot + Thaw
#                   (on a loop-mounted Btrfs when run as root)
#   bench-idle      wakeups and RSS of an idle jetsnapd with 2 instances
# Each daemon runs on a private dbus-daemon (tests/lib/with-daemon, open
# policy). The whole output also goes to build-bench/bench-results.txt.
#
# Environment: BUILD (default <src>/build-bench), BENCH_DIR (default a new
# directory under /var/tmp; the file system measured).
set -euo pipefail

quick=0
btrfs=1
dir=
while [ $# -gt 0 ]; do
        case "$1" in
        --quick) quick=1 ;;
        --no-btrfs) btrfs=0 ;;
        --dir) dir="$2"; shift ;;
        -h|--help) sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
        esac
        shift
done

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$src/build-bench}

if [ ! -f "$build/build.ninja" ]; then
        meson setup "$build" "$src" -Dbench=enabled -Dtests=disabled -Dman=disabled >/dev/null
fi
ninja -C "$build" >/dev/null

if [ "$quick" = 1 ]; then
        secs=1; rounds=2; recovery_mib=128; cycles=20; btrfs_cycles=20; idle=3
else
        # A Btrfs loop-device cycle takes ten times longer than an ext4 one.
        secs=5; rounds=5; recovery_mib=1024; cycles=100; btrfs_cycles=50; idle=10
fi

work=${dir:-$(mktemp -d "${BENCH_DIR:-/var/tmp}/jetsnap-bench.XXXXXX")}
mkdir -p "$work"
mnt=
shm=
cleanup() {
        if [ -n "$mnt" ]; then
                # Never leave a frozen file system behind, whatever failed.
                fsfreeze -u "$mnt" 2>/dev/null || true
                umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
        fi
        [ -z "$shm" ] || rm -rf "$shm"
        [ -n "$dir" ] || rm -rf "$work"
}
trap cleanup EXIT

b="$build/bench"
export JETSNAPD="$build/daemon/jetsnapd"
with_daemon="$src/tests/lib/with-daemon"
results="$build/bench-results.txt"

# config NAME-PREFIX COUNT DIR: COUNT instances with one database each, under DIR.
config() {
        local file="$work/$1.yaml" i
        # jetsnapd creates an instance directory, not its parents.
        mkdir -p "$3"
        printf 'instances:\n' >"$file"
        for ((i = 0; i < $2; i++)); do
                printf '  - name: %s%02d\n    path: %s/%s%02d\n    databases:\n      - name: main\n        path: %s/%s%02d/main.jdb\n' \
                        "$1" "$i" "$3" "$1" "$i" "$3" "$1" "$i" >>"$file"
        done
        echo "$file"
}

exec > >(tee "$results") 2>&1

# A failed benchmark is reported and the others still run; the exit status says so.
failed=0
step() {
        "$@" || { echo "!! FAILED ($?): ${*##*/}"; failed=1; }
}

echo "# jetsnap benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $([ $quick = 1 ] && echo quick || echo full) run"
echo "# git $(git -C "$src" describe --always --dirty 2>/dev/null || echo '?')"
echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores," \
     "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r)"
echo "# file system: $(df -T "$work" | awk 'NR==2 {print $2 " on " $1}') ($work)"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ -x "$b/bench-engine" ]; then
        step "$b/bench-engine" -d "$work/engine" -t "$secs" -r "$rounds"
        step "$b/bench-recovery" -d "$work/recovery" -s "$recovery_mib"
else
        echo "bench-engine/bench-recovery not built (no dep_engine)"
fi

step "$with_daemon" --policy open --config "$(config commit 1 "$work/commit")" -- \
        "$b/bench-commit" -d "$work/commit/baseline" -t "$secs" -r "$rounds" -c 1,8,32

# The same with the instance and the baselines on tmpfs: fdatasync is free there, so this is the
# CPU ceiling of the bus path (client, dbus-daemon, jetsnapd) on this machine, not a durable result.
if [ -d /dev/shm ]; then
        shm=$(mktemp -d /dev/shm/jetsnap-bench.XXXXXX)
        echo "# tmpfs, not durable: the ceiling of the bus path without IO"
        step "$with_daemon" --policy open --config "$(config shm 1 "$shm")" -- \
                "$b/bench-commit" -d "$shm/baseline" -t "$secs" -r "$rounds" -c 8
        rm -rf "$shm"
        shm=
fi

# Freeze on the work directory's own file system (no fsfreeze of /, no snapshot)...
step "$with_daemon" --policy open --config "$(config freeze 32 "$work/freeze")" -- \
        "$b/bench-freeze" -d "$work/freeze" -n "$cycles" -i 1,8,32

# ...and on a loop-mounted Btrfs, where fsfreeze and snapshots can be compared.
if [ "$btrfs" = 1 ] && [ "$(id -u)" = 0 ] && command -v mkfs.btrfs >/dev/null; then
        truncate -s 8G "$work/btrfs.img"
        mkfs.btrfs -q "$work/btrfs.img" >/dev/null
        mkdir -p "$work/btrfs"
        mount -o loop "$work/btrfs.img" "$work/btrfs"
        mnt="$work/btrfs"
        btrfs -q subvolume create "$mnt/data"
        mkdir -p "$mnt/snapshots"
        echo "# Btrfs in $work/btrfs.img, loop-mounted: every fdatasync also goes through the image file"
        step "$with_daemon" --policy open --config "$(config bfreeze 32 "$mnt/data")" -- \
                "$b/bench-freeze" -d "$mnt/data" -n "$btrfs_cycles" -i 1,8,32 \
                --fsfreeze "$mnt" --snapshot "$mnt/data" --snapshot-to "$mnt/snapshots"
        umount "$mnt"
        mnt=
        rm -f "$work/btrfs.img"
else
        echo "# no Btrfs (needs root and mkfs.btrfs): no fsfreeze and no stall measurement"
fi

# Idle right after start, then again after a burst of commits (the daemon settles for 3 s each time).
step "$with_daemon" --policy open --config "$(config idle 2 "$work/idle")" -- sh -c "
        sleep 3 && '$b/bench-idle' -p \"\$JETSNAPD_PID\" -t $idle &&
        echo '# the same daemon after 2 s of commits from 8 clients:' &&
        '$b/bench-commit' -d '$work/idle/baseline' -t 2 -r 1 -c 8 --only 'Commit over' >/dev/null &&
        sleep 3 && '$b/bench-idle' -p \"\$JETSNAPD_PID\" -t $idle"

echo "# done in ${SECONDS}s; results in $results"
exit "$failed"
