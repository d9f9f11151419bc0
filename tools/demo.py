#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The jetsnap demo: a consistent copy of a live database, proven by recovery.

  demo.py WORKDIR      run the demo in WORKDIR (tools/demo.sh makes it and removes it)

Starts a private D-Bus daemon and jetsnapd on the embedded default
(STATE_DIRECTORY=WORKDIR/live/state), lets several writer processes commit
records as fast as the daemon acknowledges them, copies the state directory
with `jetsnapctl snapshot -- cp -a ...` while they go on, then starts a second
jetsnapd on the copy (recovery replays its log) and checks that every write
acknowledged before the freeze is there, and that the copy holds a prefix of
each writer's sequence: nothing half-done, nothing from after the freeze.

Environment: JETSNAPD, JETSNAPCTL (the built binaries), PYTHONPATH with
tests/lib (the test harness, reused here).
"""

import grp
import os
import signal
import subprocess
import sys
import time

import dbus

import jetsnaptest

WRITERS = 4
WRITE_SECONDS = 1.5     # before the snapshot, and again after it
MAX_COMMITS = 20000     # per writer: the demo stays bounded on any machine


def step(n, text):
    print(f"\n[{n}] {text}", flush=True)


def key_of(writer, seq):
    return f"w{writer}-{seq:07d}".encode()


def value_of(writer, seq):
    return f"value {seq} of writer {writer}".encode()


def instance(address):
    bus = dbus.bus.BusConnection(address)
    obj = bus.get_object("org.jetsnap1", "/org/jetsnap1/instance/default")
    return dbus.Interface(obj, "org.jetsnap1.Instance")


def writer_main(writer, address, ack_path, stop_path):
    """One client process: commit, and only after the reply log the ack."""
    inst = instance(address)
    with open(ack_path, "w") as acks:
        for seq in range(MAX_COMMITS):
            if os.path.exists(stop_path):
                break
            op = (dbus.Byte(ord("p")), "main", "demo",
                  dbus.ByteArray(key_of(writer, seq)), dbus.ByteArray(value_of(writer, seq)))
            # The reply waits while the instance is frozen: allow a whole freeze window.
            inst.Commit([op], signature="a(yssayay)", timeout=600)
            acks.write(f"{seq}\n")
            acks.flush()


def read_acks(path):
    with open(path) as f:
        return [int(line) for line in f if line.endswith("\n")]


def config_for(state_dir):
    """None (the embedded default) as root; for an ordinary user the same
    instance, with the user's group allowed, since the daemon admits only
    root and configured groups to the snapshot and data methods."""
    if os.geteuid() == 0:
        return None
    group = grp.getgrgid(os.getgid()).gr_name
    return (f"snapshot:\n  allowed-groups: [{group}]\n"
            f"instances:\n  - name: default\n    path: {state_dir}/default\n"
            f"    access-groups: [{group}]\n"
            f"    databases: [{{name: main, path: {state_dir}/default/main.jdb}}]\n")


def main():
    work = os.path.abspath(sys.argv[1])
    live, copy = os.path.join(work, "live"), os.path.join(work, "copy")
    os.makedirs(live)
    os.makedirs(copy)
    children = []
    bus = daemon = None

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)

    try:
        step(1, f"Private D-Bus daemon in {work} (open policy: works as root or as a user)")
        bus = jetsnaptest.Bus(work, policy="open")
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        print(f"    DBUS_SYSTEM_BUS_ADDRESS={bus.address}")

        state = os.path.join(live, "state")
        step(2, f"jetsnapd on the embedded default, STATE_DIRECTORY={state}")
        if os.geteuid() != 0:
            print(f"    (not root: a config naming group '{grp.getgrgid(os.getgid()).gr_name}' "
                  "in allowed-groups and access-groups)")
        daemon = jetsnaptest.Daemon(bus, live, config_for(state))
        print(f"    jetsnapd pid {daemon.pid} owns org.jetsnap1")

        step(3, f"{WRITERS} writer processes commit records over D-Bus, each logging every acknowledged commit")
        stop = os.path.join(work, "stop")
        for w in range(WRITERS):
            children.append(subprocess.Popen(
                [sys.executable, __file__, "--writer", str(w), bus.address,
                 os.path.join(work, f"acks-{w}"), stop], env=env))
        time.sleep(WRITE_SECONDS)
        print("    acknowledged so far: " +
              ", ".join(str(len(read_acks(os.path.join(work, f"acks-{w}")))) for w in range(WRITERS)))

        step(4, "jetsnapctl snapshot -- cp -a: copy the state directory while the instance is frozen")
        # Inside the freeze no commit is acknowledged, so the ack logs copied
        # first hold exactly the writes acknowledged before the freeze.
        script = (f'echo "    frozen: snapshot $JETSNAP_SNAPSHOT_ID, instances: $JETSNAP_INSTANCES"; '
                  f'mkdir {work}/pre && cp {work}/acks-* {work}/pre/ && '
                  f'cp -a {state} {copy}/state && echo "    copied {state} to {copy}/state"')
        cmd = [os.environ["JETSNAPCTL"], "snapshot", "--", "sh", "-c", script]
        print("    $ jetsnapctl snapshot -- sh -c 'copy the ack logs; cp -a STATE COPY'")
        r = subprocess.run(cmd, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"jetsnapctl snapshot failed with exit status {r.returncode}")
        print("    thawed, logs truncated, session ended: the stalled commits complete now")

        time.sleep(WRITE_SECONDS)
        with open(stop, "w"):
            pass
        for c in children:
            if c.wait(120) != 0:
                raise RuntimeError(f"writer {c.args[3]} failed with exit status {c.returncode}")
        children = []
        pre = {w: read_acks(os.path.join(work, "pre", f"acks-{w}")) for w in range(WRITERS)}
        acked = {w: read_acks(os.path.join(work, f"acks-{w}")) for w in range(WRITERS)}
        n_pre = sum(len(v) for v in pre.values())
        n_all = sum(len(v) for v in acked.values())
        print(f"    {n_pre} commits were acknowledged before the freeze, {n_all} in all")

        step(5, "Stop jetsnapd (SIGTERM: finish commits, checkpoint, exit 0)")
        rc = daemon.stop()
        if rc != 0:
            raise RuntimeError(f"jetsnapd exited with {rc}:\n{daemon.read_log()}")
        print("    exit status 0")

        copy_state = os.path.join(copy, "state")
        step(6, f"A second jetsnapd on the copy, STATE_DIRECTORY={copy_state}: recovery replays its log")
        daemon = jetsnaptest.Daemon(bus, copy, config_for(copy_state))
        print(f"    jetsnapd pid {daemon.pid} recovered the copy and owns org.jetsnap1")

        step(7, "Check the copy: every pre-freeze write is there, and each writer's records form a prefix")
        inst = instance(bus.address)
        missing = bad = 0
        present_total = 0
        for w in range(WRITERS):
            present = []
            for seq in acked[w]:
                try:
                    v = bytes(inst.Get("main", "demo", dbus.ByteArray(key_of(w, seq)), byte_arrays=True))
                except dbus.DBusException as e:
                    if e.get_dbus_name() != "org.jetsnap1.Error.RecordNotFound":
                        raise
                    present.append(False)
                    continue
                present.append(True)
                if v != value_of(w, seq):
                    bad += 1
            n_present = sum(present)
            present_total += n_present
            # Writer w commits in order, so a consistent image holds records 0..k-1 and nothing after.
            if present != [True] * n_present + [False] * (len(present) - n_present):
                raise RuntimeError(f"writer {w}: the copy has a hole in its sequence: not a consistent image")
            if n_present < len(pre[w]):
                missing += len(pre[w]) - n_present
            print(f"    writer {w}: {len(pre[w])} acknowledged before the freeze, "
                  f"{n_present} in the copy, {len(acked[w]) - n_present} later ones are not")
        if missing or bad:
            raise RuntimeError(f"{missing} acknowledged writes missing, {bad} with a wrong value")
        print(f"\nOK: all {n_pre} writes acknowledged before the freeze survived in the copy "
              f"({present_total} records, none from after it).")
        return 0
    except Exception as e:
        print(f"\nFAILED: {e}", file=sys.stderr)
        if daemon is not None:
            print("---- jetsnapd log ----\n" + daemon.read_log(), file=sys.stderr)
        return 1
    finally:
        for c in children:
            c.kill()
            c.wait()
        if daemon is not None and daemon.proc.poll() is None:
            daemon.kill()
        if bus is not None:
            bus.stop()


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--writer":
        writer_main(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
        sys.exit(0)
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main())
