#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Acceptance: what a snapshot does, from ese-semantics.md "Freeze" and
"Thaw, truncation, End": the freeze info, jet.log while frozen, log
truncation, backup records, PropertiesChanged, BindToCaller, the idle
limit, authorization and the data methods."""

import os
import subprocess
import sys
import unittest

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acceptance import *  # noqa: E402,F401,F403
import jetsnaptest  # noqa: E402

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)


def pump():
    ctx = GLib.MainContext.default()
    while ctx.iteration(False):
        pass


def info_by_name(info):
    """Freeze info a(tsa(ss)sas) as {name: (id, [(path, display)], logdir, [files])}."""
    return {str(n): (int(i), [(str(p), str(d)) for p, d in dbs], str(ld), [str(f) for f in files])
            for i, n, dbs, ld, files in info}


def gens_of(files):
    return sorted(int(os.path.basename(f)[3:11], 16) for f in files
                  if os.path.basename(f).startswith("jet") and os.path.basename(f).endswith(".log"))


Base = DaemonTestCase


class Backup(Base):
    def test_1_full_freeze_info(self):
        c = self.c
        fill(c, "alpha", "one", 40)
        ckpt = int(c.iprop("alpha", "CheckpointGeneration"))
        cur = int(c.iprop("alpha", "CurrentGeneration"))
        self.assertGreater(cur, 1)
        sid = c.prepare(CONTINUE)
        info = info_by_name(c.freeze(sid))
        self.assertEqual(sorted(info), ["alpha", "beta", "gamma"])
        iid, dbs, logdir, files = info["alpha"]
        self.assertEqual(iid, int(c.iprop("alpha", "Id")))
        self.assertEqual(dbs, [(os.path.join(self.dir, "alpha/one.jdb"), "one"),
                               (os.path.join(self.dir, "alpha/two.jdb"), "two")])
        self.assertEqual(os.path.realpath(logdir), os.path.realpath(os.path.join(self.dir, "alpha/logs")))
        # Every file exists, is absolute, and jet.log is gone while frozen.
        for f in files:
            self.assertTrue(os.path.isabs(f), f)
            self.assertTrue(os.path.exists(f), f)
        self.assertFalse(os.path.exists(os.path.join(logdir, "jet.log")))
        self.assertIn(os.path.join(self.dir, "alpha", "jet.chk"), files)
        gens = gens_of(files)
        closed = max(gens)
        self.assertGreaterEqual(closed, cur)
        self.assertLessEqual(gens[0], ckpt)
        self.assertEqual(gens, list(range(gens[0], closed + 1)))
        self.assertEqual(gens[0], int(c.iprop("alpha", "CheckpointGeneration")))
        # GetFreezeInfo says the same.
        self.assertEqual(info_by_name(c.call("GetFreezeInfo", t(sid), u(0))), info)
        c.call("Thaw", t(sid), u(0))
        self.assertEqual(info_by_name(c.call("GetFreezeInfo", t(sid), u(0))), info)
        self.assertTrue(os.path.exists(os.path.join(logdir, "jet.log")))
        self.assertEqual(tuple(int(x) for x in c.iprop("alpha", "LastFullBackup")), (0, 0))

        # grbit 0: nothing deleted.
        before = log_generations(os.path.join(self.dir, "alpha"))
        c.call("TruncateLog", t(sid), u(0))
        self.assertEqual(log_generations(os.path.join(self.dir, "alpha")), before)
        self.assertEqual(str(c.prop("ActiveSnapshotState")), "log-truncated")
        # AllDatabasesSnapshot: from the oldest up to, not including, min(checkpoint at freeze, closed + 1).
        c.call("TruncateLog", t(sid), u(ALL_DATABASES))
        after = log_generations(os.path.join(self.dir, "alpha"))
        self.assertEqual([g for g in after if g < gens[0]], [])
        self.assertIn(gens[0], after)
        self.assertEqual([g for g in before if g >= gens[0]], [g for g in after if g <= max(before)])
        c.call("End", t(sid), u(0))
        gen, usec = (int(x) for x in c.iprop("alpha", "LastFullBackup"))
        self.assertEqual(gen, closed)
        self.assertGreater(usec, 1600000000 * 10**6)
        type(self).full_closed = closed

    def test_2_incremental(self):
        c = self.c
        closed = getattr(type(self), "full_closed", None)
        if closed is None:
            self.skipTest("needs the full backup of test_1")
        fill(c, "alpha", "two", 30, prefix=b"i")
        sid = c.prepare(CONTINUE | INCREMENTAL | EXPLICIT)
        c.call("PrepareInstance", t(sid), s("alpha"), u(0))
        info = info_by_name(c.freeze(sid))
        files = info["alpha"][3]
        gens = gens_of(files)
        self.assertEqual(gens, list(range(closed + 1, max(gens) + 1)))
        self.assertNotIn(os.path.join(self.dir, "alpha", "jet.chk"), files)
        c.call("Thaw", t(sid), u(0))
        c.call("TruncateLogInstance", t(sid), s("alpha"), u(ALL_DATABASES))
        c.call("End", t(sid), u(0))
        gen, usec = (int(x) for x in c.iprop("alpha", "LastIncrementalBackup"))
        self.assertEqual(gen, max(gens))
        self.assertGreater(usec, 0)
        self.assertEqual(int(c.iprop("alpha", "LastFullBackup")[0]), closed)

    def test_0_incremental_needs_full(self):
        c = self.c
        sid = c.prepare(INCREMENTAL | EXPLICIT)
        c.call("PrepareInstance", t(sid), s("beta"), u(0))
        self.assertEqual(c.err("Freeze", t(sid), u(0)), MISSING_FULL_BACKUP)
        self.assertEqual(str(c.prop("ActiveSnapshotState")), "freeze-failed")
        self.assertEqual(str(c.iprop("beta", "State")), "running")
        self.assertEqual(len(c.call("GetFreezeInfo", t(sid), u(0))), 0)
        c.call("End", t(sid), u(0))

    def test_2b_incremental_copy_is_no_base(self):
        """Copy (incremental or not) "does not count as the base for incrementals"."""
        c = self.c
        if getattr(type(self), "full_closed", None) is None:
            self.skipTest("needs the backups of test_1/test_2")
        before = tuple(int(x) for x in c.iprop("alpha", "LastIncrementalBackup"))
        full = tuple(int(x) for x in c.iprop("alpha", "LastFullBackup"))
        self.assertGreater(before[0], 0)
        fill(c, "alpha", "one", 20, prefix=b"y")
        for flags in (INCREMENTAL | COPY, COPY):
            sid = c.prepare(CONTINUE | EXPLICIT | flags)
            c.call("PrepareInstance", t(sid), s("alpha"), u(0))
            files = info_by_name(c.freeze(sid))["alpha"][3]
            if flags & INCREMENTAL:
                self.assertEqual(gens_of(files)[0], before[0] + 1)
            c.call("Thaw", t(sid), u(0))
            self.assertEqual(c.err("TruncateLog", t(sid), u(ALL_DATABASES)), INVALID_SEQUENCE)
            c.call("End", t(sid), u(0))
        self.assertEqual(tuple(int(x) for x in c.iprop("alpha", "LastIncrementalBackup")), before)
        self.assertEqual(tuple(int(x) for x in c.iprop("alpha", "LastFullBackup")), full)
        sid = c.prepare(CONTINUE | EXPLICIT | INCREMENTAL)
        c.call("PrepareInstance", t(sid), s("alpha"), u(0))
        self.assertEqual(gens_of(info_by_name(c.freeze(sid))["alpha"][3])[0], before[0] + 1)
        c.call("End", t(sid), u(ABORT))

    def test_3_missing_generation(self):
        """A generation since the last backup that is gone: MissingFileToBackup, nothing frozen."""
        c = self.c
        if getattr(type(self), "full_closed", None) is None:
            self.skipTest("needs the backups of test_1/test_2")
        last = int(c.iprop("alpha", "LastIncrementalBackup")[0])
        fill(c, "alpha", "one", 40, prefix=b"m")
        gens = [g for g in log_generations(os.path.join(self.dir, "alpha")) if g > last]
        self.assertGreater(len(gens), 1)
        victim = os.path.join(self.dir, "alpha", "logs", "jet%08X.log" % gens[0])
        with open(victim, "rb") as f:
            saved = f.read()
        os.unlink(victim)
        try:
            sid = c.prepare(INCREMENTAL | EXPLICIT)
            c.call("PrepareInstance", t(sid), s("alpha"), u(0))
            self.assertEqual(c.err("Freeze", t(sid), u(0)), E + "MissingFileToBackup")
            self.assertEqual(str(c.iprop("alpha", "State")), "running")
            self.assertEqual(str(c.prop("ActiveSnapshotState")), "freeze-failed")
            c.call("End", t(sid), u(0))
        finally:
            with open(victim, "wb") as f:
                f.write(saved)

    def test_4_copy_and_abort_record_nothing(self):
        c = self.c
        before = {n: (tuple(c.iprop(n, "LastFullBackup")), tuple(c.iprop(n, "LastIncrementalBackup")))
                  for n in ("alpha", "beta")}
        sid = c.prepare(CONTINUE)
        c.freeze(sid)
        c.call("Abort", t(sid), u(0))
        sid = c.prepare(CONTINUE)
        c.call("End", t(sid), u(0))      # from prepared: nothing recorded
        sid = c.prepare(CONTINUE)
        c.freeze(sid)
        c.call("End", t(sid), u(ABORT))
        after = {n: (tuple(c.iprop(n, "LastFullBackup")), tuple(c.iprop(n, "LastIncrementalBackup")))
                 for n in ("alpha", "beta")}
        self.assertEqual(after, before)

    def test_5_commit_waits_while_frozen(self):
        c = self.c
        sid = c.prepare(CONTINUE)
        c.freeze(sid)
        done = []
        obj = c.bus.get_object(NAME, c.ipath("beta"), introspect=False)
        obj.get_dbus_method("Commit", INSTANCE)(ops_array([("p", "main", "t", b"frozen", b"1")]),
                                                 timeout=CALL_TIMEOUT, reply_handler=lambda lsn: done.append(lsn),
                                                 error_handler=lambda e: done.append(e))
        # Reads and properties are served meanwhile; the commit stays unacknowledged.
        for _ in range(20):
            pump()
            self.assertEqual(c.err("Get", "main", "t", dbus.ByteArray(b"nope"), path=c.ipath("beta"),
                                   iface=INSTANCE), RECORD_NOT_FOUND)
        self.assertEqual(done, [])
        c.call("Thaw", t(sid), u(0))
        wait_until(lambda: pump() or done, "commit after thaw")
        self.assertIsInstance(done[0], dbus.UInt64)
        self.assertEqual(bytes(c.call("Get", "main", "t", dbus.ByteArray(b"frozen"), path=c.ipath("beta"),
                                      iface=INSTANCE)), b"1")
        c.call("End", t(sid), u(0))


class Backlog(Base):
    def test_thousand_commits_wait_for_thaw(self):
        """Commits sent while frozen stay unacknowledged, then all complete at thaw, durable and in order."""
        c = self.c
        sid = c.prepare(CONTINUE)
        c.freeze(sid)
        results = {}
        obj = c.bus.get_object(NAME, c.ipath("beta"), introspect=False)
        commit = obj.get_dbus_method("Commit", INSTANCE)
        n = 1000
        for i in range(n):
            commit(ops_array([("p", "main", "backlog", b"%06d" % i, b"%d" % i)]), timeout=CALL_TIMEOUT,
                   reply_handler=lambda lsn, i=i: results.__setitem__(i, int(lsn)),
                   error_handler=lambda e, i=i: results.__setitem__(i, e.get_dbus_name()))
        c.call("Ping", path=ROOT, iface="org.freedesktop.DBus.Peer")
        pump()
        self.assertEqual(results, {})
        self.assertEqual(str(c.iprop("beta", "State")), "frozen")
        c.call("Thaw", t(sid), u(0))
        wait_until(lambda: pump() or len(results) == n, "all commits answered")
        lsns = [results[i] for i in range(n)]
        self.assertTrue(all(isinstance(v, int) for v in lsns), [v for v in lsns if not isinstance(v, int)][:3])
        self.assertEqual(lsns, sorted(lsns))
        self.assertEqual(len(set(lsns)), n)
        rows = c.call("Scan", "main", "backlog", dbus.ByteArray(b""), dbus.ByteArray(b""), u(n), path=c.ipath("beta"),
                      iface=INSTANCE)
        self.assertEqual(len(rows), n)
        c.call("End", t(sid), u(0))


class Signals(Base):
    def test_properties_changed(self):
        c = self.c
        seen = []

        def handler(iface, changed, invalidated, path=None):
            for k, v in changed.items():
                seen.append((str(path), str(iface), str(k), v))
            for k in invalidated:
                seen.append((str(path), str(iface), str(k), None))

        c.bus.add_signal_receiver(handler, "PropertiesChanged", PROPS, NAME, None, path_keyword="path")

        def has(path, iface, prop, value=None):
            def check():
                pump()
                return any(p == path and i == iface and k == prop and (value is None or v is None or v == value)
                           for p, i, k, v in seen)
            return check

        sid = c.prepare(CONTINUE)
        snap = "/org/jetsnap1/snapshot/%d" % sid
        wait_until(has(ROOT, MANAGER, "ActiveSnapshotId", sid), "ActiveSnapshotId change")
        wait_until(has(ROOT, MANAGER, "ActiveSnapshotState", "prepared"), "ActiveSnapshotState prepared")
        c.freeze(sid)
        wait_until(has(ROOT, MANAGER, "ActiveSnapshotState", "frozen"), "ActiveSnapshotState frozen")
        wait_until(has(snap, SNAPSHOT, "State", "frozen"), "Snapshot State frozen")
        wait_until(has(c.ipath("alpha"), INSTANCE, "State", "frozen"), "Instance State frozen")
        c.call("Thaw", t(sid), u(0))
        wait_until(has(snap, SNAPSHOT, "State", "thawed"), "Snapshot State thawed")
        wait_until(has(c.ipath("alpha"), INSTANCE, "State", "running"), "Instance State running")
        c.call("End", t(sid), u(0))
        wait_until(has(ROOT, MANAGER, "ActiveSnapshotId", 0), "ActiveSnapshotId back to 0")
        wait_until(has(c.ipath("alpha"), INSTANCE, "LastFullBackup"), "LastFullBackup change")


    def test_changes_only(self):
        """Each State value is signalled once per change: reads and illegal calls signal nothing."""
        c = self.c
        states = []

        def handler(iface, changed, invalidated, path=None):
            if str(iface) == MANAGER and "ActiveSnapshotState" in changed:
                states.append(("manager", str(changed["ActiveSnapshotState"])))
            if str(iface) == SNAPSHOT and "State" in changed:
                states.append(("snapshot", str(changed["State"])))

        match = c.bus.add_signal_receiver(handler, "PropertiesChanged", PROPS, NAME, None, path_keyword="path")
        try:
            sid = c.prepare(CONTINUE)
            c.call("GetFreezeInfo", t(sid), u(0))
            c.err("Thaw", t(sid), u(0))
            c.freeze(sid)
            c.call("GetFreezeInfo", t(sid), u(0))
            c.err("Freeze", t(sid), u(0))
            c.call("Thaw", t(sid), u(0))
            c.call("TruncateLog", t(sid), u(ALL_DATABASES))
            c.call("TruncateLog", t(sid), u(ALL_DATABASES))
            c.call("End", t(sid), u(0))
            # A round trip after the last signal: everything before it has arrived.
            c.call("Ping", path=ROOT, iface="org.freedesktop.DBus.Peer")
            wait_until(lambda: pump() or ("manager", "") in states, "ActiveSnapshotState ''")
            self.assertEqual([v for k, v in states if k == "manager"],
                             ["prepared", "frozen", "thawed", "log-truncated", ""])
            self.assertEqual([v for k, v in states if k == "snapshot"], ["frozen", "thawed", "log-truncated"])
        finally:
            match.remove()


class Binding(Base):
    def test_bind_to_caller(self):
        other = Client(self.env.bus.address)
        sid = int(other.call("PrepareWithOptions", u(CONTINUE),
                             dbus.Dictionary({"BindToCaller": dbus.Boolean(True)}, signature="sv")))
        other.freeze(sid)
        self.assertEqual(str(self.c.iprop("alpha", "State")), "frozen")
        other.close()
        wait_until(lambda: int(self.c.prop("ActiveSnapshotId")) == 0, "bound session aborted")
        self.assertEqual(str(self.c.iprop("alpha", "State")), "running")
        self.assertEqual(self.c.err("Thaw", t(sid), u(0)), INVALID_SNAP_ID)

    def test_unbound_survives_caller(self):
        other = Client(self.env.bus.address)
        sid = other.prepare(CONTINUE)
        other.freeze(sid)
        other.close()
        self.c.call("GetFreezeInfo", t(sid), u(0))    # another connection may go on with the id
        self.assertEqual(int(self.c.prop("ActiveSnapshotId")), sid)
        self.c.call("Thaw", t(sid), u(0))
        self.c.call("End", t(sid), u(0))

    def test_short_call_timeout(self):
        """A client that gives up on Freeze before it is answered breaks nothing."""
        c = self.c
        for _ in range(5):
            fill(c, "alpha", "one", 3, prefix=b"s")
            sid = c.prepare(CONTINUE)
            try:
                c.call("Freeze", t(sid), u(0), timeout=0.000001)
            except dbus.exceptions.DBusException as e:
                self.assertEqual(e.get_dbus_name(), "org.freedesktop.DBus.Error.NoReply")
            wait_until(lambda: str(c.prop("ActiveSnapshotState")) == "frozen", "frozen")
            self.assertEqual(len(c.call("GetFreezeInfo", t(sid), u(0))), 3)
            c.call("Thaw", t(sid), u(0))
            c.call("End", t(sid), u(0))
        fill(c, "alpha", "one", 3, prefix=b"s")


class Timeouts(unittest.TestCase):
    def test_idle_and_freeze_timeout(self):
        with jetsnaptest.Env(config=config(idle="1s")) as env:
            c = Client(env.bus.address)
            sid = c.prepare(CONTINUE)
            c.freeze(sid)
            wait_until(lambda: int(c.prop("ActiveSnapshotId")) == 0, "idle abort")
            self.assertEqual(str(c.iprop("alpha", "State")), "running")
            self.assertEqual(c.err("Thaw", t(sid), u(0)), INVALID_SNAP_ID)
            # A freeze timeout: PrepareWithOptions TimeoutUSec, the instances thaw by themselves.
            sid = int(c.call("PrepareWithOptions", u(CONTINUE),
                             dbus.Dictionary({"TimeoutUSec": t(200000)}, signature="sv")))
            path = "/org/jetsnap1/snapshot/%d" % sid
            self.assertEqual(int(c.prop("TimeoutUSec", path=path, iface=SNAPSHOT)), 200000)
            c.freeze(sid)
            wait_until(lambda: str(c.prop("ActiveSnapshotState")) == "timed-out", "timed-out")
            self.assertEqual(str(c.prop("State", path=path, iface=SNAPSHOT)), "timed-out")
            self.assertEqual(str(c.iprop("alpha", "State")), "running")
            self.assertEqual(len(c.call("GetFreezeInfo", t(sid), u(0))), 0)
            c.commit("beta", [("p", "main", "t", b"after-timeout", b"x")])
            self.assertEqual(c.err("TruncateLog", t(sid), u(ALL_DATABASES)), TIME_OUT)
            self.assertEqual(c.err("End", t(sid), u(0)), TIME_OUT)
            self.assertEqual(c.err("End", t(sid), u(0)), INVALID_SNAP_ID)
            c.close()


class Access(Base):
    def run_as(self, args, code):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.env.bus.address,
                   PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
        r = subprocess.run(["setpriv"] + args + ["/usr/bin/python3", "-c", code], env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split()

    CODE = """
import os, dbus
from acceptance import *
c = Client(os.environ["DBUS_SYSTEM_BUS_ADDRESS"])
print(c.err("Prepare", u(0)) or "ok")
print(int(c.prop("ActiveSnapshotId")), str(c.iprop("alpha", "State")))
print(c.err("Commit", ops_array([("p", "one", "t", b"k", b"v")]), path=c.ipath("alpha"), iface=INSTANCE) or "ok")
print(c.err("Get", "main", "t", dbus.ByteArray(b"k"), path=c.ipath("beta"), iface=INSTANCE) or "ok")
sid = int(c.prop("ActiveSnapshotId"))
if sid:
    print(c.err("Abort", t(sid), u(0)) or "ok")
"""

    def test_nobody(self):
        out = self.run_as(["--reuid=65534", "--regid=65534", "--clear-groups"], self.CODE)
        self.assertEqual(out, [ACCESS_DENIED, "0", "running", ACCESS_DENIED, ACCESS_DENIED])

    def test_backup_group(self):
        out = self.run_as(["--reuid=65534", "--regid=65534", "--groups=backup"], self.CODE)
        self.assertEqual(out[0], "ok")
        self.assertEqual(out[3:], [ACCESS_DENIED, ACCESS_DENIED, "ok"])

    def test_access_group(self):
        out = self.run_as(["--reuid=65534", "--regid=65534", "--groups=mail"], self.CODE)
        self.assertEqual(out, [ACCESS_DENIED, "0", "running", "ok", ACCESS_DENIED])


class Data(Base):
    def test_commit_get_scan(self):
        c = self.c
        p = c.ipath("beta")
        n0 = int(c.iprop("beta", "CommittedTransactions"))
        l1 = c.commit("beta", [("p", "main", "d", b"a", b"1"), ("p", "main", "d", b"b", b"2"),
                               ("p", "main", "d", b"c", b"3")])
        l2 = c.commit("beta", [("d", "main", "d", b"b", b"")])
        self.assertGreater(l2, l1)
        self.assertEqual(int(c.iprop("beta", "CommittedTransactions")), n0 + 2)
        self.assertEqual(bytes(c.call("Get", "main", "d", dbus.ByteArray(b"a"), path=p, iface=INSTANCE)), b"1")
        self.assertEqual(c.err("Get", "main", "d", dbus.ByteArray(b"b"), path=p, iface=INSTANCE), RECORD_NOT_FOUND)
        self.assertEqual(c.err("Get", "main", "nosuchtable", dbus.ByteArray(b"a"), path=p, iface=INSTANCE),
                         RECORD_NOT_FOUND)
        self.assertEqual(c.err("Get", "nodb", "d", dbus.ByteArray(b"a"), path=p, iface=INSTANCE), INVALID_PARAMETER)
        rows = c.call("Scan", "main", "d", dbus.ByteArray(b""), dbus.ByteArray(b""), u(0), path=p, iface=INSTANCE)
        self.assertEqual([(bytes(k), bytes(v)) for k, v in rows], [(b"a", b"1"), (b"c", b"3")])
        rows = c.call("Scan", "main", "d", dbus.ByteArray(b"b"), dbus.ByteArray(b""), u(1), path=p, iface=INSTANCE)
        self.assertEqual([(bytes(k), bytes(v)) for k, v in rows], [(b"c", b"3")])
        self.assertEqual(c.err("Commit", ops_array([("x", "main", "d", b"a", b"")]), path=p, iface=INSTANCE),
                         INVALID_PARAMETER)
        self.assertEqual(c.err("Commit", ops_array([("p", "nodb", "d", b"a", b"")]), path=p, iface=INSTANCE),
                         INVALID_PARAMETER)
        # Atomic: a bad op anywhere leaves nothing.
        self.assertEqual(c.err("Commit", ops_array([("p", "main", "d", b"z", b"9"), ("p", "nodb", "d", b"a", b"")]),
                               path=p, iface=INSTANCE), INVALID_PARAMETER)
        self.assertEqual(c.err("Get", "main", "d", dbus.ByteArray(b"z"), path=p, iface=INSTANCE), RECORD_NOT_FOUND)
        self.assertEqual(int(c.iprop("beta", "CommittedTransactions")), n0 + 2)


class Restore(unittest.TestCase):
    def test_restore_from_freeze_info_files(self):
        """A backup that copies exactly the freeze info's files and databases restores every acknowledged commit."""
        import shutil
        with jetsnaptest.Env(config=config()) as env:
            c = Client(env.bus.address)
            fill(c, "alpha", "one", 30, size=3000, prefix=b"a")
            fill(c, "alpha", "two", 5, size=100, prefix=b"b")
            sid = c.prepare(CONTINUE)
            info = info_by_name(c.freeze(sid))
            _, dbs, logdir, files = info["alpha"]
            restored = jetsnaptest.tempfile.mkdtemp(prefix="jetsnap-restore-")
            try:
                src = os.path.join(env.dir, "alpha")
                for f in files + [p for p, _ in dbs]:
                    rel = os.path.relpath(f, src)
                    self.assertFalse(rel.startswith(".."), f)
                    os.makedirs(os.path.dirname(os.path.join(restored, "alpha", rel)), exist_ok=True)
                    shutil.copy2(f, os.path.join(restored, "alpha", rel))
                c.call("Thaw", t(sid), u(0))
                c.call("End", t(sid), u(0))
                # An incremental on top: its log files added to the full backup restore both.
                fill(c, "alpha", "two", 25, size=3000, prefix=b"c")
                sid = c.prepare(CONTINUE | INCREMENTAL | EXPLICIT)
                c.call("PrepareInstance", t(sid), s("alpha"), u(0))
                inc = info_by_name(c.freeze(sid))["alpha"][3]
                self.assertTrue(inc)
                for f in inc:
                    shutil.copy2(f, os.path.join(restored, "alpha", os.path.relpath(f, src)))
                c.call("Thaw", t(sid), u(0))
                c.call("End", t(sid), u(0))
                # Committed after the snapshot: must not appear in the restored image.
                c.commit("alpha", [("p", "one", "t", b"later", b"x")])
                c.close()
                with jetsnaptest.Env(config=lambda d: config()(restored)) as env2:
                    c2 = Client(env2.bus.address)
                    self.assertEqual(str(c2.iprop("alpha", "State")), "running")
                    p = c2.ipath("alpha")
                    for i in range(30):
                        self.assertEqual(bytes(c2.call("Get", "one", "t", dbus.ByteArray(b"a%06d" % i), path=p,
                                                       iface=INSTANCE)), b"v" * 3000)
                    for i in range(5):
                        self.assertEqual(bytes(c2.call("Get", "two", "t", dbus.ByteArray(b"b%06d" % i), path=p,
                                                       iface=INSTANCE)), b"v" * 100)
                    for i in range(25):
                        self.assertEqual(bytes(c2.call("Get", "two", "t", dbus.ByteArray(b"c%06d" % i), path=p,
                                                       iface=INSTANCE)), b"v" * 3000)
                    self.assertEqual(c2.err("Get", "one", "t", dbus.ByteArray(b"later"), path=p, iface=INSTANCE),
                                     RECORD_NOT_FOUND)
                    c2.close()
            finally:
                shutil.rmtree(restored, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
