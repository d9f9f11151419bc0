#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Acceptance: the bus contract of design.md §4 and the session table of
ese-semantics.md, literally: names, signatures, property types, object
paths, the error of every call in every state, grbits before ids, ids."""

import os
import sys
import unittest
import xml.etree.ElementTree as ET

import dbus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acceptance import *  # noqa: E402,F401,F403
import jetsnaptest  # noqa: E402

MANAGER_METHODS = {
    "Prepare": ("u", "t"),
    "PrepareWithOptions": ("ua{sv}", "t"),
    "PrepareInstance": ("tsu", ""),
    "Freeze": ("tu", "a(tsa(ss)sas)"),
    "GetFreezeInfo": ("tu", "a(tsa(ss)sas)"),
    "Thaw": ("tu", ""),
    "TruncateLog": ("tu", ""),
    "TruncateLogInstance": ("tsu", ""),
    "Abort": ("tu", ""),
    "End": ("tu", ""),
    "ListInstances": ("", "a(so)"),
}
MANAGER_PROPS = {"Version": "s", "FreezeTimeoutUSec": "t", "ActiveSnapshotId": "t", "ActiveSnapshotState": "s"}
SNAPSHOT_PROPS = {"Id": "t", "State": "s", "Flags": "u", "Owner": "s", "Instances": "as", "TimeoutUSec": "t",
                  "PreparedUSec": "t", "FrozenUSec": "t"}
INSTANCE_PROPS = {"Name": "s", "Id": "t", "State": "s", "Path": "s", "Databases": "a(ss)", "CurrentGeneration": "t",
                  "CheckpointGeneration": "t", "LastFullBackup": "(tt)", "LastIncrementalBackup": "(tt)",
                  "CircularLogging": "b", "CommittedTransactions": "t"}
INSTANCE_METHODS = {"Commit": ("a(yssayay)", "t"), "Get": ("ssay", "ay"), "Scan": ("ssayayu", "a(ayay)")}
STATES = {"prepared", "frozen", "freeze-failed", "timed-out", "thawed", "log-truncated"}
CALLS = ["PrepareInstance", "Freeze", "GetFreezeInfo", "Thaw", "TruncateLog", "TruncateLogInstance", "End",
         "EndAbort", "Abort"]


def introspect(c, path):
    xml = c.call("Introspect", path=path, iface="org.freedesktop.DBus.Introspectable")
    return ET.fromstring(str(xml))


def members(root, iface):
    node = [i for i in root.findall("interface") if i.get("name") == iface]
    assert len(node) == 1, iface
    methods = {}
    for m in node[0].findall("method"):
        ins = "".join(a.get("type") for a in m.findall("arg") if a.get("direction", "in") == "in")
        outs = "".join(a.get("type") for a in m.findall("arg") if a.get("direction") == "out")
        methods[m.get("name")] = (ins, outs)
    props = {p.get("name"): p.get("type") for p in node[0].findall("property")}
    return methods, props


class Env(DaemonTestCase):
    def call_in_state(self, sid, call):
        """Error name (or None) of `call` on session sid; args valid apart from the state."""
        c = self.c
        if call == "PrepareInstance":
            return c.err("PrepareInstance", t(sid), s("beta"), u(0))
        if call == "TruncateLogInstance":
            # One of the session's own: "not in the session" is InvalidParameter whatever the state.
            name = c.prop("Instances", path="/org/jetsnap1/snapshot/%d" % sid, iface=SNAPSHOT)[0]
            return c.err("TruncateLogInstance", t(sid), s(name), u(ALL_DATABASES))
        if call == "TruncateLog":
            return c.err("TruncateLog", t(sid), u(ALL_DATABASES))
        if call == "EndAbort":
            return c.err("End", t(sid), u(ABORT))
        return c.err(call, t(sid), u(0))

    def reach(self, state, flags=CONTINUE, explicit=False):
        """A session in `state`; returns its id."""
        c = self.c
        if state == "prepared":
            return c.prepare(flags | (EXPLICIT if explicit else 0))
        if state == "freeze-failed":
            # Incremental with circular logging: InvalidBackup, whatever was recorded before.
            sid = c.prepare(flags | INCREMENTAL | EXPLICIT)
            c.call("PrepareInstance", t(sid), s("gamma"), u(0))
            self.assertEqual(c.err("Freeze", t(sid), u(0)), INVALID_BACKUP)
            return sid
        if state == "timed-out":
            sid = int(c.call("PrepareWithOptions", u(flags), dbus.Dictionary({"TimeoutUSec": t(0)}, signature="sv")))
            c.freeze(sid)
            wait_until(lambda: str(c.prop("ActiveSnapshotState")) == "timed-out", "timed-out")
            return sid
        sid = c.prepare(flags)
        c.freeze(sid)
        if state == "frozen":
            return sid
        c.call("Thaw", t(sid), u(0))
        if state == "thawed":
            return sid
        c.call("TruncateLog", t(sid), u(ALL_DATABASES))
        assert state == "log-truncated"
        return sid


class Interface(Env):
    def test_manager_introspection(self):
        methods, props = members(introspect(self.c, ROOT), MANAGER)
        self.assertEqual(methods, MANAGER_METHODS)
        self.assertEqual(props, MANAGER_PROPS)

    def test_instance_objects(self):
        inst = self.c.instances()
        self.assertEqual(inst, {"alpha": "/org/jetsnap1/instance/alpha", "beta": "/org/jetsnap1/instance/beta",
                                "gamma": "/org/jetsnap1/instance/gamma"})
        methods, props = members(introspect(self.c, inst["alpha"]), INSTANCE)
        self.assertEqual(methods, INSTANCE_METHODS)
        self.assertEqual(props, INSTANCE_PROPS)
        p = self.c.props(inst["alpha"], INSTANCE)
        self.assertEqual(str(p["Name"]), "alpha")
        self.assertEqual(str(p["State"]), "running")
        self.assertEqual(str(p["Path"]), os.path.join(self.dir, "alpha"))
        # (file path, display name), as design.md §4 orders the databases of the freeze info.
        self.assertEqual([(str(a), str(b)) for a, b in p["Databases"]],
                         [(os.path.join(self.dir, "alpha/one.jdb"), "one"),
                          (os.path.join(self.dir, "alpha/two.jdb"), "two")])
        self.assertIs(type(p["CircularLogging"]), dbus.Boolean)
        self.assertFalse(p["CircularLogging"])
        self.assertGreaterEqual(int(p["CurrentGeneration"]), int(p["CheckpointGeneration"]))
        self.assertGreaterEqual(int(p["CheckpointGeneration"]), 1)
        self.assertEqual(len(p["LastFullBackup"]), 2)
        ids = {int(self.c.iprop(n, "Id")) for n in inst}
        self.assertEqual(len(ids), 3)
        self.assertNotIn(0, ids)

    def test_snapshot_object(self):
        c = self.c
        sid = int(c.call("PrepareWithOptions", u(CONTINUE), dbus.Dictionary({"TimeoutUSec": t(30000000)},
                                                                             signature="sv")))
        path = "/org/jetsnap1/snapshot/%d" % sid
        methods, props = members(introspect(c, path), SNAPSHOT)
        self.assertEqual(props, SNAPSHOT_PROPS)
        p = c.props(path, SNAPSHOT)
        self.assertEqual(int(p["Id"]), sid)
        self.assertEqual(str(p["State"]), "prepared")
        self.assertEqual(int(p["Flags"]), CONTINUE)
        self.assertEqual(str(p["Owner"]), c.bus.get_unique_name())
        self.assertEqual(sorted(map(str, p["Instances"])), ["alpha", "beta", "gamma"])
        self.assertEqual(int(p["TimeoutUSec"]), 30000000)
        self.assertGreater(int(p["PreparedUSec"]), 1600000000 * 10**6)
        self.assertEqual(int(p["FrozenUSec"]), 0)
        self.assertEqual(int(c.prop("ActiveSnapshotId")), sid)
        self.assertEqual(str(c.prop("ActiveSnapshotState")), "prepared")
        c.freeze(sid)
        self.assertEqual(str(c.prop("State", path=path, iface=SNAPSHOT)), "frozen")
        self.assertGreaterEqual(int(c.prop("FrozenUSec", path=path, iface=SNAPSHOT)), int(p["PreparedUSec"]))
        self.assertEqual(str(c.iprop("alpha", "State")), "frozen")
        c.call("End", t(sid), u(ABORT))
        self.assertEqual(c.err("Get", SNAPSHOT, "Id", path=path, iface=PROPS) is not None, True)
        self.assertEqual(int(c.prop("ActiveSnapshotId")), 0)
        self.assertEqual(str(c.iprop("alpha", "State")), "running")

    def test_manager_properties(self):
        p = self.c.props(ROOT, MANAGER)
        self.assertEqual(int(p["FreezeTimeoutUSec"]), 60 * 10**6)
        self.assertTrue(str(p["Version"]))
        self.assertEqual(int(p["ActiveSnapshotId"]), 0)
        # Without TimeoutUSec a session takes the daemon's freeze timeout.
        sid = self.c.prepare()
        self.assertEqual(int(self.c.prop("TimeoutUSec", path="/org/jetsnap1/snapshot/%d" % sid, iface=SNAPSHOT)),
                         60 * 10**6)
        self.c.call("End", t(sid), u(0))

    def test_busctl(self):
        """Every method with plain busctl, as a backup script would (design.md §4: grbits unchanged)."""
        a = self.env.bus.address

        def ok(*args):
            r = busctl(a, "call", NAME, *args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            return r.stdout.split()

        def fails(message, *args):
            r = busctl(a, "call", NAME, *args)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(message, r.stderr)

        out = ok(ROOT, MANAGER, "Prepare", "u", str(EXPLICIT | CONTINUE))
        self.assertEqual(out[0], "t")
        sid = out[1]
        ok(ROOT, MANAGER, "PrepareInstance", "tsu", sid, "alpha", "0")
        fails("already in snapshot " + sid, ROOT, MANAGER, "PrepareInstance", "tsu", sid, "alpha", "0")
        out = ok(ROOT, MANAGER, "Freeze", "tu", sid, "0")
        self.assertEqual(out[:4], ["a(tsa(ss)sas)", "1", out[2], '"alpha"'])
        out = ok(ROOT, MANAGER, "GetFreezeInfo", "tu", sid, "0")
        self.assertEqual(out[:2], ["a(tsa(ss)sas)", "1"])
        ok(ROOT, MANAGER, "Thaw", "tu", sid, "0")
        ok(ROOT, MANAGER, "TruncateLog", "tu", sid, "1")
        ok(ROOT, MANAGER, "TruncateLogInstance", "tsu", sid, "alpha", "1")
        ok(ROOT, MANAGER, "End", "tu", sid, "0")
        fails("id " + sid, ROOT, MANAGER, "End", "tu", sid, "0")

        # Without ContinueAfterThaw, Thaw ends the session.
        sid = ok(ROOT, MANAGER, "Prepare", "u", "0")[1]
        ok(ROOT, MANAGER, "Freeze", "tu", sid, "0")
        ok(ROOT, MANAGER, "Thaw", "tu", sid, "0")
        fails("no snapshot with id " + sid, ROOT, MANAGER, "End", "tu", sid, "0")

        sid = ok(ROOT, MANAGER, "PrepareWithOptions", "ua{sv}", "4", "2", "TimeoutUSec", "t", "5000000",
                 "BindToCaller", "b", "false")[1]
        r = busctl(a, "get-property", NAME, "/org/jetsnap1/snapshot/" + sid, SNAPSHOT, "TimeoutUSec")
        self.assertEqual(r.stdout.strip(), "t 5000000")
        ok(ROOT, MANAGER, "Abort", "tu", sid, "0")

        out = ok(ROOT, MANAGER, "ListInstances")
        self.assertEqual(out[:2], ["a(so)", "3"])
        r = busctl(a, "get-property", NAME, ROOT, MANAGER, "ActiveSnapshotId")
        self.assertEqual(r.stdout.strip(), "t 0")
        ipath = "/org/jetsnap1/instance/alpha"
        out = ok(ipath, INSTANCE, "Commit", "a(yssayay)", "1", str(ord("p")), "one", "bc", "1", "65", "1", "66")
        self.assertEqual(out[0], "t")
        self.assertEqual(ok(ipath, INSTANCE, "Get", "ssay", "one", "bc", "1", "65"), ["ay", "1", "66"])
        self.assertEqual(ok(ipath, INSTANCE, "Scan", "ssayayu", "one", "bc", "0", "0", "10"),
                         ["a(ayay)", "1", "1", "65", "1", "66"])
        fails("", ipath, INSTANCE, "Get", "ssay", "one", "bc", "1", "67")
        r = busctl(a, "tree", NAME)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("/org/jetsnap1/instance/beta", r.stdout)


class Grbits(Env):
    def test_argument_errors_before_id(self):
        c = self.c
        bogus = t(987654321)
        self.assertEqual(c.err("Prepare", u(0x10)), INVALID_PARAMETER)
        self.assertEqual(c.err("Prepare", u(0x80000000)), INVALID_PARAMETER)
        for m in ("Freeze", "Thaw", "Abort", "GetFreezeInfo"):
            for bit in (0x1, 0x2, 0x4, 0x8, 0x100):
                self.assertEqual(c.err(m, bogus, u(bit)), INVALID_PARAMETER, (m, bit))
        for bit in (0x2, 0x4, 0x80):
            self.assertEqual(c.err("TruncateLog", bogus, u(bit)), INVALID_PARAMETER)
            self.assertEqual(c.err("TruncateLogInstance", bogus, s("alpha"), u(bit)), INVALID_PARAMETER)
            self.assertEqual(c.err("End", bogus, u(bit)), INVALID_PARAMETER)
        self.assertEqual(c.err("PrepareInstance", bogus, s("alpha"), u(1)), INVALID_PARAMETER)
        self.assertEqual(c.err("PrepareInstance", bogus, s("nosuch"), u(0)), INVALID_PARAMETER)
        # Valid arguments, unknown id.
        for m in ("Freeze", "Thaw", "Abort", "GetFreezeInfo", "TruncateLog", "End"):
            self.assertEqual(c.err(m, bogus, u(0)), INVALID_SNAP_ID, m)
            self.assertEqual(c.err(m, t(0), u(0)), INVALID_SNAP_ID, m)
        self.assertEqual(c.err("End", bogus, u(ABORT)), INVALID_SNAP_ID)
        self.assertEqual(c.err("TruncateLog", bogus, u(ALL_DATABASES)), INVALID_SNAP_ID)
        self.assertEqual(c.err("PrepareInstance", bogus, s("alpha"), u(0)), INVALID_SNAP_ID)
        self.assertEqual(c.err("TruncateLogInstance", bogus, s("alpha"), u(1)), INVALID_SNAP_ID)
        self.assertEqual(c.err("PrepareWithOptions", u(0), dbus.Dictionary({"Bogus": t(1)}, signature="sv")),
                         INVALID_PARAMETER)
        self.assertEqual(c.err("PrepareWithOptions", u(0), dbus.Dictionary({"TimeoutUSec": u(1)}, signature="sv")),
                         INVALID_PARAMETER)
        self.assertEqual(int(c.prop("ActiveSnapshotId")), 0)

    def test_bad_grbits_leave_session_alone(self):
        c = self.c
        sid = self.reach("frozen")
        for m in ("Freeze", "Thaw", "Abort", "GetFreezeInfo"):
            self.assertEqual(c.err(m, t(sid), u(0x2)), INVALID_PARAMETER)
        self.assertEqual(c.err("End", t(sid), u(0x2)), INVALID_PARAMETER)
        self.assertEqual(str(c.prop("ActiveSnapshotState")), "frozen")
        self.assertEqual(str(c.iprop("alpha", "State")), "frozen")


class Sessions(Env):
    def test_ids(self):
        c = self.c
        first = c.prepare()
        self.assertGreaterEqual(first, 1)
        c.call("End", t(first), u(0))
        seen = [first]
        for _ in range(5):
            sid = c.prepare(CONTINUE)
            c.call("Abort", t(sid), u(0))
            seen.append(sid)
        self.assertEqual(seen, sorted(set(seen)))
        for sid in seen:
            self.assertEqual(c.err("End", t(sid), u(0)), INVALID_SNAP_ID)

    def test_one_session_at_a_time(self):
        c = self.c
        for state in ("prepared", "frozen", "thawed"):
            sid = self.reach(state)
            self.assertEqual(c.err("Prepare", u(0)), INVALID_SEQUENCE, state)
            self.assertEqual(c.err("PrepareWithOptions", u(0), dbus.Dictionary({}, signature="sv")),
                             INVALID_SEQUENCE)
            self.assertEqual(int(c.prop("ActiveSnapshotId")), sid)
            self.assertEqual(str(c.prop("ActiveSnapshotState")), state)
            c.call("Abort", t(sid), u(0))

    def test_explicit_prepare(self):
        c = self.c
        sid = c.prepare(EXPLICIT | CONTINUE)
        path = "/org/jetsnap1/snapshot/%d" % sid
        self.assertEqual(list(c.prop("Instances", path=path, iface=SNAPSHOT)), [])
        c.call("PrepareInstance", t(sid), s("beta"), u(0))
        self.assertEqual(c.err("PrepareInstance", t(sid), s("beta"), u(0)), NOT_ALLOWED)
        self.assertEqual(c.err("PrepareInstance", t(sid), s("nosuch"), u(0)), INVALID_PARAMETER)
        self.assertEqual(list(map(str, c.prop("Instances", path=path, iface=SNAPSHOT))), ["beta"])
        info = c.freeze(sid)
        self.assertEqual([str(i[1]) for i in info], ["beta"])
        self.assertEqual(str(c.iprop("alpha", "State")), "running")
        self.assertEqual(str(c.iprop("beta", "State")), "frozen")
        # Not in the session: TruncateLogInstance says InvalidParameter.
        c.call("Thaw", t(sid), u(0))
        self.assertEqual(c.err("TruncateLogInstance", t(sid), s("alpha"), u(1)), INVALID_PARAMETER)
        self.assertEqual(c.err("TruncateLogInstance", t(sid), s("nosuch"), u(1)), INVALID_PARAMETER)
        c.call("TruncateLogInstance", t(sid), s("beta"), u(1))
        c.call("End", t(sid), u(0))

    def test_implicit_prepare_instance(self):
        """Without ExplicitPrepare every running instance is in already: NotAllowed."""
        c = self.c
        sid = c.prepare()
        self.assertEqual(c.err("PrepareInstance", t(sid), s("alpha"), u(0)), NOT_ALLOWED)
        c.call("End", t(sid), u(0))

    def test_state_table(self):
        """Every call in every state, from ese-semantics.md "States and calls" (all with ContinueAfterThaw)."""
        expect = {
            "prepared": dict(PrepareInstance=NOT_ALLOWED, Freeze=None, GetFreezeInfo=None, Thaw=INVALID_SEQUENCE,
                             TruncateLog=INVALID_SEQUENCE, TruncateLogInstance=INVALID_SEQUENCE, End=None,
                             EndAbort=None, Abort=None),
            "frozen": dict(PrepareInstance=INVALID_SEQUENCE, Freeze=INVALID_SEQUENCE, GetFreezeInfo=None,
                           Thaw=None, TruncateLog=INVALID_SEQUENCE, TruncateLogInstance=INVALID_SEQUENCE,
                           End=INVALID_SEQUENCE, EndAbort=None, Abort=None),
            "freeze-failed": dict(PrepareInstance=INVALID_SEQUENCE, Freeze=INVALID_SEQUENCE, GetFreezeInfo=None,
                                  Thaw=INVALID_SEQUENCE, TruncateLog=INVALID_SEQUENCE,
                                  TruncateLogInstance=INVALID_SEQUENCE, End=None, EndAbort=None, Abort=None),
            "timed-out": dict(PrepareInstance=INVALID_SEQUENCE, Freeze=INVALID_SEQUENCE, GetFreezeInfo=None,
                              Thaw=TIME_OUT, TruncateLog=TIME_OUT, TruncateLogInstance=TIME_OUT, End=TIME_OUT,
                              EndAbort=None, Abort=None),
            "thawed": dict(PrepareInstance=INVALID_SEQUENCE, Freeze=INVALID_SEQUENCE, GetFreezeInfo=None,
                           Thaw=INVALID_SEQUENCE, TruncateLog=None, TruncateLogInstance=None, End=None,
                           EndAbort=None, Abort=None),
            "log-truncated": dict(PrepareInstance=INVALID_SEQUENCE, Freeze=INVALID_SEQUENCE, GetFreezeInfo=None,
                                  Thaw=INVALID_SEQUENCE, TruncateLog=None, TruncateLogInstance=None, End=None,
                                  EndAbort=None, Abort=None),
        }
        ends = {"End", "EndAbort", "Abort"}
        c = self.c
        for state, row in expect.items():
            for call in CALLS:
                sid = self.reach(state)
                got = self.call_in_state(sid, call)
                self.assertEqual(got, row[call], (state, call))
                now = int(c.prop("ActiveSnapshotId"))
                if call in ends and not (state == "frozen" and call == "End"):
                    # Ended (timed-out End(0) too: "-2402 and ends").
                    self.assertEqual(now, 0, (state, call))
                    self.assertEqual(c.err("GetFreezeInfo", t(sid), u(0)), INVALID_SNAP_ID)
                    continue
                self.assertEqual(now, sid, (state, call))
                after = str(c.prop("ActiveSnapshotState"))
                if got is not None or call == "GetFreezeInfo":
                    self.assertEqual(after, state, (state, call))   # an illegal call changes nothing
                if state == "timed-out" and call == "Thaw":
                    pass
                c.call("Abort", t(sid), u(0))
                for name in ("alpha", "beta"):
                    self.assertEqual(str(c.iprop(name, "State")), "running", (state, call))

    def test_get_freeze_info_per_state(self):
        c = self.c
        for state, nonempty in (("prepared", True), ("frozen", True), ("freeze-failed", False),
                                ("timed-out", False), ("thawed", True), ("log-truncated", True)):
            sid = self.reach(state)
            info = c.call("GetFreezeInfo", t(sid), u(0))
            self.assertEqual(len(info) > 0, nonempty, state)
            c.call("Abort", t(sid), u(0))

    def test_thaw_without_continue_ends(self):
        c = self.c
        sid = self.reach("frozen", flags=0)
        c.call("Thaw", t(sid), u(0))
        self.assertEqual(int(c.prop("ActiveSnapshotId")), 0)
        self.assertEqual(c.err("End", t(sid), u(0)), INVALID_SNAP_ID)
        self.assertEqual(str(c.iprop("alpha", "State")), "running")
        # It ended as End(0): a full backup is recorded.
        self.assertGreater(int(c.iprop("alpha", "LastFullBackup")[1]), 0)

    def test_timeout_without_continue_thaw_ends(self):
        c = self.c
        sid = self.reach("timed-out", flags=0)
        self.assertEqual(str(c.iprop("alpha", "State")), "running")
        self.assertEqual(c.err("Thaw", t(sid), u(0)), TIME_OUT)
        self.assertEqual(int(c.prop("ActiveSnapshotId")), 0)
        self.assertEqual(c.err("Thaw", t(sid), u(0)), INVALID_SNAP_ID)

    def test_timeout_end(self):
        c = self.c
        before = tuple(int(x) for x in c.iprop("beta", "LastFullBackup"))
        sid = self.reach("timed-out")
        self.assertEqual(c.err("Thaw", t(sid), u(0)), TIME_OUT)
        self.assertEqual(int(c.prop("ActiveSnapshotId")), sid)      # ContinueAfterThaw: still there
        self.assertEqual(c.err("End", t(sid), u(0)), TIME_OUT)
        self.assertEqual(int(c.prop("ActiveSnapshotId")), 0)
        self.assertEqual(tuple(int(x) for x in c.iprop("beta", "LastFullBackup")), before)

    def test_copy_cannot_truncate(self):
        c = self.c
        sid = self.reach("thawed", flags=CONTINUE | COPY)
        self.assertEqual(c.err("TruncateLog", t(sid), u(ALL_DATABASES)), INVALID_SEQUENCE)
        self.assertEqual(c.err("TruncateLog", t(sid), u(0)), INVALID_SEQUENCE)
        self.assertEqual(c.err("TruncateLogInstance", t(sid), s("alpha"), u(1)), INVALID_SEQUENCE)
        self.assertEqual(str(c.prop("ActiveSnapshotState")), "thawed")
        c.call("End", t(sid), u(0))

    def test_errors_have_messages(self):
        try:
            self.c.call("End", t(123456789), u(0))
            self.fail("End of an unknown id succeeded")
        except dbus.exceptions.DBusException as e:
            self.assertIn("123456789", e.get_dbus_message())


class Restart(unittest.TestCase):
    def test_ids_start_at_one_and_survive_restart(self):
        with jetsnaptest.Env(config=config()) as env:
            c = Client(env.bus.address)
            first = c.prepare()
            self.assertEqual(first, 1)
            c.call("End", t(first), u(0))
            second = c.prepare(CONTINUE)
            c.freeze(second)
            c.close()
            env.daemon.restart()      # SIGKILL while frozen
            c = Client(env.bus.address)
            self.assertEqual(int(c.prop("ActiveSnapshotId")), 0)
            self.assertEqual(c.err("Thaw", t(second), u(0)), INVALID_SNAP_ID)
            third = c.prepare()
            self.assertGreater(third, second)
            c.call("Abort", t(third), u(0))
            env.daemon.stop()
            env.daemon.start()
            fourth = c.prepare()
            self.assertGreater(fourth, third)
            c.close()


class FailedInstance(unittest.TestCase):
    def test_not_running_instance(self):
        """ese-semantics.md: left out silently without ExplicitPrepare; PrepareInstance says NotAllowed."""
        with jetsnaptest.Env(config=config()) as env:
            c = Client(env.bus.address)
            c.commit("beta", [("p", "main", "t", b"k", b"v")])
            c.close()
            env.daemon.stop()
            with open(os.path.join(env.dir, "beta", "jet.chk"), "r+b") as f:
                f.write(b"\xa5" * max(os.fstat(f.fileno()).st_size, 64))
            env.daemon.start()
            c = Client(env.bus.address)
            self.assertEqual(str(c.iprop("beta", "State")), "failed")
            self.assertEqual(str(c.iprop("alpha", "State")), "running")
            sid = c.prepare(EXPLICIT | CONTINUE)
            self.assertEqual(c.err("PrepareInstance", t(sid), s("beta"), u(0)), NOT_ALLOWED)
            c.call("PrepareInstance", t(sid), s("alpha"), u(0))
            c.call("Abort", t(sid), u(0))
            sid = c.prepare(CONTINUE)
            path = "/org/jetsnap1/snapshot/%d" % sid
            self.assertEqual(sorted(map(str, c.prop("Instances", path=path, iface=SNAPSHOT))), ["alpha", "gamma"])
            info = c.freeze(sid)
            self.assertEqual(sorted(str(i[1]) for i in info), ["alpha", "gamma"])
            c.call("Thaw", t(sid), u(0))
            self.assertEqual(c.err("TruncateLogInstance", t(sid), s("beta"), u(1)), INVALID_PARAMETER)
            c.call("End", t(sid), u(0))
            self.assertIsNotNone(c.err("Get", "main", "t", dbus.ByteArray(b"k"), path=c.ipath("beta"),
                                       iface=INSTANCE))
            self.assertIsNone(env.daemon.proc.poll())
            c.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
