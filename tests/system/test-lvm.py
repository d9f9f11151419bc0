#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The snapshot-under-load suite of test-btrfs-load.py, against LVM.

A loop device becomes a volume group with one ext4 logical volume for the
instances; `jetsnapctl snapshot -- lvcreate --snapshot ...` takes each
snapshot between freeze and thaw (raw cycles call lvcreate between our own
Freeze and Thaw). Each snapshot LV is mounted, recovered and checked, then
removed. Needs device-mapper: where /dev/mapper/control is missing this test
skips, even under CI=true (the only skip the suite allows there).
"""

import os
import shutil

import snapsuite
import systest


def require_lvm():
    systest.require_root()
    if not os.path.exists("/dev/mapper/control"):
        systest.skip("LVM: no device-mapper (/dev/mapper/control missing)", allowed_in_ci=True)
    for tool in ("lvcreate", "vgcreate", "pvcreate", "lvremove", "vgremove", "pvremove", "mkfs.ext4", "losetup"):
        if not shutil.which(tool):
            systest.skip(f"LVM: {tool} not found (install lvm2 / e2fsprogs)", allowed_in_ci=True)
    if not os.path.exists("/dev/loop-control"):
        systest.skip("LVM: no loop devices (/dev/loop-control missing)", allowed_in_ci=True)


class LvmBackend:
    def __init__(self, tmp):
        self.tmp = tmp
        self.vg = f"jetsnaptest{os.getpid()}"
        self.loop = systest.LoopFile(tmp, "2G")
        lvm = ["--config", "devices { use_devicesfile = 0 }"]
        self.lvm = lvm
        systest.run(["pvcreate", "-q", *lvm, self.loop.device])
        systest.on_cleanup(systest.run, ["pvremove", "-q", "-f", *lvm, self.loop.device], check_rc=False)
        systest.run(["vgcreate", "-q", *lvm, self.vg, self.loop.device])
        systest.on_cleanup(systest.run, ["vgremove", "-q", "-f", *lvm, self.vg], check_rc=False)
        systest.run(["lvcreate", "-q", *lvm, "-y", "-L", "600M", "-n", "data", self.vg])
        self.origin = f"/dev/{self.vg}/data"
        systest.run(["mkfs.ext4", "-q", self.origin])
        self.mnt = os.path.join(tmp, "mnt")
        systest.mount(self.origin, self.mnt)
        self.root = os.path.join(self.mnt, "data")
        os.makedirs(self.root)
        self.mounts = {}

    def _mount_snapshot(self, name):
        where = os.path.join(self.tmp, "snap-" + name)
        systest.mount(f"/dev/{self.vg}/{name}", where)
        self.mounts[where] = name
        return os.path.join(where, "data")

    def take_ctl(self, address, i):
        name = f"ctl{i:02d}"
        systest.jetsnapctl(address, "snapshot", "--", "lvcreate", "-q", *self.lvm, "-y", "-s",
                           "-L", "64M", "-n", name, f"{self.vg}/data")
        return self._mount_snapshot(name)

    def take_cmd(self, address, i):
        return self.take_ctl(address, 100 + i)

    def take_raw(self, i):
        name = f"raw{i:02d}"
        systest.run(["lvcreate", "-q", *self.lvm, "-y", "-s", "-L", "64M", "-n", name, f"{self.vg}/data"])
        return self._mount_snapshot(name)

    def make_writable(self, path):
        pass  # LVM snapshots are writable; ext4 replays its journal at mount

    def release(self, path):
        where = os.path.dirname(path)
        systest.umount(where)
        systest.run(["lvremove", "-q", *self.lvm, "-f", f"{self.vg}/{self.mounts.pop(where)}"])


def test():
    require_lvm()
    systest.require_binaries()
    tmp = systest.workdir()
    backend = LvmBackend(tmp)
    snapsuite.run(backend, backend.root, tmp, cycles=10, cmd_cycles=0, raw_cycles=5)


systest.main(test)
