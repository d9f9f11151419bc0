#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Btrfs under load: `jetsnapctl snapshot --btrfs` while 8 clients commit.

Each snapshot is recovered by a fresh jetsnapd and must hold exactly a
prefix of the load containing every commit acknowledged before jetsnapctl
started, nothing sent after it returned, and no torn multi-database
transaction (see snapsuite.py, loadgen.verify()).
"""

import os

import systest
import snapsuite


class BtrfsBackend:
    def __init__(self, fs):
        self.fs = fs

    def take_ctl(self, address, i):
        # --to names the directory; jetsnapctl picks the name (jetsnap-<time>-<id>).
        r = systest.jetsnapctl(address, "snapshot", "--btrfs", self.fs.subvol, "--to", self.fs.snapdir)
        # jetsnapctl prints the snapshot's path; take the last line naming a directory.
        lines = [l.strip() for l in r.stdout.splitlines() if l.strip()]
        path = next((l for l in reversed(lines) if os.path.isdir(l)), None)
        systest.check(path is not None, f"jetsnapctl snapshot --btrfs printed no snapshot path:\n{r.stdout}{r.stderr}")
        systest.check(os.path.dirname(path.rstrip("/")) == self.fs.snapdir,
                      f"jetsnapctl created {path}, not inside {self.fs.snapdir}")
        ro = systest.run(["btrfs", "property", "get", "-ts", path, "ro"]).stdout.strip()
        systest.check(ro == "ro=true", f"{path}: snapshot is not read-only ({ro})")
        return path

    def take_cmd(self, address, i):
        """`jetsnapctl snapshot -- COMMAND`: the COMMAND checks its environment, then snapshots."""
        path = os.path.join(self.fs.snapdir, f"cmd-{i:02d}")
        script = r"""
            set -e
            [ "${JETSNAP_SNAPSHOT_ID:-0}" -gt 0 ] || { echo "bad JETSNAP_SNAPSHOT_ID '$JETSNAP_SNAPSHOT_ID'"; exit 1; }
            for i in alpha beta; do
                echo $JETSNAP_INSTANCES | tr ' ' '\n' | grep -qx "$i" || { echo "JETSNAP_INSTANCES lacks $i"; exit 1; }
            done
            [ -n "$JETSNAP_FILES" ] || { echo "JETSNAP_FILES is empty"; exit 1; }
            echo "$JETSNAP_FILES" | while read -r f; do [ -e "$f" ] || { echo "listed file $f missing"; exit 1; }; done
            btrfs subvolume snapshot -r "$1" "$2" >/dev/null
        """
        systest.jetsnapctl(address, "snapshot", "--", "sh", "-c", script, "sh", self.fs.subvol, path)
        return path

    def take_raw(self, i):
        path = os.path.join(self.fs.snapdir, f"raw-{i:02d}")
        systest.run(["btrfs", "subvolume", "snapshot", "-r", self.fs.subvol, path])
        return path

    def make_writable(self, path):
        self.fs.make_writable(path)

    def release(self, path):
        systest.run(["btrfs", "subvolume", "delete", path])


def test():
    systest.require_btrfs()
    systest.require_binaries()
    tmp = systest.workdir()
    fs = systest.Btrfs(tmp)
    snapsuite.run(BtrfsBackend(fs), fs.subvol, tmp, cycles=30, cmd_cycles=5, raw_cycles=10)


systest.main(test)
