# SPDX-License-Identifier: LGPL-2.1-or-later
"""Snapshots under load, recovered and checked: shared by the Btrfs and LVM tests.

A backend knows how to take a block-level or subvolume snapshot of the file
system holding the instances (through `jetsnapctl snapshot`, or by hand
between our own Freeze and Thaw), make it writable and release it. The suite:

 1. starts jetsnapd (alpha: a1+a2, beta: b1) on the backend's file system and
    8 load workers;
 2. runs `cycles` snapshots through jetsnapctl, `cmd_cycles` through
    `jetsnapctl snapshot -- COMMAND` (plus one failing COMMAND, which must
    leave nothing frozen), then `raw_cycles` through the low-level calls (Prepare ContinueAfterThaw, Freeze, snapshot, Thaw,
    TruncateLog, End) to time Freeze;
 3. stops the load, checks the live daemon holds every acknowledged commit;
 4. for each snapshot: `jetsnapctl verify` each instance directory, make it
    writable, (every third: `jetsnapctl recover` it offline,) recover it
    with a fresh jetsnapd on a second private bus
    (same instance names, paths inside the snapshot), and check it against
    the bounds recorded around the snapshot (see loadgen.verify()).
"""

import os
import random
import time

import loadgen
import systest
from systest import check, log


def _ctl_cycle(backend, address, i):
    lower = time.monotonic()  # conservative Freeze time: before jetsnapctl even starts
    path = backend.take_ctl(address, i)
    upper = time.monotonic()
    return {"path": path, "lower": lower, "upper": upper, "label": f"jetsnapctl cycle {i}"}


def _raw_cycle(backend, client, i, freeze_lat):
    sid = int(client.manager("Prepare", "u", systest.JET_bitContinueAfterThaw))
    try:
        lower = time.monotonic()
        info = systest.freeze_info_struct(client.manager("Freeze", "tu", sid, 0))
        upper = time.monotonic()
        freeze_lat.append(upper - lower)
        check(set(info) == set(systest.TOPOLOGY), f"freeze info lists {sorted(info)}")
        for inst in systest.TOPOLOGY:
            check(client.instance_state(inst) == "frozen", f"{inst} not frozen after Freeze")
        path = backend.take_raw(i)
        client.manager("Thaw", "tu", sid, 0)
        client.manager("TruncateLog", "tu", sid, systest.JET_bitAllDatabasesSnapshot)
        client.manager("End", "tu", sid, 0)
        sid = None
    finally:
        if sid is not None:
            client.error_of("Abort", "tu", sid, 0)
    return {"path": path, "lower": lower, "upper": upper, "label": f"raw cycle {i}"}


def recover_and_check(rbus, tmp, snap, history, n, log_file_size="256KiB", offline=False):
    """Fresh jetsnapd on the image (paths inside it), read everything, check.

    offline: run `jetsnapctl recover` on each instance first, so the daemon
    opens an image the offline tool already recovered and checkpointed.
    """
    paths = {inst: os.path.join(snap["path"], inst) for inst in systest.TOPOLOGY}
    if offline:
        for inst, path in paths.items():
            r = systest.jetsnapctl(rbus.address, "recover", path, check_rc=False)
            check(r.returncode == 0, f"{snap['label']}: jetsnapctl recover {path} exited {r.returncode}:\n"
                  f"{r.stdout}{r.stderr}")
            check(os.path.exists(os.path.join(path, "jet.chk")), f"{path}: no jet.chk after jetsnapctl recover")
    ddir = os.path.join(tmp, f"recover-{n:02d}")
    daemon = systest.start_daemon(rbus, ddir, systest.config_yaml(snap["path"], paths=paths,
                                                                  log_file_size=log_file_size))
    client = systest.connect(rbus.address)
    try:
        state = loadgen.fetch_state(client)
    finally:
        client.close()
    systest.stop_daemon(daemon)
    applied = loadgen.verify(state, history, lower=snap["lower"], upper=snap["upper"], exact=True,
                             what=snap["label"] + " (" + snap["path"] + ")")
    return len(applied)


def _failing_command(client, address):
    """A backup COMMAND that fails: jetsnapctl must abort the session and say so."""
    r = systest.jetsnapctl(address, "snapshot", "--", "sh", "-c", "exit 3", check_rc=False)
    check(r.returncode != 0, "jetsnapctl snapshot succeeded although its COMMAND failed")
    check(client.active_snapshot() == 0, "a failed jetsnapctl snapshot left its session active")
    for inst in systest.TOPOLOGY:
        check(client.instance_state(inst) == "running", f"{inst} is {client.instance_state(inst)} after a failed backup")


def run(backend, root, tmp, cycles=20, raw_cycles=8, cmd_cycles=0):
    bus = systest.start_bus(os.path.join(tmp, "bus"))
    daemon = systest.start_daemon(bus, os.path.join(tmp, "daemon"),
                                  systest.config_yaml(root, log_file_size="256KiB"))
    client = systest.connect(bus.address)
    load = loadgen.Load(bus.address, os.path.join(tmp, "load")).start()
    load.wait_progress(300)

    snaps, freeze_lat, cycle_time = [], [], []
    for i in range(cycles):
        time.sleep(random.uniform(0.02, 0.3))  # land at random points of the log
        snaps.append(_ctl_cycle(backend, bus.address, i))
        cycle_time.append(snaps[-1]["upper"] - snaps[-1]["lower"])
        check(load.alive(), "a load worker died")
    for i in range(cmd_cycles):
        time.sleep(random.uniform(0.02, 0.3))
        lower = time.monotonic()
        path = backend.take_cmd(bus.address, i)
        snaps.append({"path": path, "lower": lower, "upper": time.monotonic(), "label": f"command cycle {i}"})
    _failing_command(client, bus.address)
    for i in range(raw_cycles):
        time.sleep(random.uniform(0.02, 0.3))
        snaps.append(_raw_cycle(backend, client, i, freeze_lat))
    load.wait_progress(100)  # commits flow after the last thaw
    load.stop()

    history = load.history()
    check(not history.errors(), f"commits failed under load: {history.errors()[:5]}")
    check(client.active_snapshot() == 0, "a snapshot session is still active")
    for inst in systest.TOPOLOGY:
        check(client.instance_state(inst) == "running", f"{inst} is {client.instance_state(inst)}")
    live = loadgen.fetch_state(client)
    loadgen.verify(live, history, lower=float("inf"), exact=True, what="live daemon after the load")
    client.close()
    systest.stop_daemon(daemon)

    rbus = systest.start_bus(os.path.join(tmp, "rbus"))
    counts = []
    for n, snap in enumerate(snaps):
        for inst in systest.TOPOLOGY:
            r = systest.jetsnapctl(rbus.address, "verify", os.path.join(snap["path"], inst), check_rc=False)
            check(r.returncode == 0, f"{snap['label']}: jetsnapctl verify {inst} exited {r.returncode}:\n"
                  f"{r.stdout}{r.stderr}")
        backend.make_writable(snap["path"])
        # Every third image is recovered offline (jetsnapctl recover) before jetsnapd opens it.
        counts.append(recover_and_check(rbus, tmp, snap, history, n, offline=n % 3 == 2))
        backend.release(snap["path"])
    check(counts[-1] > 0 and max(counts) > min(counts), f"snapshots did not see the load move: {counts}")

    log(f"cycles: {cycles} jetsnapctl + {cmd_cycles} jetsnapctl COMMAND + {raw_cycles} raw = {len(snaps)} "
        "snapshots, all recovered and checked")
    log(f"commits: {len(history.commits)} sent, {len(history.acked())} acknowledged; "
        f"commits per snapshot {min(counts)}..{max(counts)}")
    systest.report_latencies("Freeze call latency", freeze_lat)
    systest.report_latencies("jetsnapctl snapshot cycle", cycle_time)
    stall = loadgen.max_stall(history, [(s["lower"], s["upper"]) for s in snaps])
    log(f"longest commit stall across a snapshot cycle: {stall * 1000:.1f} ms")
