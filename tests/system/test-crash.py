#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""SIGKILL jetsnapd at every step, under load, 56 times.

Kill points, in turn: at a random moment; while frozen; while a Freeze call
is in progress; the instant the checkpointer writes (inotify on the
database files and jet.chk); the instant a log generation rolls (inotify on
logs/, with 64KiB generations rolls are frequent); between Thaw (and
sometimes TruncateLog) and End; and again while the restarted daemon is
still replaying the log. After each restart: every instance is
"running", no session is active, a session id from before the kill is
invalid, every commit acknowledged before the kill is present with its
value, and every commit whose outcome is settled is all-or-nothing.
"""

import os
import random
import signal
import subprocess
import threading
import time

import loadgen
import systest
from systest import check, log

MODES = ("random", "frozen", "freezing", "checkpoint", "roll", "thaw-end", "recovery")
ROUNDS = 8  # 7 modes x 8 = 56 kills
WATCH_TIMEOUT = 10.0
GONE = {"org.freedesktop.DBus.Error.NoReply", "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NameHasNoOwner", "org.freedesktop.DBus.Error.Disconnected"}


class Crasher:
    def __init__(self, tmp, root):
        self.root = root
        self.bus = systest.start_bus(os.path.join(tmp, "bus"))
        self.daemon = systest.start_daemon(self.bus, os.path.join(tmp, "daemon"),
                                           systest.config_yaml(root, log_file_size="64KiB"))
        self.client = systest.connect(self.bus.address)
        self.hits = {m: 0 for m in MODES}

    def kill(self):
        """SIGKILL; returns the monotonic time just before the signal."""
        t = time.monotonic()
        os.kill(self.daemon.pid, signal.SIGKILL)
        self.daemon.kill()  # reap, wait for the bus name to go
        return t

    def kill_on_event(self, dirs, want):
        ino = systest.Inotify()
        try:
            for d in dirs:
                ino.add(d, systest.IN_MODIFY | systest.IN_CREATE | systest.IN_MOVED_TO
                        | systest.IN_MOVED_FROM | systest.IN_CLOSE_WRITE)
            ino.read(0)
            deadline = time.monotonic() + WATCH_TIMEOUT
            while time.monotonic() < deadline:
                if any(want(name, masks) for _, name, masks in ino.read(0.2)):
                    return self.kill(), True
        finally:
            ino.close()
        return self.kill(), False

    def prepare(self, flags=0):
        return int(self.client.manager("PrepareWithOptions", "ua{sv}", flags,
                                       {"TimeoutUSec": systest.dbus.UInt64(30_000_000)}))

    def step(self, mode):
        """Run one kill of the given mode; returns (kill time, stale session id or None)."""
        c = self.client
        insts = [os.path.join(self.root, i) for i in systest.TOPOLOGY]
        if mode == "random":
            time.sleep(random.uniform(0.02, 0.5))
            self.hits[mode] += 1
            return self.kill(), None
        if mode == "frozen":
            sid = self.prepare()
            c.manager("Freeze", "tu", sid, 0)
            time.sleep(random.uniform(0, 0.3))
            self.hits[mode] += 1
            return self.kill(), sid
        if mode == "freezing":
            sid = self.prepare()
            other = systest.Client(self.bus.address)
            t = threading.Thread(target=lambda: other.error_of("Freeze", "tu", sid, 0))
            t.start()
            time.sleep(random.uniform(0, 0.005))
            k = self.kill()
            t.join(60)
            other.close()
            self.hits[mode] += 1
            return k, sid
        if mode == "checkpoint":
            k, hit = self.kill_on_event(insts, lambda n, m: n.endswith(".jdb") or n.startswith("jet.chk"))
            self.hits[mode] += hit
            return k, None
        if mode == "roll":
            k, hit = self.kill_on_event([os.path.join(d, "logs") for d in insts],
                                        lambda n, m: n.startswith("jet") and ("MOVED_TO" in m or "CREATE" in m))
            self.hits[mode] += hit
            return k, None
        if mode == "recovery":
            # Kill, then kill the restarted daemon again while it replays the log.
            k = self.kill()
            d = self.daemon
            with open(d.log_path, "a") as logf:
                p = subprocess.Popen([os.environ["JETSNAPD"], "--config", d.config_path], env=d.env,
                                     stdout=logf, stderr=subprocess.STDOUT)
            time.sleep(random.uniform(0, 0.03))
            p.kill()
            p.wait()
            deadline = time.monotonic() + 10  # the bus drops its name asynchronously
            while systest.jetsnaptest.name_has_owner(self.bus.address) and time.monotonic() < deadline:
                time.sleep(0.01)
            self.hits[mode] += 1
            return k, None
        assert mode == "thaw-end"
        sid = self.prepare(systest.JET_bitContinueAfterThaw)
        c.manager("Freeze", "tu", sid, 0)
        c.manager("Thaw", "tu", sid, 0)
        if random.random() < 0.5:
            c.manager("TruncateLog", "tu", sid, systest.JET_bitAllDatabasesSnapshot)
        self.hits[mode] += 1
        return self.kill(), sid

    def after_restart(self, killed_at, stale_sid, load, n):
        self.daemon.start()
        c = self.client
        c.wait_running(list(systest.TOPOLOGY), timeout=60)
        check(c.active_snapshot() == 0, f"kill {n}: snapshot {c.active_snapshot()} active after restart")
        if stale_sid is not None:
            name = c.error_of("End", "tu", stale_sid, 0)
            check(name == systest.ERR + "OSSnapshotInvalidSnapId",
                  f"kill {n}: End({stale_sid}) of a session from before the restart gave {name}")
        # Settle the history first: a commit whose outcome the worker knows now cannot change under the scan.
        history = load.history()
        settled = {id(x) for x in history.commits
                   if x.sent < killed_at and (x.acked is not None or x.error is not None)}
        state = loadgen.fetch_state(c)
        loadgen.verify(state, history, lower=killed_at, exact=False, resolved=lambda x: id(x) in settled,
                       what=f"after kill {n}")
        return len([x for x in history.acked() if x.acked < killed_at])


def test():
    systest.require_root()
    systest.require_binaries()
    tmp = systest.workdir()
    cr = Crasher(tmp, os.path.join(tmp, "data"))
    # Paced: the checks after each restart read everything, so keep the data small.
    load = loadgen.Load(cr.bus.address, os.path.join(tmp, "load"), pace=0.01).start()
    load.wait_progress(300)
    n = 0
    for r in range(ROUNDS):
        for mode in MODES:
            killed_at, stale = cr.step(mode)
            n += 1
            acked = cr.after_restart(killed_at, stale, load, n)
            check(load.alive(), "a load worker died")
        log(f"round {r + 1}/{ROUNDS}: {n} kills, {acked} commits acknowledged so far, all present")
    load.wait_progress(100)
    load.stop()
    history = load.history()
    live = loadgen.fetch_state(cr.client)
    loadgen.verify(live, history, lower=float("inf"), exact=True, what="after the last restart")
    cr.client.close()
    systest.stop_daemon(cr.daemon)
    # A kill may fail the commits in flight or sent while no daemon is up; the
    # daemon itself must never refuse one.
    names = {}
    for x in history.errors():
        names[x.error] = names.get(x.error, 0) + 1
    check(set(names) <= GONE, f"commits failed for other reasons than a dead daemon: {names}")
    for mode in ("checkpoint", "roll"):
        check(cr.hits[mode] > 0, f"no kill landed on a {mode} in {ROUNDS} tries")
    log(f"kills: {n} ({', '.join(f'{m} {h}' for m, h in cr.hits.items())}); "
        f"commits: {len(history.commits)} sent, {len(history.acked())} acknowledged, "
        f"{len(history.errors())} failed by a kill {names}")


systest.main(test)
