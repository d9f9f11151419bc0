#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Data methods and bad input: Commit/Get/Scan, every documented error for
malformed requests, commits that stall while frozen and complete after
thaw while Get keeps answering. Bad input must never crash the daemon or
leave an instance frozen."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from busutil import *  # noqa: E402,F401,F403
import jetsnaptest  # noqa: E402

CONFIG = """
snapshot:
  freeze-timeout: 60s
instances:
  - name: mail
    path: {dir}/mail
    log-file-size: 16MiB
    databases:
      - name: mailbox
        path: {dir}/mail/mailbox.jdb
      - name: index
        path: {dir}/mail/index.jdb
  - name: other-one
    path: {dir}/other
    databases:
      - name: main
        path: {dir}/other/main.jdb
"""


class Data(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = jetsnaptest.Env(config=lambda d: CONFIG.format(dir=d)).__enter__()
        cls.c = Client(cls.env.bus.address)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        rc = cls.env.daemon.stop()
        cls.env.__exit__(None, None, None)
        assert rc == 0, rc

    def tearDown(self):
        # Whatever a test did: the daemon is alive and nothing is frozen.
        self.assertIsNone(self.env.daemon.proc.poll())
        self.assertEqual(int(self.c.prop("ActiveSnapshotId")), 0)
        for name in ("mail", "other-one"):
            self.assertEqual(self.c.instance_state(name), "running")

    def data_error(self, method, *args, name="mail"):
        return self.c.error(method, *args, path=self.c.instance_path(name), iface=INSTANCE)

    def test_list_instances(self):
        got = [(str(n), str(p)) for n, p in self.c.mgr.ListInstances()]
        self.assertEqual(got, [("mail", "/org/jetsnap1/instance/mail"),
                               ("other-one", "/org/jetsnap1/instance/other_2done")])
        props = self.c.call("GetAll", INSTANCE, path=self.c.instance_path("mail"), iface=PROPS)
        self.assertEqual(str(props["Name"]), "mail")
        self.assertEqual(str(props["State"]), "running")
        self.assertEqual([(str(a), str(b)) for a, b in props["Databases"]],
                         [(self.env.dir + "/mail/mailbox.jdb", "mailbox"), (self.env.dir + "/mail/index.jdb", "index")])
        self.assertFalse(bool(props["CircularLogging"]))

    def test_commit_get_scan(self):
        c = self.c
        before = int(c.prop("CommittedTransactions", path=c.instance_path("mail"), iface=INSTANCE))
        lsn1 = c.commit([("p", "mailbox", "msgs", b"a", b"1"), ("p", "index", "idx", b"a", b"x")], name="mail")
        lsn2 = c.commit([("p", "mailbox", "msgs", b"b", b"2"), ("p", "mailbox", "msgs", b"c", b"3")], name="mail")
        self.assertGreater(lsn2, lsn1)
        self.assertEqual(c.get("mailbox", "msgs", b"a", name="mail"), b"1")
        self.assertEqual(c.get("index", "idx", b"a", name="mail"), b"x")
        path = c.instance_path("mail")
        recs = c.call("Scan", "mailbox", "msgs", dbus.ByteArray(b""), dbus.ByteArray(b""), dbus.UInt32(0),
                      path=path, iface=INSTANCE)
        self.assertEqual([(bytes(k), bytes(v)) for k, v in recs], [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])
        recs = c.call("Scan", "mailbox", "msgs", dbus.ByteArray(b"b"), dbus.ByteArray(b""), dbus.UInt32(1),
                      path=path, iface=INSTANCE)
        self.assertEqual([(bytes(k), bytes(v)) for k, v in recs], [(b"b", b"2")])
        c.commit([("d", "mailbox", "msgs", b"b", b"")], name="mail")
        self.assertEqual(self.data_error("Get", "mailbox", "msgs", dbus.ByteArray(b"b"))[0], RECORD_NOT_FOUND)
        after = int(c.prop("CommittedTransactions", path=path, iface=INSTANCE))
        self.assertEqual(after - before, 3)

    def test_scan_is_capped(self):
        c = self.c
        c.commit([("p", "index", "many", b"%06d" % i, b"") for i in range(10050)], name="mail")
        path = c.instance_path("mail")
        for limit in (0, 20000):
            recs = c.call("Scan", "index", "many", dbus.ByteArray(b""), dbus.ByteArray(b""), dbus.UInt32(limit),
                          path=path, iface=INSTANCE)
            self.assertEqual(len(recs), 10000)
            self.assertEqual(bytes(recs[-1][0]), b"009999")
        recs = c.call("Scan", "index", "many", dbus.ByteArray(b"010000"), dbus.ByteArray(b"010010"),
                      dbus.UInt32(0), path=path, iface=INSTANCE)
        self.assertEqual(len(recs), 10)

    def test_scan_bytes_are_capped(self):
        # 12 values of 6 MiB: a reply carries at most 24 MiB (the bus drops bigger messages), so 3 of
        # them; a client walks on from the last key.
        c = self.c
        big = b"x" * (6 << 20)
        for i in range(12):
            c.commit([("p", "mailbox", "big", b"%02d" % i, big)], name="mail")
        path = c.instance_path("mail")
        keys, start = [], b""
        while True:
            recs = c.call("Scan", "mailbox", "big", dbus.ByteArray(start), dbus.ByteArray(b""), dbus.UInt32(0),
                          path=path, iface=INSTANCE)
            got = [bytes(k) for k, _ in recs]
            if keys:
                self.assertEqual(got[0], keys[-1])
                got = got[1:]
            else:
                self.assertEqual(len(got), 3)
            self.assertTrue(all(len(v) == len(big) for _, v in recs))
            if not got:
                break
            keys += got
            start = keys[-1]
        self.assertEqual(keys, [b"%02d" % i for i in range(12)])

    def test_bad_commits(self):
        ops = lambda *o: ops_array(list(o))  # noqa: E731
        cases = [
            ("empty transaction", ops()),
            ("unknown kind", ops(("x", "mailbox", "t", b"k", b"v"))),
            ("unknown database", ops(("p", "nosuch", "t", b"k", b"v"))),
            ("database of another instance", ops(("p", "main", "t", b"k", b"v"))),
            ("empty key", ops(("p", "mailbox", "t", b"", b"v"))),
            ("oversized key", ops(("p", "mailbox", "t", b"k" * 512, b"v"))),
            ("empty table", ops(("p", "mailbox", "", b"k", b"v"))),
            ("reserved table", ops(("p", "mailbox", "__jetsnap", b"k", b"v"))),
            ("one bad op among good ones", ops(("p", "mailbox", "t", b"k", b"v"), ("q", "mailbox", "t", b"k", b"v"))),
        ]
        for what, arg in cases:
            with self.subTest(what):
                err, msg = self.data_error("Commit", arg)
                self.assertEqual(err, INVALID_PARAMETER, msg)
                self.assertTrue(msg)
        # Nothing of the rejected transaction is visible.
        self.assertEqual(self.data_error("Get", "mailbox", "t", dbus.ByteArray(b"k"))[0], RECORD_NOT_FOUND)

    def test_oversized_value(self):
        err, msg = self.data_error("Commit", ops_array([("p", "mailbox", "t", b"big", b"v" * (17 << 20))]))
        self.assertEqual(err, INVALID_PARAMETER, msg)

    def test_bad_reads(self):
        self.assertEqual(self.data_error("Get", "mailbox", "nosuchtable", dbus.ByteArray(b"k"))[0], RECORD_NOT_FOUND)
        self.assertEqual(self.data_error("Get", "nosuch", "t", dbus.ByteArray(b"k"))[0], INVALID_PARAMETER)
        self.assertEqual(self.data_error("Get", "mailbox", "t", dbus.ByteArray(b""))[0], INVALID_PARAMETER)
        self.assertEqual(self.data_error("Get", "mailbox", "t", dbus.ByteArray(b"k" * 600))[0], INVALID_PARAMETER)
        self.assertEqual(self.data_error("Scan", "nosuch", "t", dbus.ByteArray(b""), dbus.ByteArray(b""),
                                         dbus.UInt32(0))[0], INVALID_PARAMETER)
        err, recs = self.data_error("Scan", "mailbox", "nosuchtable", dbus.ByteArray(b""), dbus.ByteArray(b""),
                                    dbus.UInt32(0))
        self.assertEqual((err, len(recs)), (None, 0))

    def test_wrong_argument_types(self):
        c = self.c
        path = c.instance_path("mail")
        invalid = "org.freedesktop.DBus.Error.InvalidArgs"
        self.assertEqual(c.raw_error(path, INSTANCE, "Commit", "s", "not an array"), invalid)
        self.assertEqual(c.raw_error(path, INSTANCE, "Get", "sus", "mailbox", 3, "k"), invalid)
        self.assertEqual(c.raw_error(path, INSTANCE, "Scan", "ss", "mailbox", "t"), invalid)
        self.assertEqual(c.raw_error("/org/jetsnap1", MANAGER, "Prepare", "s", "zero"), invalid)
        self.assertEqual(c.raw_error("/org/jetsnap1", MANAGER, "Freeze", "uu", 1, 0), invalid)
        self.assertEqual(c.raw_error("/org/jetsnap1", MANAGER, "PrepareWithOptions", "ua{ss}", 0, {"a": "b"}),
                         invalid)
        self.assertEqual(c.raw_error("/org/jetsnap1/instance/nosuch", INSTANCE, "Get", "ssay", "m", "t", [1]),
                         "org.freedesktop.DBus.Error.UnknownObject")

    def test_bad_snapshot_calls(self):
        c, u = self.c, dbus.UInt32
        self.assertEqual(c.error("Prepare", u(0x10))[0], INVALID_PARAMETER)
        self.assertEqual(c.error("Prepare", u(0xffffffff))[0], INVALID_PARAMETER)
        self.assertEqual(c.error("PrepareWithOptions", u(0), options(Bogus=dbus.UInt64(1)))[0], INVALID_PARAMETER)
        self.assertEqual(c.error("PrepareWithOptions", u(0), options(TimeoutUSec=dbus.UInt32(1)))[0],
                         INVALID_PARAMETER)
        self.assertEqual(c.error("PrepareWithOptions", u(0), options(BindToCaller=dbus.String("yes")))[0],
                         INVALID_PARAMETER)
        self.assertEqual(c.error("PrepareWithOptions", u(0), options(TimeoutUSec=dbus.UInt64(1 << 62)))[0],
                         INVALID_PARAMETER)
        self.assertEqual(int(c.prop("ActiveSnapshotId")), 0)
        # Unknown ids; grbits are checked before the id.
        for method, args in [("Freeze", [u(0)]), ("Thaw", [u(0)]), ("GetFreezeInfo", [u(0)]), ("Abort", [u(0)]),
                             ("End", [u(0)]), ("TruncateLog", [u(1)]), ("TruncateLogInstance", ["mail", u(1)]),
                             ("PrepareInstance", ["mail", u(0)])]:
            with self.subTest(method):
                self.assertEqual(c.error(method, dbus.UInt64(12345), *args)[0], INVALID_SNAP_ID)
                self.assertEqual(c.error(method, dbus.UInt64(0), *args)[0], INVALID_SNAP_ID)
                bad = list(args)
                bad[-1] = u(0x80)
                self.assertEqual(c.error(method, dbus.UInt64(12345), *bad)[0], INVALID_PARAMETER)
        self.assertEqual(c.error("TruncateLogInstance", dbus.UInt64(12345), "nosuch", u(1))[0], INVALID_PARAMETER)
        sid = c.mgr.Prepare(u(CONTINUE))
        err, msg = c.error("Prepare", u(0))
        self.assertEqual(err, INVALID_SEQUENCE)
        self.assertIn("snapshot %d is prepared; Prepare is not allowed until it ends" % sid, msg)
        c.mgr.Freeze(sid, u(0))
        err, msg = c.error("Prepare", u(0))
        self.assertIn("snapshot %d is frozen; Prepare is not allowed until it ends" % sid, msg)
        self.assertEqual(c.error("Freeze", sid, u(1))[0], INVALID_PARAMETER)
        self.assertEqual(c.error("Thaw", sid, u(2))[0], INVALID_PARAMETER)
        self.assertEqual(c.error("End", sid, u(2))[0], INVALID_PARAMETER)
        self.assertEqual(c.state(), "frozen")
        c.mgr.Thaw(sid, u(0))
        self.assertEqual(c.error("TruncateLogInstance", sid, "nosuch", u(1))[0], INVALID_PARAMETER)
        self.assertEqual(c.error("TruncateLogInstance", sid, "mail", u(2))[0], INVALID_PARAMETER)
        self.assertEqual(c.error("TruncateLogInstance", sid, "mail", u(1))[0], None)
        self.assertEqual(c.error("TruncateLogInstance", sid, "mail", u(0))[0], None)
        self.assertEqual(c.state(), "log-truncated")
        c.mgr.End(sid, u(0))

    def test_commit_stalls_while_frozen(self):
        c, u = self.c, dbus.UInt32
        c.commit([("p", "mailbox", "stall", b"before", b"1")], name="mail")
        sid = c.mgr.Prepare(u(CONTINUE))
        c.mgr.Freeze(sid, u(0))
        done = []
        for i in range(5):
            c.commit_async([("p", "mailbox", "stall", b"k%d" % i, b"v")], lambda ok, v: done.append((ok, v)),
                           name="mail")
        # Replies come in order on one connection: had a commit been acknowledged, its reply would
        # arrive before the answers below.
        self.assertEqual(c.get("mailbox", "stall", b"before", name="mail"), b"1")
        self.assertEqual(self.data_error("Get", "mailbox", "stall", dbus.ByteArray(b"k0"))[0], RECORD_NOT_FOUND)
        self.assertEqual(c.instance_state("mail"), "frozen")
        self.assertEqual(c.state(), "frozen")
        pump()
        self.assertEqual(done, [])
        # Both instances froze; Thaw is answered although commits wait.
        self.assertEqual(c.instance_state("other-one"), "frozen")
        c.mgr.Thaw(sid, u(0))
        wait_until(lambda: (pump(), len(done) == 5)[1], what="stalled commits")
        self.assertTrue(all(ok for ok, _ in done), done)
        self.assertEqual(c.get("mailbox", "stall", b"k4", name="mail"), b"v")
        c.mgr.End(sid, u(0))


if __name__ == "__main__":
    unittest.main(verbosity=2)
