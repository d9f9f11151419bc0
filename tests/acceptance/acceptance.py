# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared pieces of the acceptance suite: written from design.md §4-§6 and
ese-semantics.md alone, without reading the daemon, the way an independent
tester would drive it. A plain python-dbus client, the ESE constants and a
two-instance configuration with small log generations."""

import os
import subprocess
import sys
import time
import unittest

import dbus

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jetsnaptest  # noqa: E402,F401

from jetsnapbus import *  # noqa: E402,F401,F403

u, t, s = dbus.UInt32, dbus.UInt64, dbus.String

CONFIG = """
snapshot:
  freeze-timeout: 60s
  session-idle-timeout: {idle}
  allowed-groups: [backup]
instances:
  - name: alpha
    path: {dir}/alpha
    log-file-size: 64KiB
    access-groups: [mail]
    databases:
      - name: one
        path: {dir}/alpha/one.jdb
      - name: two
        path: {dir}/alpha/two.jdb
  - name: beta
    path: {dir}/beta
    log-file-size: 64KiB
    databases:
      - name: main
        path: {dir}/beta/main.jdb
  - name: gamma
    path: {dir}/gamma
    log-file-size: 64KiB
    circular-logging: true
    databases:
      - name: main
        path: {dir}/gamma/main.jdb
"""

# A group the tests can put an unprivileged user into (setpriv --groups).
TEST_GID = 4242


def config(idle="10min"):
    def make(d):
        return CONFIG.format(dir=d, idle=idle)
    return make


class Client:
    """A private-bus connection; calls return replies or raise DBusException."""

    def __init__(self, address):
        self.address = address
        self.bus = dbus.bus.BusConnection(address)

    def close(self):
        self.bus.close()

    def call(self, method, *args, path=ROOT, iface=MANAGER, timeout=CALL_TIMEOUT):
        obj = self.bus.get_object(NAME, path, introspect=False)
        return obj.get_dbus_method(method, iface)(*args, timeout=timeout, byte_arrays=True)

    def err(self, method, *args, path=ROOT, iface=MANAGER):
        """The error name of a call that must fail (None if it succeeded)."""
        try:
            self.call(method, *args, path=path, iface=iface)
            return None
        except dbus.exceptions.DBusException as e:
            return e.get_dbus_name()

    def raw(self, path, iface, method, signature, *args):
        """A call with an explicit signature, no client-side checks; error name or None."""
        msg = dbus.lowlevel.MethodCallMessage(NAME, path, iface, method)
        if signature:
            msg.append(*args, signature=signature)
        try:
            self.bus.send_message_with_reply_and_block(msg, CALL_TIMEOUT)
            return None
        except dbus.exceptions.DBusException as e:
            return e.get_dbus_name()

    def prop(self, name, path=ROOT, iface=MANAGER):
        return self.call("Get", iface, name, path=path, iface=PROPS)

    def props(self, path, iface):
        return self.call("GetAll", iface, path=path, iface=PROPS)

    def instances(self):
        return {str(n): str(p) for n, p in self.call("ListInstances")}

    def ipath(self, name):
        return self.instances()[name]

    def iprop(self, name, prop):
        return self.prop(prop, path=self.ipath(name), iface=INSTANCE)

    def commit(self, name, ops):
        return int(self.call("Commit", ops_array(ops), path=self.ipath(name), iface=INSTANCE))

    # Snapshot calls, named after the ESE functions.
    def prepare(self, flags=0):
        return int(self.call("Prepare", u(flags)))

    def freeze(self, sid, flags=0):
        return self.call("Freeze", t(sid), u(flags))


def finish(env):
    """SIGTERM the daemon: it must exit 0, and a sanitizer build must have nothing to say."""
    rc = env.daemon.stop()
    log = env.daemon.read_log()
    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        if bad in log:
            raise AssertionError("jetsnapd: " + bad + ":\n" + log[-4000:])
    if rc != 0:
        raise AssertionError("jetsnapd exited with %s on SIGTERM:\n%s" % (rc, log[-4000:]))


class DaemonTestCase(unittest.TestCase):
    """One daemon per test class (config()); each test leaves no session behind and the daemon alive."""

    @classmethod
    def setUpClass(cls):
        cls.env = jetsnaptest.Env(config=config()).__enter__()
        cls.c = Client(cls.env.bus.address)
        cls.dir = cls.env.dir

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        try:
            finish(cls.env)
        finally:
            cls.env.__exit__(None, None, None)

    def tearDown(self):
        sid = int(self.c.prop("ActiveSnapshotId"))
        if sid:
            self.c.call("Abort", t(sid), u(0))
        self.assertIsNone(self.env.daemon.proc.poll(), "jetsnapd died")


def ops_array(ops):
    """ops: [(kind, database, table, key, value)] with bytes key/value."""
    return dbus.Array([dbus.Struct((dbus.Byte(ord(k)), db, tb, dbus.ByteArray(key), dbus.ByteArray(value)),
                                   signature="yssayay") for k, db, tb, key, value in ops],
                      signature="(yssayay)")


def fill(c, name, db, n, size=4000, prefix=b"k"):
    """n commits of `size` bytes each: enough to roll 64KiB generations."""
    for i in range(n):
        c.commit(name, [("p", db, "t", prefix + b"%06d" % i, b"v" * size)])


def wait_until(pred, what, limit=30):
    """Bounds a hang; not a speed check."""
    end = time.monotonic() + limit
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def busctl(address, *args):
    return subprocess.run(["busctl", "--address=" + address] + list(args), capture_output=True, text=True,
                          timeout=60)


def log_generations(path):
    """The archived generation numbers in an instance's logs/ directory."""
    gens = []
    for f in os.listdir(os.path.join(path, "logs")):
        if f.startswith("jet") and f.endswith(".log") and len(f) == len("jet00000000.log"):
            gens.append(int(f[3:11], 16))
    return sorted(gens)
