#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Authorization: reading properties and listing are open to everyone;
snapshot methods need root or snapshot.allowed-groups; data methods need
root or the instance's access-groups. Checked by jetsnapd itself (an open
bus policy lets everything through to it) and together with the shipped
policy systemd/org.jetsnap1.conf. Clients run as nobody via setpriv."""

import json
import os
import pwd
import shutil
import sys
import tempfile
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from busutil import *  # noqa: E402,F401,F403
import jetsnaptest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = """
snapshot:
  allowed-groups: [backup]
instances:
  - name: mail
    path: {dir}/mail
    access-groups: [backup]
    databases:
      - name: main
        path: {dir}/mail/main.jdb
  - name: private
    path: {dir}/private
    databases:
      - name: main
        path: {dir}/private/main.jdb
"""

# Runs in the child: every call, its error name (or null).
CHILD = """
import json, sys, dbus
sys.path.insert(0, %r)
from busutil import *
c = Client(%r)
u = dbus.UInt32
out = {}
out["ActiveSnapshotId"] = c.error("Get", MANAGER, "ActiveSnapshotId", iface=PROPS)[0]
out["InstanceState"] = c.error("Get", INSTANCE, "State", path="/org/jetsnap1/instance/mail", iface=PROPS)[0]
out["ListInstances"] = c.error("ListInstances")[0]
err, sid = c.error("Prepare", u(0))
out["Prepare"] = err
if err is None:
    out["Abort"] = c.error("Abort", sid, u(0))[0]
out["Freeze"] = c.error("Freeze", dbus.UInt64(424242), u(0))[0]
ops = ops_array([("p", "main", "t", b"k", b"v")])
out["CommitMail"] = c.error("Commit", ops, path="/org/jetsnap1/instance/mail", iface=INSTANCE)[0]
out["GetMail"] = c.error("Get", "main", "t", dbus.ByteArray(b"k"), path="/org/jetsnap1/instance/mail",
                         iface=INSTANCE)[0]
out["CommitPrivate"] = c.error("Commit", ops, path="/org/jetsnap1/instance/private", iface=INSTANCE)[0]
out["ScanPrivate"] = c.error("Scan", "main", "t", dbus.ByteArray(b""), dbus.ByteArray(b""), u(0),
                             path="/org/jetsnap1/instance/private", iface=INSTANCE)[0]
print(json.dumps(out))
"""

NOBODY = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"]
NOBODY_BACKUP = ["--reuid=nobody", "--regid=nogroup", "--groups=backup"]
ROOT = ["--reuid=root", "--regid=root", "--clear-groups"]


def calls(env, user):
    return json.loads(run_as(user, CHILD % (HERE, env.bus.address), env.bus.address))


class Access(unittest.TestCase):
    def check(self, got, allowed, denied):
        for k in allowed:
            self.assertNotEqual(got[k], ACCESS_DENIED, f"{k}: {got}")
        for k in denied:
            self.assertEqual(got[k], ACCESS_DENIED, f"{k}: {got}")

    def test_daemon_checks(self):
        # Open bus policy: every decision below is the daemon's own.
        with jetsnaptest.Env(config=lambda d: CONFIG.format(dir=d), policy="open", env={"JETSNAPD_LOG": "stderr"}) as env:
            got = calls(env, NOBODY)
            self.check(got, ["ActiveSnapshotId", "InstanceState", "ListInstances"],
                       ["Prepare", "Freeze", "CommitMail", "GetMail", "CommitPrivate", "ScanPrivate"])
            self.assertIn("Denied Prepare", env.daemon.read_log())

            got = calls(env, NOBODY_BACKUP)
            self.check(got, ["Prepare", "Freeze", "CommitMail", "GetMail"], ["CommitPrivate", "ScanPrivate"])
            self.assertEqual(got["Prepare"], None)
            self.assertEqual(got["Abort"], None)
            self.assertEqual(got["Freeze"], INVALID_SNAP_ID)
            self.assertEqual(got["CommitMail"], None)
            self.assertEqual(got["GetMail"], None)

            got = calls(env, ROOT)
            self.assertEqual([k for k, v in got.items() if v == ACCESS_DENIED], [])
            self.assertEqual(got["CommitPrivate"], None)
            self.assertIsNone(env.daemon.proc.poll())

    def test_with_system_policy(self):
        with jetsnaptest.Env(config=lambda d: CONFIG.format(dir=d)) as env:
            got = calls(env, NOBODY)
            self.check(got, ["ActiveSnapshotId", "InstanceState", "ListInstances"],
                       ["Prepare", "Freeze", "CommitMail", "GetMail", "CommitPrivate", "ScanPrivate"])
            # The policy lets data calls through to the daemon, which checks the groups.
            got = calls(env, NOBODY_BACKUP)
            self.check(got, ["Prepare", "Freeze", "CommitMail", "GetMail"], ["CommitPrivate", "ScanPrivate"])
            # snapshot.allowed-groups is the contract: the bus policy must not refuse its members.
            self.assertEqual(got["Prepare"], None)
            self.assertEqual(got["Abort"], None)
            self.assertEqual(got["CommitMail"], None)
            got = calls(env, ROOT)
            self.assertEqual([k for k, v in got.items() if v == ACCESS_DENIED], [])
            self.assertEqual(got["Prepare"], None)
            self.assertIsNone(env.daemon.proc.poll())

    def test_own_user(self):
        # jetsnapd --user style: the daemon's own (non-root) user may run snapshots, others may not.
        nobody = pwd.getpwnam("nobody")
        d = tempfile.mkdtemp(prefix="jetsnap-test-")
        os.chmod(d, 0o755)
        bus = jetsnaptest.Bus(d, "open")
        try:
            data = os.path.join(d, "data")
            os.makedirs(os.path.join(d, "state"))
            os.makedirs(data)
            for p in (data, os.path.join(d, "state")):
                os.chown(p, nobody.pw_uid, nobody.pw_gid)
            wrapper = os.path.join(d, "jetsnapd-as-nobody")
            with open(wrapper, "w") as f:
                f.write('#!/bin/sh\nexec setpriv --reuid=nobody --regid=nogroup --clear-groups "%s" "$@"\n'
                        % os.environ.get("JETSNAPD", "jetsnapd"))
            os.chmod(wrapper, 0o755)
            saved = os.environ.get("JETSNAPD")
            os.environ["JETSNAPD"] = wrapper
            try:
                daemon = jetsnaptest.Daemon(bus, d, CONFIG.format(dir=data).replace("[backup]", "[]"),
                                            env={"JETSNAPD_LOG": "stderr"})
            finally:
                if saved is None:
                    del os.environ["JETSNAPD"]
                else:
                    os.environ["JETSNAPD"] = saved
            env = types.SimpleNamespace(bus=bus)
            got = calls(env, NOBODY)
            self.assertEqual(got["Prepare"], None, got)
            self.assertEqual(got["CommitPrivate"], None, got)
            got = calls(env, ["--reuid=daemon", "--regid=daemon", "--clear-groups"])
            self.check(got, ["ListInstances"], ["Prepare", "CommitPrivate"])
            self.assertEqual(daemon.stop(), 0)
        finally:
            bus.stop()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
