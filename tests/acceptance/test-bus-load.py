#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Acceptance under load and abuse: 50 full snapshot cycles while 8 writers
commit, every method with a wrong signature, SIGKILL under load, and no
acknowledged commit lost across any of it."""

import os
import signal
import sys
import threading
import unittest

import dbus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acceptance import *  # noqa: E402,F401,F403
import jetsnaptest  # noqa: E402

WRITERS = 8
CYCLES = 50

# Every method of the contract with its signature.
METHODS = [
    (ROOT, MANAGER, "Prepare", "u"),
    (ROOT, MANAGER, "PrepareWithOptions", "ua{sv}"),
    (ROOT, MANAGER, "PrepareInstance", "tsu"),
    (ROOT, MANAGER, "Freeze", "tu"),
    (ROOT, MANAGER, "GetFreezeInfo", "tu"),
    (ROOT, MANAGER, "Thaw", "tu"),
    (ROOT, MANAGER, "TruncateLog", "tu"),
    (ROOT, MANAGER, "TruncateLogInstance", "tsu"),
    (ROOT, MANAGER, "Abort", "tu"),
    (ROOT, MANAGER, "End", "tu"),
    (ROOT, MANAGER, "ListInstances", ""),
    ("/org/jetsnap1/instance/beta", INSTANCE, "Commit", "a(yssayay)"),
    ("/org/jetsnap1/instance/beta", INSTANCE, "Get", "ssay"),
    ("/org/jetsnap1/instance/beta", INSTANCE, "Scan", "ssayayu"),
]

# Wrong bodies: (signature, args).
WRONG = [
    ("", ()),
    ("s", ("x",)),
    ("ss", ("a", "b")),
    ("tuu", (1, 2, 3)),
    ("ay", ([1, 2, 3],)),
    ("a(yss)", ([(112, "main", "t")],)),
    ("v", (dbus.UInt32(1, variant_level=1),)),
    ("tsut", (1, "beta", 0, 5)),
    ("ua{ss}", (0, {"TimeoutUSec": "1"})),
]


class Writer(threading.Thread):
    """Commits as fast as the daemon acknowledges; remembers what was acknowledged."""

    def __init__(self, address, n):
        super().__init__(daemon=True)
        self.address, self.n = address, n
        self.acked = []
        self.errors = []
        self.stop = threading.Event()

    def run(self):
        c = Client(self.address)
        i = 0
        try:
            while not self.stop.is_set():
                key = b"w%d-%06d" % (self.n, i)
                try:
                    c.commit("alpha", [("p", "one", "load", key, b"x" * 200), ("p", "two", "load", key, b"y")])
                    self.acked.append(key)
                except dbus.exceptions.DBusException as e:
                    self.errors.append(e.get_dbus_name())
                    break
                i += 1
        finally:
            c.close()


class Load(unittest.TestCase):
    def test_cycles_under_writers_then_sigkill(self):
        with jetsnaptest.Env(config=config()) as env:
            c = Client(env.bus.address)
            writers = [Writer(env.bus.address, n) for n in range(WRITERS)]
            for w in writers:
                w.start()
            last = 0
            for k in range(CYCLES):
                sid = c.prepare(0 if k % 2 else CONTINUE)
                self.assertGreater(sid, last)
                last = sid
                info = c.freeze(sid)
                self.assertEqual(len(info), 3)
                for _, name, _, logdir, files in info:
                    self.assertFalse(os.path.exists(os.path.join(str(logdir), "jet.log")), name)
                    for f in files:
                        self.assertTrue(os.path.exists(str(f)), f)
                c.call("Thaw", t(sid), u(0))
                if k % 2:
                    # No ContinueAfterThaw: Thaw ended it.
                    self.assertEqual(c.err("TruncateLog", t(sid), u(ALL_DATABASES)), INVALID_SNAP_ID)
                    continue
                c.call("TruncateLog", t(sid), u(ALL_DATABASES))
                c.call("End", t(sid), u(0))
            self.assertEqual(int(c.prop("ActiveSnapshotId")), 0)
            self.assertEqual(int(c.iprop("alpha", "LastFullBackup")[0]) > 0, True)
            for w in writers:
                self.assertEqual(w.errors, [], w.n)
                self.assertGreater(len(w.acked), 0)

            # SIGKILL under load: every acknowledged commit survives.
            sid = c.prepare(CONTINUE)
            c.freeze(sid)
            c.call("Thaw", t(sid), u(0))
            env.daemon.kill(signal.SIGKILL)
            for w in writers:
                w.stop.set()
            for w in writers:
                w.join(60)
            c.close()
            env.daemon.start()
            c = Client(env.bus.address)
            self.assertEqual(c.err("End", t(sid), u(0)), INVALID_SNAP_ID)
            self.assertGreater(c.prepare(), sid)
            p = c.ipath("alpha")
            for w in writers:
                for key in w.acked[-50:] + w.acked[:10]:
                    self.assertEqual(bytes(c.call("Get", "two", "load", dbus.ByteArray(key), path=p,
                                                  iface=INSTANCE)), b"y", key)
            total = sum(len(w.acked) for w in writers)
            rows = c.call("Scan", "one", "load", dbus.ByteArray(b""), dbus.ByteArray(b""), u(0), path=p,
                          iface=INSTANCE)
            # Scan may be capped per reply; at least it must not return keys nobody wrote.
            self.assertLessEqual(len(rows), total + WRITERS)
            c.call("Abort", t(c.prop("ActiveSnapshotId")), u(0))
            c.close()
            finish(env)


class Races(unittest.TestCase):
    def send_freeze(self, client, sid):
        """Freeze without waiting for its reply."""
        msg = dbus.lowlevel.MethodCallMessage(NAME, ROOT, MANAGER, "Freeze")
        msg.append(t(sid), u(0), signature="tu")
        client.bus.send_message(msg)
        client.bus.flush()

    def test_owner_gone_or_abort_during_freeze(self):
        with jetsnaptest.Env(config=config()) as env:
            c = Client(env.bus.address)
            for _ in range(20):
                # A bound owner that leaves right after asking for the freeze.
                o = Client(env.bus.address)
                sid = int(o.call("PrepareWithOptions", u(CONTINUE),
                                 dbus.Dictionary({"BindToCaller": dbus.Boolean(True)}, signature="sv")))
                self.send_freeze(o, sid)
                o.close()
                wait_until(lambda: int(c.prop("ActiveSnapshotId")) == 0, "bound session aborted")
                self.assertEqual({str(c.iprop(n, "State")) for n in ("alpha", "beta", "gamma")}, {"running"})
                # An Abort that overtakes the reply of Freeze.
                sid = c.prepare(CONTINUE)
                self.send_freeze(c, sid)
                c.call("Abort", t(sid), u(0))
                self.assertEqual(int(c.prop("ActiveSnapshotId")), 0)
                self.assertEqual({str(c.iprop(n, "State")) for n in ("alpha", "beta", "gamma")}, {"running"})
            c.commit("beta", [("p", "main", "t", b"after", b"1")])
            c.close()
            finish(env)


class Malformed(unittest.TestCase):
    def test_wrong_signature_for_every_method(self):
        with jetsnaptest.Env(config=config()) as env:
            c = Client(env.bus.address)
            sid = c.prepare(CONTINUE)
            c.freeze(sid)
            for path, iface, method, sig in METHODS:
                for wsig, args in WRONG:
                    if wsig == sig:
                        continue
                    name = c.raw(path, iface, method, wsig, *args)
                    self.assertIsNotNone(name, (method, wsig))
                    self.assertIn(name, ("org.freedesktop.DBus.Error.InvalidArgs", INVALID_PARAMETER),
                                  (method, wsig))
                self.assertIsNone(env.daemon.proc.poll(), method)
            # Unknown members, interfaces and paths.
            self.assertEqual(c.raw(ROOT, MANAGER, "Nope", ""), "org.freedesktop.DBus.Error.UnknownMethod")
            self.assertIsNotNone(c.raw("/org/jetsnap1/instance/nosuch", INSTANCE, "Get", "ssay", "a", "b", [1]))
            self.assertIsNotNone(c.raw("/org/jetsnap1/snapshot/999", PROPS, "GetAll", "s", SNAPSHOT))
            self.assertEqual(c.raw(ROOT, PROPS, "Set", "ssv", MANAGER, "ActiveSnapshotId",
                                   dbus.UInt64(5, variant_level=1)) is not None, True)
            # Still frozen, still serving, and the session is intact.
            self.assertEqual(str(c.prop("ActiveSnapshotState")), "frozen")
            c.call("Thaw", t(sid), u(0))
            c.call("End", t(sid), u(0))
            c.commit("beta", [("p", "main", "t", b"alive", b"1")])
            self.assertIsNone(env.daemon.proc.poll())
            c.close()
            finish(env)


if __name__ == "__main__":
    unittest.main(verbosity=2)
