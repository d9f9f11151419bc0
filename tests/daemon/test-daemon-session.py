#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The ese-semantics.md table over the bus, row by row, against a real
jetsnapd: every call in every state, the error name it returns and the
state it leaves behind, and that nothing stays frozen afterwards."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from busutil import *  # noqa: E402,F401,F403
import jetsnaptest  # noqa: E402

OK = None
ENDED = ""

# call -> (method, args after the id)
CALLS = {
    "PrepareInstance": ("PrepareInstance", lambda: ["default", dbus.UInt32(0)]),
    "Freeze": ("Freeze", lambda: [dbus.UInt32(0)]),
    "GetFreezeInfo": ("GetFreezeInfo", lambda: [dbus.UInt32(0)]),
    "Thaw": ("Thaw", lambda: [dbus.UInt32(0)]),
    "TruncateLog": ("TruncateLog", lambda: [dbus.UInt32(ALL_DATABASES)]),
    "TruncateLogInstance": ("TruncateLogInstance", lambda: ["default", dbus.UInt32(ALL_DATABASES)]),
    "End": ("End", lambda: [dbus.UInt32(0)]),
    "EndAbort": ("End", lambda: [dbus.UInt32(ABORT)]),
    "Abort": ("Abort", lambda: [dbus.UInt32(0)]),
}

# state -> call -> (error, state afterwards); sessions prepared with ContinueAfterThaw.
TABLE = {
    "prepared": {
        "PrepareInstance": (NOT_ALLOWED, "prepared"),     # 'default' is in the session already
        "Freeze": (OK, "frozen"),
        "GetFreezeInfo": (OK, "prepared"),
        "Thaw": (INVALID_SEQUENCE, "prepared"),
        "TruncateLog": (INVALID_SEQUENCE, "prepared"),
        "TruncateLogInstance": (INVALID_SEQUENCE, "prepared"),
        "End": (OK, ENDED),
        "EndAbort": (OK, ENDED),
        "Abort": (OK, ENDED),
    },
    "frozen": {
        "PrepareInstance": (INVALID_SEQUENCE, "frozen"),
        "Freeze": (INVALID_SEQUENCE, "frozen"),
        "GetFreezeInfo": (OK, "frozen"),
        "Thaw": (OK, "thawed"),
        "TruncateLog": (INVALID_SEQUENCE, "frozen"),
        "TruncateLogInstance": (INVALID_SEQUENCE, "frozen"),
        "End": (INVALID_SEQUENCE, "frozen"),
        "EndAbort": (OK, ENDED),
        "Abort": (OK, ENDED),
    },
    "freeze-failed": {
        "PrepareInstance": (INVALID_SEQUENCE, "freeze-failed"),
        "Freeze": (INVALID_SEQUENCE, "freeze-failed"),
        "GetFreezeInfo": (OK, "freeze-failed"),
        "Thaw": (INVALID_SEQUENCE, "freeze-failed"),
        "TruncateLog": (INVALID_SEQUENCE, "freeze-failed"),
        "TruncateLogInstance": (INVALID_SEQUENCE, "freeze-failed"),
        "End": (OK, ENDED),
        "EndAbort": (OK, ENDED),
        "Abort": (OK, ENDED),
    },
    "timed-out": {
        "PrepareInstance": (INVALID_SEQUENCE, "timed-out"),
        "Freeze": (INVALID_SEQUENCE, "timed-out"),
        "GetFreezeInfo": (OK, "timed-out"),
        "Thaw": (TIME_OUT, "timed-out"),
        "TruncateLog": (TIME_OUT, "timed-out"),
        "TruncateLogInstance": (TIME_OUT, "timed-out"),
        "End": (TIME_OUT, ENDED),
        "EndAbort": (OK, ENDED),
        "Abort": (OK, ENDED),
    },
    "thawed": {
        "PrepareInstance": (INVALID_SEQUENCE, "thawed"),
        "Freeze": (INVALID_SEQUENCE, "thawed"),
        "GetFreezeInfo": (OK, "thawed"),
        "Thaw": (INVALID_SEQUENCE, "thawed"),
        "TruncateLog": (OK, "log-truncated"),
        "TruncateLogInstance": (OK, "log-truncated"),
        "End": (OK, ENDED),
        "EndAbort": (OK, ENDED),
        "Abort": (OK, ENDED),
    },
    "log-truncated": {
        "PrepareInstance": (INVALID_SEQUENCE, "log-truncated"),
        "Freeze": (INVALID_SEQUENCE, "log-truncated"),
        "GetFreezeInfo": (OK, "log-truncated"),
        "Thaw": (INVALID_SEQUENCE, "log-truncated"),
        "TruncateLog": (OK, "log-truncated"),
        "TruncateLogInstance": (OK, "log-truncated"),
        "End": (OK, ENDED),
        "EndAbort": (OK, ENDED),
        "Abort": (OK, ENDED),
    },
}

INFO_STATES = {"prepared", "frozen", "thawed", "log-truncated"}


def reach(c, state):
    """A new session in `state`; returns its id."""
    u = dbus.UInt32
    if state == "timed-out":
        sid = c.mgr.PrepareWithOptions(u(CONTINUE), options(TimeoutUSec=dbus.UInt64(0)), timeout=TIMEOUT)
    elif state == "freeze-failed":
        # No full backup was ever recorded in this daemon: an incremental freeze fails.
        sid = c.mgr.Prepare(u(CONTINUE | INCREMENTAL), timeout=TIMEOUT)
    else:
        sid = c.mgr.Prepare(u(CONTINUE), timeout=TIMEOUT)
    if state == "prepared":
        return sid
    err, _ = c.error("Freeze", sid, u(0))
    if state == "freeze-failed":
        assert err == MISSING_FULL_BACKUP, err
        return sid
    assert err is None, err
    if state == "timed-out":
        wait_until(lambda: c.state() == "timed-out", what="timeout")
        return sid
    if state == "frozen":
        return sid
    c.mgr.Thaw(sid, u(0), timeout=TIMEOUT)
    if state == "log-truncated":
        c.mgr.TruncateLog(sid, u(ALL_DATABASES), timeout=TIMEOUT)
    return sid


class SessionTable(unittest.TestCase):
    def run_state(self, state):
        with jetsnaptest.Env() as env:
            c = Client(env.bus.address)
            for call, (want_err, want_state) in TABLE[state].items():
                with self.subTest(state=state, call=call):
                    sid = reach(c, state)
                    self.assertEqual(c.state(), state)
                    method, args = CALLS[call]
                    err, reply = c.error(method, sid, *args())
                    self.assertEqual(err, want_err, f"{call} in {state}: {reply}")
                    if err:
                        self.assertTrue(reply, "error without a message")
                    self.assertEqual(c.state(), want_state)
                    if call == "GetFreezeInfo":
                        self.assertEqual(len(reply) > 0, state in INFO_STATES, reply)
                    self.assertEqual(c.instance_state(), "frozen" if want_state == "frozen" else "running")
                    if want_state == ENDED:
                        self.assertEqual(int(c.prop("ActiveSnapshotId")), 0)
                        self.assertEqual(c.error("Abort", sid, dbus.UInt32(0))[0], INVALID_SNAP_ID)
                    else:
                        # Another Prepare is refused and changes nothing; an unknown id is InvalidSnapId.
                        self.assertEqual(c.error("Prepare", dbus.UInt32(0))[0], INVALID_SEQUENCE)
                        self.assertEqual(c.error(method, dbus.UInt64(sid + 1000), *args())[0], INVALID_SNAP_ID)
                        self.assertEqual(c.state(), want_state)
                        self.assertEqual(c.error("Abort", sid, dbus.UInt32(0))[0], None)
                    self.assertEqual(c.instance_state(), "running")
            c.close()
            self.assertEqual(env.daemon.stop(), 0)

    def test_prepared(self):
        self.run_state("prepared")

    def test_frozen(self):
        self.run_state("frozen")

    def test_freeze_failed(self):
        self.run_state("freeze-failed")

    def test_timed_out(self):
        self.run_state("timed-out")

    def test_thawed(self):
        self.run_state("thawed")

    def test_log_truncated(self):
        self.run_state("log-truncated")


class SessionCalls(unittest.TestCase):
    def setUp(self):
        self.env = jetsnaptest.Env().__enter__()
        self.c = Client(self.env.bus.address)

    def tearDown(self):
        self.c.close()
        self.env.__exit__(None, None, None)

    def test_thaw_without_continue_ends(self):
        c, u = self.c, dbus.UInt32
        sid = c.mgr.Prepare(u(0), timeout=TIMEOUT)
        c.mgr.Freeze(sid, u(0), timeout=TIMEOUT)
        self.assertEqual(c.instance_state(), "frozen")
        c.mgr.Thaw(sid, u(0), timeout=TIMEOUT)
        self.assertEqual(c.state(), ENDED)
        self.assertEqual(c.instance_state(), "running")
        self.assertEqual(c.error("End", sid, u(0))[0], INVALID_SNAP_ID)
        # It ended as End(0): a full backup is recorded.
        gen, when = c.prop("LastFullBackup", path=c.instance_path(), iface=INSTANCE)
        self.assertGreater(int(when), 0)

    def test_timeout_without_continue(self):
        c, u = self.c, dbus.UInt32
        sid = c.mgr.PrepareWithOptions(u(0), options(TimeoutUSec=dbus.UInt64(0)), timeout=TIMEOUT)
        c.mgr.Freeze(sid, u(0), timeout=TIMEOUT)
        wait_until(lambda: c.state() == "timed-out", what="timeout")
        self.assertEqual(c.instance_state(), "running")
        self.assertEqual(c.error("Thaw", sid, u(0))[0], TIME_OUT)
        self.assertEqual(c.state(), ENDED)
        self.assertEqual(c.error("Thaw", sid, u(0))[0], INVALID_SNAP_ID)

    def test_explicit_prepare(self):
        c, u = self.c, dbus.UInt32
        sid = c.mgr.Prepare(u(EXPLICIT | CONTINUE), timeout=TIMEOUT)
        path = "/org/jetsnap1/snapshot/%d" % sid
        self.assertEqual(list(c.prop("Instances", path=path, iface=SNAPSHOT)), [])
        self.assertEqual(c.error("PrepareInstance", sid, "nosuch", u(0))[0], INVALID_PARAMETER)
        self.assertEqual(c.error("PrepareInstance", sid, "default", u(1))[0], INVALID_PARAMETER)
        self.assertEqual(c.error("PrepareInstance", sid, "default", u(0))[0], None)
        self.assertEqual(c.error("PrepareInstance", sid, "default", u(0))[0], NOT_ALLOWED)
        self.assertEqual(list(c.prop("Instances", path=path, iface=SNAPSHOT)), ["default"])
        info = c.mgr.Freeze(sid, u(0), timeout=TIMEOUT)
        self.assertEqual([str(i[1]) for i in info], ["default"])
        c.mgr.Abort(sid, u(0), timeout=TIMEOUT)

    def test_explicit_prepare_empty_freeze(self):
        c, u = self.c, dbus.UInt32
        sid = c.mgr.Prepare(u(EXPLICIT | CONTINUE), timeout=TIMEOUT)
        self.assertEqual(len(c.mgr.Freeze(sid, u(0), timeout=TIMEOUT)), 0)
        self.assertEqual(c.instance_state(), "running")
        c.mgr.End(sid, u(ABORT), timeout=TIMEOUT)

    def test_snapshot_object(self):
        c, u = self.c, dbus.UInt32
        sid = c.mgr.PrepareWithOptions(u(CONTINUE), options(TimeoutUSec=dbus.UInt64(30000000)), timeout=TIMEOUT)
        path = "/org/jetsnap1/snapshot/%d" % sid
        props = c.call("GetAll", SNAPSHOT, path=path, iface=PROPS)
        self.assertEqual(int(props["Id"]), sid)
        self.assertEqual(str(props["State"]), "prepared")
        self.assertEqual(int(props["Flags"]), CONTINUE)
        self.assertEqual(str(props["Owner"]), c.bus.get_unique_name())
        self.assertEqual(list(props["Instances"]), ["default"])
        self.assertEqual(int(props["TimeoutUSec"]), 30000000)
        self.assertGreater(int(props["PreparedUSec"]), 0)
        self.assertEqual(int(props["FrozenUSec"]), 0)
        self.assertEqual(int(c.prop("ActiveSnapshotId")), sid)
        objs = c.call("GetManagedObjects", path="/org/jetsnap1", iface="org.freedesktop.DBus.ObjectManager")
        self.assertIn(path, objs)
        c.mgr.Freeze(sid, u(0), timeout=TIMEOUT)
        self.assertGreater(int(c.prop("FrozenUSec", path=path, iface=SNAPSHOT)), 0)
        c.mgr.Abort(sid, u(0), timeout=TIMEOUT)
        objs = c.call("GetManagedObjects", path="/org/jetsnap1", iface="org.freedesktop.DBus.ObjectManager")
        self.assertNotIn(path, objs)
        self.assertEqual(c.error("Get", SNAPSHOT, "Id", path=path, iface=PROPS)[0] is not None, True)

    def test_properties_changed(self):
        c, u = self.c, dbus.UInt32
        seen = []
        c.bus.add_signal_receiver(lambda iface, changed, inv, path=None: seen.append((str(path), dict(changed), list(inv))),
                                  signal_name="PropertiesChanged", dbus_interface=PROPS, path_keyword="path")
        sid = c.mgr.Prepare(u(CONTINUE), timeout=TIMEOUT)
        c.mgr.Freeze(sid, u(0), timeout=TIMEOUT)
        c.mgr.Thaw(sid, u(0), timeout=TIMEOUT)
        c.mgr.End(sid, u(0), timeout=TIMEOUT)
        wait_until(lambda: (pump(), any(p == "/org/jetsnap1" and int(ch.get("ActiveSnapshotId", -1)) == 0
                                        for p, ch, _ in seen))[1], what="PropertiesChanged")
        states = [str(ch["ActiveSnapshotState"]) for p, ch, _ in seen
                  if p == "/org/jetsnap1" and "ActiveSnapshotState" in ch]
        for s in ("prepared", "frozen", "thawed"):
            self.assertIn(s, states)
        inst = [str(ch["State"]) for p, ch, _ in seen if p == c.instance_path() and "State" in ch]
        self.assertIn("frozen", inst)
        self.assertIn("running", inst)

    def test_freeze_info(self):
        c, u = self.c, dbus.UInt32
        c.commit([("p", "main", "t", b"k%d" % i, b"v" * 1000) for i in range(50)])
        sid = c.mgr.Prepare(u(CONTINUE), timeout=TIMEOUT)
        info = c.mgr.Freeze(sid, u(0), timeout=TIMEOUT)
        self.assertEqual(info, c.mgr.GetFreezeInfo(sid, u(0), timeout=TIMEOUT))
        self.assertEqual(len(info), 1)
        iid, name, dbs, logdir, files = info[0]
        self.assertEqual(int(iid), int(c.prop("Id", path=c.instance_path(), iface=INSTANCE)))
        self.assertEqual(name, "default")
        self.assertEqual([str(d[1]) for d in dbs], ["main"])
        state = self.env.daemon.state_dir
        self.assertTrue(all(os.path.exists(str(d[0])) for d in dbs))
        self.assertTrue(str(logdir).startswith(state), logdir)
        self.assertTrue(any(str(f).endswith("jet.chk") for f in files), files)
        logs = [str(f) for f in files if str(f).endswith(".log")]
        self.assertGreater(len(logs), 0)
        for f in files:
            self.assertTrue(os.path.exists(str(f)), f)
        # Closed generations only: no jet.log during the freeze.
        self.assertFalse(any(os.path.basename(f) == "jet.log" for f in logs))
        c.mgr.Thaw(sid, u(0), timeout=TIMEOUT)
        c.mgr.TruncateLog(sid, u(ALL_DATABASES), timeout=TIMEOUT)
        c.mgr.End(sid, u(0), timeout=TIMEOUT)
        full = c.prop("LastFullBackup", path=c.instance_path(), iface=INSTANCE)
        self.assertGreater(int(full[1]), 0)

        # An incremental after the full backup works and lists only log generations.
        sid = c.mgr.Prepare(u(INCREMENTAL | CONTINUE), timeout=TIMEOUT)
        info = c.mgr.Freeze(sid, u(0), timeout=TIMEOUT)
        files = [str(f) for f in info[0][4]]
        self.assertFalse(any(f.endswith("jet.chk") for f in files), files)
        self.assertTrue(all(f.endswith(".log") for f in files), files)
        c.mgr.Thaw(sid, u(0), timeout=TIMEOUT)
        c.mgr.End(sid, u(0), timeout=TIMEOUT)
        inc = c.prop("LastIncrementalBackup", path=c.instance_path(), iface=INSTANCE)
        self.assertGreater(int(inc[1]), 0)

    def test_copy_snapshot_keeps_logs(self):
        c, u = self.c, dbus.UInt32
        sid = c.mgr.Prepare(u(COPY | CONTINUE), timeout=TIMEOUT)
        c.mgr.Freeze(sid, u(0), timeout=TIMEOUT)
        c.mgr.Thaw(sid, u(0), timeout=TIMEOUT)
        self.assertEqual(c.error("TruncateLog", sid, u(ALL_DATABASES))[0], INVALID_SEQUENCE)
        self.assertEqual(c.state(), "thawed")
        c.mgr.End(sid, u(0), timeout=TIMEOUT)
        # A copy is no base for incrementals.
        sid = c.mgr.Prepare(u(INCREMENTAL | CONTINUE), timeout=TIMEOUT)
        self.assertEqual(c.error("Freeze", sid, u(0))[0], MISSING_FULL_BACKUP)
        self.assertEqual(c.state(), "freeze-failed")
        self.assertEqual(c.instance_state(), "running")
        c.mgr.End(sid, u(0), timeout=TIMEOUT)


if __name__ == "__main__":
    unittest.main(verbosity=2)
