#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""No write IO while frozen, under load.

Prepare + Freeze by hand, then for ~1.5 s watch every instance and log
directory with inotify (modify, close-write, create, delete, rename) while 8
clients keep committing, and hash every file before and after: a frozen
instance must not change a byte. Then Thaw + End and check the stalled
commits complete. LMDB's -lock files are excluded: they are the readers'
shared memory, not data (reads are served while frozen).
"""

import os
import time

import loadgen
import systest
from systest import check, log

WINDOW = 1.5
CYCLES = 5


def watch_events(root, seconds):
    """inotify write events on every instance and log directory for `seconds`."""
    ino = systest.Inotify()
    try:
        for inst in systest.TOPOLOGY:
            ino.add(os.path.join(root, inst))
            ino.add(os.path.join(root, inst, "logs"))
        start = time.monotonic()
        events = []
        while time.monotonic() - start < seconds:
            events += [e for e in ino.read(0.1) if not systest.is_lmdb_lock(e[1])]
        events += [e for e in ino.read(0) if not systest.is_lmdb_lock(e[1])]
    finally:
        ino.close()
    return events


def watch_window(client, load, root, sid):
    dirs = [os.path.join(root, inst) for inst in systest.TOPOLOGY]
    before = {d: systest.hash_tree(d, systest.is_lmdb_lock) for d in dirs}
    start = time.monotonic()
    events = watch_events(root, WINDOW)
    end = time.monotonic()
    after = {d: systest.hash_tree(d, systest.is_lmdb_lock) for d in dirs}
    check(not events, f"snapshot {sid}: write IO while frozen: {events[:10]}")
    for d in before:
        changed = {f for f in set(before[d]) | set(after[d]) if before[d].get(f) != after[d].get(f)}
        check(not changed, f"snapshot {sid}: files changed while frozen in {d}: {sorted(changed)}")
    return start, end


def test():
    systest.require_root()
    systest.require_binaries()
    tmp = systest.workdir()
    root = os.path.join(tmp, "data")
    bus = systest.start_bus(os.path.join(tmp, "bus"))
    daemon = systest.start_daemon(bus, os.path.join(tmp, "daemon"),
                                  systest.config_yaml(root, log_file_size="64KiB"))
    client = systest.connect(bus.address)
    load = loadgen.Load(bus.address, os.path.join(tmp, "load")).start()
    load.wait_progress(300)

    # Control: the same watch on a running instance must see the daemon write,
    # or the frozen windows below prove nothing.
    events = watch_events(root, 1.0)
    check(any(e[1].startswith("jet") for e in events), f"inotify saw no log write while running: {events[:5]}")

    windows, freeze_lat = [], []
    for cycle in range(CYCLES):
        sid = int(client.manager("PrepareWithOptions", "ua{sv}", systest.JET_bitContinueAfterThaw,
                                 {"TimeoutUSec": systest.dbus.UInt64(30_000_000)}))
        t0 = time.monotonic()
        client.manager("Freeze", "tu", sid, 0)
        freeze_lat.append(time.monotonic() - t0)
        for inst in systest.TOPOLOGY:
            check(client.instance_state(inst) == "frozen", f"{inst} is not frozen")
        windows.append(watch_window(client, load, root, sid))
        # Reads are served while frozen (design.md §3).
        client.scan("alpha", "a1", "c")
        check(client.snapshot_state(sid) == "frozen", "the session left frozen during the window")
        client.manager("Thaw", "tu", sid, 0)
        client.manager("End", "tu", sid, 0)
        load.wait_progress(200)

    load.stop()
    client_history = load.history()
    check(not client_history.errors(), f"commits failed: {client_history.errors()[:5]}")
    for n, (start, end) in enumerate(windows):
        # The load really was attempting commits on both instances during the window...
        stalled = client_history.in_flight_at(end)
        insts = {c.inst for c in stalled}
        check(insts == set(systest.TOPOLOGY), f"cycle {n}: no commit was waiting on {set(systest.TOPOLOGY) - insts}")
        # ...and none of them was acknowledged during it.
        early = [c for c in client_history.acked() if start <= c.acked <= end]
        check(not early, f"cycle {n}: commits acknowledged while frozen: {early[:5]}")
    live = loadgen.fetch_state(client)
    loadgen.verify(live, client_history, lower=float("inf"), exact=True, what="live daemon")
    client.close()
    systest.stop_daemon(daemon)
    log(f"cycles: {CYCLES} freeze windows of {WINDOW}s under load, zero write IO, zero changed bytes")
    systest.report_latencies("Freeze call latency", freeze_lat)
    log(f"longest commit stall across a snapshot cycle: "
        f"{loadgen.max_stall(client_history, windows) * 1000:.1f} ms")


systest.main(test)
