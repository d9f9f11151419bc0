# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers for the daemon integration tests: a python-dbus client on the
private bus of a jetsnaptest.Env, with the error name of a failed call
returned instead of raised, and the ESE constants."""

import os
import subprocess
import sys
import time

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jetsnaptest  # noqa: E402,F401

from jetsnapbus import *  # noqa: E402,F401,F403
TIMEOUT = CALL_TIMEOUT

_loop_set = False


class Client:
    def __init__(self, address):
        global _loop_set
        if not _loop_set:
            dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
            _loop_set = True
        self.bus = dbus.bus.BusConnection(address)
        # No introspection: a proxy that introspects first would hold calls back until the GLib loop runs.
        self.obj = self.bus.get_object(BUS_NAME, "/org/jetsnap1", introspect=False)
        self.mgr = dbus.Interface(self.obj, MANAGER)

    def close(self):
        self.bus.close()

    def call(self, method, *args, path="/org/jetsnap1", iface=MANAGER):
        """Returns the reply; raises on error."""
        obj = self.bus.get_object(BUS_NAME, path, introspect=False)
        # byte_arrays: ay as bytes, not one Python object per byte.
        return obj.get_dbus_method(method, iface)(*args, timeout=TIMEOUT, byte_arrays=True)

    def error(self, method, *args, path="/org/jetsnap1", iface=MANAGER):
        """Returns (error name, message) of a call expected to fail, or (None, reply)."""
        try:
            return None, self.call(method, *args, path=path, iface=iface)
        except dbus.exceptions.DBusException as e:
            return e.get_dbus_name(), e.get_dbus_message()

    def raw_error(self, path, iface, method, signature, *args):
        """A call with an explicit signature, bypassing client-side type checks; returns the error name."""
        msg = dbus.lowlevel.MethodCallMessage(BUS_NAME, path, iface, method)
        msg.append(*args, signature=signature)
        try:
            self.bus.send_message_with_reply_and_block(msg, TIMEOUT)
            return None
        except dbus.exceptions.DBusException as e:
            return e.get_dbus_name()

    def prop(self, name, path="/org/jetsnap1", iface=MANAGER):
        return self.call("Get", iface, name, path=path, iface=PROPS)

    def instance_path(self, name="default"):
        for n, p in self.mgr.ListInstances(timeout=TIMEOUT):
            if n == name:
                return str(p)
        raise KeyError(name)

    def instance_state(self, name="default"):
        return str(self.prop("State", path=self.instance_path(name), iface=INSTANCE))

    def state(self):
        return str(self.prop("ActiveSnapshotState"))

    def commit(self, ops, name="default"):
        return int(self.call("Commit", ops_array(ops), path=self.instance_path(name), iface=INSTANCE))

    def commit_async(self, ops, done, name="default"):
        """done(ok, value) is called from the GLib loop (see pump())."""
        obj = self.bus.get_object(BUS_NAME, self.instance_path(name), introspect=False)
        obj.get_dbus_method("Commit", INSTANCE)(
            ops_array(ops), timeout=TIMEOUT,
            reply_handler=lambda lsn: done(True, int(lsn)),
            error_handler=lambda e: done(False, e.get_dbus_name()))

    def get(self, database, table, key, name="default"):
        return bytes(self.call("Get", database, table, dbus.ByteArray(key), path=self.instance_path(name),
                               iface=INSTANCE))


def ops_array(ops):
    """ops: [(kind, database, table, key bytes, value bytes)]."""
    return dbus.Array([dbus.Struct((dbus.Byte(ord(k)), db, t, dbus.ByteArray(key), dbus.ByteArray(value)),
                                   signature="yssayay") for k, db, t, key, value in ops],
                      signature="(yssayay)")


def options(**kw):
    d = {}
    for k, v in kw.items():
        d[k] = v
    return dbus.Dictionary(d, signature="sv")


def pump():
    """Dispatches everything already received (async replies)."""
    ctx = GLib.MainContext.default()
    while ctx.iteration(False):
        pass


def wait_until(predicate, deadline_s=30, what="condition"):
    """Polls; the deadline only bounds a hang, it is not a speed check."""
    end = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def jetsnapd():
    return os.environ.get("JETSNAPD", "jetsnapd")


def run_as(user_args, code, address):
    """Runs python code as another user (setpriv); returns its stdout stripped."""
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address, PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run(["setpriv"] + user_args + ["/usr/bin/python3", "-c", code], env=env,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("child failed: " + r.stderr)
    return r.stdout.strip()
