#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""jetsnapd as a process: restarts (ids never reused, acknowledged commits
kept after SIGKILL), SIGTERM while frozen, the freeze timeout, BindToCaller,
the session idle limit, an instance that fails to open, and the command
line (--bus-introspect, --check-config)."""

import os
import signal
import subprocess
import sys
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from busutil import *  # noqa: E402,F401,F403
import jetsnaptest  # noqa: E402

STDERR = {"JETSNAPD_LOG": "stderr"}
u = dbus.UInt32

TWO = """
snapshot:
  freeze-timeout: {timeout}
  session-idle-timeout: 2s
instances:
  - name: a
    path: {dir}/a
    databases:
      - name: main
        path: {dir}/a/main.jdb
  - name: b
    path: {dir}/b
    databases:
      - name: main
        path: {dir}/b/main.jdb
"""


def two(timeout="60s"):
    return lambda d: TWO.format(dir=d, timeout=timeout)


class Restart(unittest.TestCase):
    def test_ids_not_reused(self):
        with jetsnaptest.Env(env=STDERR) as env:
            c = Client(env.bus.address)
            ids = []
            for restart in (env.daemon.restart, lambda: (env.daemon.stop(), env.daemon.start())):
                sid = c.mgr.Prepare(u(0))
                ids.append(int(sid))
                c.mgr.End(sid, u(0))
                ids.append(int(c.mgr.Prepare(u(0))))   # left open across the restart
                restart()
                c.close()
                c = Client(env.bus.address)
                self.assertEqual(int(c.prop("ActiveSnapshotId")), 0)
                self.assertEqual(c.error("End", dbus.UInt64(ids[-1]), u(0))[0], INVALID_SNAP_ID)
            ids.append(int(c.mgr.Prepare(u(0))))
            self.assertEqual(ids, sorted(set(ids)), ids)
            self.assertTrue(all(i > 0 for i in ids))
            c.close()

    def test_sigkill_keeps_acknowledged_commits(self):
        with jetsnaptest.Env() as env:
            c = Client(env.bus.address)
            for i in range(200):
                c.commit([("p", "main", "t", b"k%03d" % i, b"v%d" % i)])
            env.daemon.restart()   # SIGKILL
            c.close()
            c = Client(env.bus.address)
            for i in range(200):
                self.assertEqual(c.get("main", "t", b"k%03d" % i), b"v%d" % i)
            c.close()

    def test_sigterm_while_frozen(self):
        with jetsnaptest.Env(env=STDERR) as env:
            c = Client(env.bus.address)
            sid = c.mgr.Prepare(u(CONTINUE))
            c.mgr.Freeze(sid, u(0))
            done = []
            c.commit_async([("p", "main", "t", b"late", b"1")], lambda ok, v: done.append((ok, v)))
            self.assertEqual(c.error("Get", "main", "t", dbus.ByteArray(b"late"), path=c.instance_path(),
                                     iface=INSTANCE)[0], RECORD_NOT_FOUND)
            self.assertEqual(env.daemon.stop(), 0)
            # The daemon thawed, finished the waiting commit and answered it before exiting.
            wait_until(lambda: (pump(), len(done) == 1)[1], what="commit reply")
            self.assertTrue(done[0][0], done)
            self.assertIn("aborted: jetsnapd is stopping", env.daemon.read_log())
            env.daemon.start()
            c.close()
            c = Client(env.bus.address)
            self.assertEqual(c.get("main", "t", b"late"), b"1")
            self.assertEqual(c.instance_state(), "running")
            c.close()


class Limits(unittest.TestCase):
    def test_freeze_timeout_from_config(self):
        with jetsnaptest.Env(config=two("1s"), env=STDERR) as env:
            c = Client(env.bus.address)
            self.assertEqual(int(c.prop("FreezeTimeoutUSec")), 1000000)
            sid = c.mgr.Prepare(u(CONTINUE))
            self.assertEqual(int(c.prop("TimeoutUSec", path="/org/jetsnap1/snapshot/%d" % sid, iface=SNAPSHOT)),
                             1000000)
            c.mgr.Freeze(sid, u(0))
            wait_until(lambda: c.state() == "timed-out", what="freeze timeout")
            self.assertEqual(c.instance_state("a"), "running")
            self.assertEqual(c.instance_state("b"), "running")
            self.assertEqual(c.error("Thaw", sid, u(0))[0], TIME_OUT)
            self.assertEqual(c.error("End", sid, u(0))[0], TIME_OUT)
            self.assertEqual(c.error("End", sid, u(0))[0], INVALID_SNAP_ID)
            self.assertIn("Snapshot %d timed out: frozen longer than 1s" % sid, env.daemon.read_log())
            c.close()

    def test_bound_caller_disconnects(self):
        with jetsnaptest.Env(config=two(), env=STDERR) as env:
            c = Client(env.bus.address)
            child = subprocess.Popen(
                ["/usr/bin/python3", "-c", """
import sys, time, dbus
sys.path.insert(0, %r)
from busutil import *
c = Client(%r)
sid = c.mgr.PrepareWithOptions(dbus.UInt32(CONTINUE), options(BindToCaller=True))
c.mgr.Freeze(sid, dbus.UInt32(0))
print(sid, flush=True)
time.sleep(600)
""" % (os.path.dirname(os.path.abspath(__file__)), env.bus.address)], stdout=subprocess.PIPE, text=True)
            try:
                sid = int(child.stdout.readline())
                self.assertEqual(c.state(), "frozen")
                self.assertEqual(c.instance_state("a"), "frozen")
            finally:
                child.kill()
                child.wait()
            # The contract: thawed within 1 s of the owner's disconnect (in practice one bus round trip).
            wait_until(lambda: int(c.prop("ActiveSnapshotId")) == 0, deadline_s=1, what="abort on disconnect")
            self.assertEqual(c.instance_state("a"), "running")
            self.assertEqual(c.instance_state("b"), "running")
            self.assertEqual(c.error("Abort", dbus.UInt64(sid), u(0))[0], INVALID_SNAP_ID)
            self.assertIn("Snapshot %d aborted: its owner" % sid, env.daemon.read_log())
            # Not bound: a one-shot caller going away leaves the session alone.
            other = Client(env.bus.address)
            sid = other.mgr.Prepare(u(CONTINUE))
            other.close()
            self.assertEqual(int(c.prop("ActiveSnapshotId")), sid)
            c.mgr.Abort(sid, u(0))
            c.close()

    def test_idle_limit(self):
        with jetsnaptest.Env(config=two(), env=STDERR) as env:
            c = Client(env.bus.address)
            sid = c.mgr.Prepare(u(CONTINUE))
            c.mgr.Freeze(sid, u(0))
            wait_until(lambda: int(c.prop("ActiveSnapshotId")) == 0, what="idle abort")
            self.assertEqual(c.instance_state("a"), "running")
            self.assertEqual(c.error("Thaw", sid, u(0))[0], INVALID_SNAP_ID)
            self.assertIn("Snapshot %d aborted: no call for 2s" % sid, env.daemon.read_log())
            c.close()


class Notify(unittest.TestCase):
    def test_ready_and_status(self):
        import socket
        with jetsnaptest.tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "notify")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(path)
            sock.settimeout(30)
            with jetsnaptest.Env(config=two(), env={"NOTIFY_SOCKET": path}) as env:
                seen = []

                def until(text):
                    while not any(text in m for m in seen):
                        seen.append(sock.recv(4096).decode())

                until("READY=1")
                c = Client(env.bus.address)
                sid = c.mgr.Prepare(u(CONTINUE))
                c.mgr.Freeze(sid, u(0))
                until("STATUS=2 instances, frozen by snapshot %d" % sid)
                c.mgr.Abort(sid, u(0))
                until("STATUS=2 instances, idle")
                self.assertEqual(env.daemon.stop(), 0)
                until("STOPPING=1")
                c.close()
            sock.close()


class FailedInstance(unittest.TestCase):
    def test_corrupt_instance_fails_alone(self):
        with jetsnaptest.Env(config=two(), env=STDERR) as env:
            c = Client(env.bus.address)
            c.commit([("p", "main", "t", b"k", b"v")], name="b")
            env.daemon.stop()
            with open(os.path.join(env.dir, "a", "jet.chk"), "r+b") as f:
                size = os.fstat(f.fileno()).st_size
                f.write(b"\xa5" * max(size, 64))
            env.daemon.start()
            c.close()
            c = Client(env.bus.address)
            self.assertEqual(c.instance_state("a"), "failed")
            self.assertEqual(c.instance_state("b"), "running")
            self.assertEqual(c.get("main", "t", b"k", name="b"), b"v")
            self.assertIn("Instance 'a' failed to open", env.daemon.read_log())
            err, _ = c.error("Get", "main", "t", dbus.ByteArray(b"k"), path=c.instance_path("a"), iface=INSTANCE)
            self.assertEqual(err, "org.freedesktop.DBus.Error.IOError")
            # A session leaves the failed instance out; adding it explicitly is not allowed.
            sid = c.mgr.Prepare(u(CONTINUE))
            self.assertEqual(list(c.prop("Instances", path="/org/jetsnap1/snapshot/%d" % sid, iface=SNAPSHOT)),
                             ["b"])
            c.mgr.Abort(sid, u(0))
            sid = c.mgr.Prepare(u(CONTINUE | EXPLICIT))
            self.assertEqual(c.error("PrepareInstance", sid, "a", u(0))[0], NOT_ALLOWED)
            c.mgr.Abort(sid, u(0))
            c.close()


class CommandLine(unittest.TestCase):
    MEMBERS = {
        "org.jetsnap1.Manager": ["Prepare", "PrepareWithOptions", "PrepareInstance", "Freeze", "GetFreezeInfo",
                                 "Thaw", "TruncateLog", "TruncateLogInstance", "Abort", "End", "ListInstances",
                                 "Version", "FreezeTimeoutUSec", "ActiveSnapshotId", "ActiveSnapshotState"],
        "org.jetsnap1.Instance": ["Name", "Id", "State", "Path", "Databases", "CurrentGeneration",
                                  "CheckpointGeneration", "LastFullBackup", "LastIncrementalBackup",
                                  "CircularLogging", "CommittedTransactions", "Commit", "Get", "Scan"],
        "org.jetsnap1.Snapshot": ["Id", "State", "Flags", "Owner", "Instances", "TimeoutUSec", "PreparedUSec",
                                  "FrozenUSec"],
    }

    def test_bus_introspect(self):
        for iface, members in self.MEMBERS.items():
            with self.subTest(iface):
                r = subprocess.run([jetsnapd(), "--bus-introspect=" + iface], capture_output=True, text=True,
                                   timeout=30)
                self.assertEqual(r.returncode, 0, r.stderr)
                root = ET.fromstring(r.stdout.split("\n", 2)[2] if r.stdout.startswith("<!DOCTYPE") else r.stdout)
                node = [i for i in root.findall("interface") if i.get("name") == iface]
                self.assertEqual(len(node), 1)
                got = [e.get("name") for e in node[0] if e.tag in ("method", "property")]
                self.assertEqual(sorted(got), sorted(members))
                # Arguments are named.
                for arg in node[0].iter("arg"):
                    self.assertTrue(arg.get("name"), ET.tostring(arg))
        r = subprocess.run([jetsnapd(), "--bus-introspect=org.example.Nope"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)

    def test_check_config(self):
        with jetsnaptest.tempfile.TemporaryDirectory() as d:
            good = os.path.join(d, "good.yaml")
            with open(good, "w") as f:
                f.write(two()(d))
            r = subprocess.run([jetsnapd(), "--check-config", "--config", good], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("2 instance(s)", r.stdout)
            bad = os.path.join(d, "bad.yaml")
            with open(bad, "w") as f:
                f.write("snapshot:\n  freeze-timeout: soon\n")
            r = subprocess.run([jetsnapd(), "--check-config", "--config", bad], capture_output=True, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertRegex(r.stderr, "^" + bad + r":2:\d+: ")
            # The daemon refuses the same file.
            r = subprocess.run([jetsnapd(), "--config", bad], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertRegex(r.stderr, bad + r":2:\d+: ")
        r = subprocess.run([jetsnapd(), "--version"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("jetsnapd "))
        r = subprocess.run([jetsnapd(), "--bogus"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
