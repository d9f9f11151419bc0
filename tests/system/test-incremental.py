#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Incremental chain under load: one full snapshot, then incrementals.

Each backup copies what the freeze info lists (full: databases, jet.chk and
the generations from the checkpoint's on; incremental: only the generations
since the last backup) while frozen, then Thaw, TruncateLog(AllDatabases),
End. Restoring the full backup plus incrementals 1..k and recovering it
with a fresh jetsnapd must give exactly the commits of incremental k's
freeze (bounds as in loadgen.verify()); every other image is first
recovered offline by `jetsnapctl recover`. TruncateLog must keep the log
directory bounded: after each backup no archived generation older than the
checkpoint at freeze time is left, none it still needs is gone, and the last
backup, taken 2.5 s after the one before (the checkpoint has moved on),
leaves no generation of any earlier backup. A last incremental goes through
`jetsnapctl snapshot --incremental -- COMMAND` and its JETSNAP_FILES.
"""

import os
import shutil
import time

import loadgen
import snapsuite
import systest
from systest import check, log

INCREMENTALS = 6
SETTLE = 2.5  # seconds before the last incremental: more than the checkpoint interval (1 s) plus a checkpoint


# COMMAND for jetsnapctl: copy $JETSNAP_FILES below $1 to the same place below $2.
COPY = r"""
set -e
echo "$JETSNAP_FILES" | while read -r f; do
    [ -n "$f" ] || continue
    rel=${f#"$1"/}
    [ "$rel" != "$f" ] || { echo "$f is not below $1"; exit 1; }
    mkdir -p "$2/$(dirname "$rel")"
    cp "$f" "$2/$rel"
done
"""


def gen_of(path):
    return int(os.path.basename(path)[3:11], 16)


def backup(client, root, dest, flags, label):
    sid = int(client.manager("Prepare", "u", flags | systest.JET_bitContinueAfterThaw))
    lower = time.monotonic()
    info = systest.freeze_info_struct(client.manager("Freeze", "tu", sid, 0))
    upper = time.monotonic()
    chk = {i: int(client.instance_prop(i, "CheckpointGeneration")) for i in systest.TOPOLOGY}
    gens = {}
    for inst, fi in info.items():
        idir = os.path.join(root, inst)
        files = list(fi["files"])
        if not flags & systest.JET_bitIncrementalSnapshot:
            files += [p for p, _ in fi["databases"]]
        logs = sorted(gen_of(f) for f in fi["files"] if os.path.basename(f) != "jet.chk")
        check(logs, f"{label}: {inst}: freeze info lists no log generation: {fi['files']}")
        check(logs == list(range(logs[0], logs[-1] + 1)), f"{label}: {inst}: generations not contiguous: {logs}")
        check(not os.path.exists(os.path.join(fi["logdir"], "jet.log")), f"{label}: {inst}: jet.log exists while frozen")
        gens[inst] = logs
        for f in files:
            rel = os.path.relpath(f, idir)
            check(not rel.startswith(".."), f"{label}: {f} is outside instance directory {idir}")
            os.makedirs(os.path.dirname(os.path.join(dest, inst, rel)), exist_ok=True)
            shutil.copyfile(f, os.path.join(dest, inst, rel))
    client.manager("Thaw", "tu", sid, 0)
    client.manager("TruncateLog", "tu", sid, systest.JET_bitAllDatabasesSnapshot)
    client.manager("End", "tu", sid, 0)
    return {"lower": lower, "upper": upper, "label": label, "gens": gens, "chk": chk, "info": info}


def check_truncated(root, snap):
    """After TruncateLog, nothing below the checkpoint generation at freeze is left."""
    counts = {}
    for inst, chk in snap["chk"].items():
        logdir = os.path.join(root, inst, "logs")
        gens = systest.generation_files(logdir)
        check(not gens or gens[0] >= chk,
              f"{snap['label']}: {inst}: generation {gens[0]:08X} left, checkpoint was {chk:08X}")
        # ...and nothing recovery of the live instance still needs is gone.
        closed = snap["gens"][inst][-1]
        missing = [g for g in range(chk, closed + 1) if g not in gens]
        check(not missing, f"{snap['label']}: {inst}: TruncateLog deleted generations {missing} "
              f"at or above the checkpoint {chk:08X}")
        counts[inst] = len(gens)
    return counts


def restore(dest, parts):
    for part in parts:
        shutil.copytree(part, dest, dirs_exist_ok=True)


def test():
    systest.require_root()
    systest.require_binaries()
    tmp = systest.workdir()
    root = os.path.join(tmp, "data")
    bus = systest.start_bus(os.path.join(tmp, "bus"))
    daemon = systest.start_daemon(bus, os.path.join(tmp, "daemon"),
                                  systest.config_yaml(root, log_file_size="64KiB"))
    client = systest.connect(bus.address)

    # An incremental before any full backup has nothing to build on.
    sid = int(client.manager("Prepare", "u", systest.JET_bitIncrementalSnapshot))
    name = client.error_of("Freeze", "tu", sid, 0)
    check(name == systest.ERR + "MissingFullBackup", f"incremental without full: Freeze gave {name}")
    client.manager("End", "tu", sid, 0)

    load = loadgen.Load(bus.address, os.path.join(tmp, "load")).start()
    load.wait_progress(500)
    parts, snaps, counts = [], [], []
    for k in range(INCREMENTALS + 1):
        if k:
            load.wait_progress(600)  # several 64KiB generations between backups
        if k == INCREMENTALS:
            # Settle: give the checkpointer (1 s interval) room to pass everything the
            # previous backups hold, so this TruncateLog must empty the log of them.
            time.sleep(max(0.0, snaps[-1]["upper"] + SETTLE - time.monotonic()))
        dest = os.path.join(tmp, f"backup-{k}")
        flags = systest.JET_bitIncrementalSnapshot if k else 0
        snap = backup(client, root, dest, flags, f"incremental {k}" if k else "full")
        if k:
            for inst, gens in snap["gens"].items():
                prev = snaps[-1]["gens"][inst][-1]
                check(gens[0] == prev + 1, f"{snap['label']}: {inst}: starts at {gens[0]:08X}, previous ended {prev:08X}")
        parts.append(dest)
        snap["parts"] = list(parts)
        snaps.append(snap)
        counts.append(check_truncated(root, snap))
        if k == INCREMENTALS:
            for inst in systest.TOPOLOGY:
                prev = snaps[-2]["gens"][inst][-1]
                check(snap["chk"][inst] > prev, f"{snap['label']}: {inst}: checkpoint {snap['chk'][inst]:08X} "
                      f"still at or below {prev:08X} {SETTLE}s after the previous backup")
                left = systest.generation_files(os.path.join(root, inst, "logs"))
                check(not left or left[0] > prev, f"{snap['label']}: {inst}: generations of earlier backups "
                      f"left after TruncateLog: {left}")
        full = client.instance_prop("alpha", "LastFullBackup")
        check(int(full[1]) != 0, f"LastFullBackup not recorded: {full}")
        if k:
            inc = client.instance_prop("alpha", "LastIncrementalBackup")
            check(int(inc[0]) <= snap["gens"]["alpha"][-1] <= int(inc[1]),
                  f"LastIncrementalBackup {tuple(map(int, inc))} does not cover {snap['gens']['alpha']}")
    # One more incremental through the CLI: jetsnapctl snapshot --incremental -- COMMAND.
    load.wait_progress(600)
    dest = os.path.join(tmp, "backup-ctl")
    lower = time.monotonic()
    systest.jetsnapctl(bus.address, "snapshot", "--incremental", "--", "sh", "-c", COPY, "sh", root, dest)
    parts.append(dest)
    snaps.append({"lower": lower, "upper": time.monotonic(), "label": "incremental (jetsnapctl)",
                  "gens": "as listed in JETSNAP_FILES", "parts": list(parts)})
    load.stop()
    history = load.history()
    check(not history.errors(), f"commits failed: {history.errors()[:5]}")
    produced = {i: int(client.instance_prop(i, "CurrentGeneration")) for i in systest.TOPOLOGY}
    client.close()
    systest.stop_daemon(daemon)

    rbus = systest.start_bus(os.path.join(tmp, "rbus"))
    for k, snap in enumerate(snaps):
        dest = os.path.join(tmp, f"restore-{k}")
        restore(dest, snap["parts"])
        snap["path"] = dest
        # Every other image goes through the offline tool first (jetsnapctl recover).
        n = snapsuite.recover_and_check(rbus, tmp, snap, history, k, log_file_size="64KiB", offline=k % 2 == 1)
        log(f"{snap['label']}: generations {snap['gens']}, restored {n} commits"
            + (" (jetsnapctl recover first)" if k % 2 else ""))
    log(f"cycles: 1 full + {INCREMENTALS} incremental backups + 1 by jetsnapctl, each restored and checked")
    log(f"generation files after each TruncateLog: {counts}; generations produced: {produced}")


systest.main(test)
