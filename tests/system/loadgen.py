# SPDX-License-Identifier: LGPL-2.1-or-later
"""Load generator and recovery checker of the system suite.

Workers are separate processes (`python3 loadgen.py worker ...`), each one a
sequential client: it sends a Commit, waits for the reply, records it, sends
the next. Every commit puts a key no other commit uses, so what a recovered
image holds tells exactly which commits it contains. Each worker appends to
its own record file, one JSON line per event, unbuffered:

  {"s": seq, "t": mono, "i": instance, "ops": [[kind, db, table, key, value], ...]}   sent
  {"a": seq, "t": mono, "w": wall, "l": lsn}                                           acknowledged
  {"e": seq, "t": mono, "n": "D-Bus error name"}                                       failed

Times are CLOCK_MONOTONIC (shared by all processes) plus CLOCK_REALTIME for
acks. Transaction kinds (workers 3, 7, ... do B, the others A, AA, AD), each
also setting the worker's counter ("c"/"ctr-wNN" = seq) in every database it
touches:

  A   alpha/a1: put t/K, put x/K
  AA  alpha/a1 + alpha/a2: put t/K in both (a multi-database transaction)
  AD  alpha/a1: put t/K, delete x/K' for an earlier acknowledged A commit
  B   beta/b1: put t/K
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import systest  # noqa: E402
from systest import check, log  # noqa: E402

dbus = systest.dbus

# Workers 3, 7, ... commit to beta, the others to alpha: so both instances
# always have a client waiting on them while frozen, whatever the dice say.
ALPHA_KINDS = (("A", 50), ("AA", 35), ("AD", 15))
BETA_KINDS = (("B", 1),)
TABLES = ("t", "c", "x")


# ---------------------------------------------------------------- worker

def _build_ops(kind, idx, seq, key, value, victim):
    ctr = (f"ctr-w{idx:02d}", str(seq))
    if kind == "A":
        return "alpha", [["p", "a1", "t", key, value], ["p", "a1", "x", key, value], ["p", "a1", "c", *ctr]]
    if kind == "AA":
        return "alpha", [["p", "a1", "t", key, value], ["p", "a2", "t", key, value],
                         ["p", "a1", "c", *ctr], ["p", "a2", "c", *ctr]]
    if kind == "AD":
        ops = [["p", "a1", "t", key, value], ["p", "a1", "c", *ctr]]
        if victim:
            ops.append(["d", "a1", "x", victim, ""])
        return "alpha", ops
    return "beta", [["p", "b1", "t", key, value], ["p", "b1", "c", *ctr]]


def worker_main(idx, address, recfile, seed, pace):
    # Die with the test: a SIGKILLed test must not leave clients committing forever.
    PR_SET_PDEATHSIG = 1
    systest._libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        return
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    rnd = random.Random(seed)
    fd = os.open(recfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)

    def record(obj):
        os.write(fd, (json.dumps(obj, separators=(",", ":")) + "\n").encode())

    conn, paths = None, None
    deletable = []  # x keys of acknowledged A commits not yet deleted
    kinds, weights = zip(*(BETA_KINDS if idx % 4 == 3 else ALPHA_KINDS))
    seq = 0
    while not stop:
        if conn is None:
            try:
                conn = dbus.bus.BusConnection(address)
            except dbus.exceptions.DBusException:
                time.sleep(0.05)
                continue
        if paths is None:
            try:
                paths = {str(n): str(p) for n, p in conn.call_blocking(
                    systest.BUS_NAME, systest.MANAGER_PATH, systest.MANAGER_IFACE, "ListInstances", "", [],
                    timeout=10)}
            except dbus.exceptions.DBusException:
                time.sleep(0.02)  # daemon restarting
                continue
        seq += 1
        kind = rnd.choices(kinds, weights)[0]
        key = f"w{idx:02d}-{seq:07d}"
        # Variable sizes so records straddle block and generation boundaries.
        value = f"v{idx}.{seq}." + "%x" % rnd.getrandbits(64) * rnd.randint(1, 24)
        victim = None
        if kind == "AD" and deletable:
            victim = deletable.pop(rnd.randrange(len(deletable)))
        inst, ops = _build_ops(kind, idx, seq, key, value, victim)
        wire = [(ord(k), db, t, kk.encode(), v.encode()) for k, db, t, kk, v in ops]
        record({"s": seq, "t": time.monotonic(), "i": inst, "ops": ops})
        try:
            lsn = conn.call_blocking(systest.BUS_NAME, paths[inst], systest.INSTANCE_IFACE, "Commit",
                                     "a(yssayay)", [wire], timeout=systest.CALL_TIMEOUT)
            record({"a": seq, "t": time.monotonic(), "w": time.time(), "l": int(lsn)})
            if kind == "A":
                deletable.append(key)
        except dbus.exceptions.DBusException as e:
            name = e.get_dbus_name() or "?"
            record({"e": seq, "t": time.monotonic(), "n": name})
            if name == "org.freedesktop.DBus.Error.Disconnected":
                conn, paths = None, None
            time.sleep(0.02)  # daemon gone or pushing back: do not spin
        if pace:
            time.sleep(rnd.uniform(0, 2 * pace))
    os.close(fd)


# ---------------------------------------------------------------- parent side

class Commit:
    __slots__ = ("worker", "seq", "inst", "ops", "sent", "acked", "wall", "lsn", "error")

    def __init__(self, worker, seq, inst, ops, sent):
        self.worker, self.seq, self.inst, self.ops, self.sent = worker, seq, inst, ops, sent
        self.acked = self.wall = self.lsn = self.error = None

    def witnesses(self):
        """(db, key, value) of the unique keys this commit puts in table t."""
        return [(db, k.encode(), v.encode()) for kind, db, t, k, v in self.ops if t == "t"]

    def __repr__(self):
        return (f"commit w{self.worker}/{self.seq} on {self.inst} sent={self.sent:.6f} "
                f"acked={self.acked} lsn={self.lsn} err={self.error}")


class History:
    def __init__(self, commits):
        self.commits = commits
        self.by_worker = {}
        for c in commits:
            self.by_worker.setdefault(c.worker, []).append(c)
        for lst in self.by_worker.values():
            lst.sort(key=lambda c: c.seq)

    def acked(self):
        return [c for c in self.commits if c.acked is not None]

    def errors(self):
        return [c for c in self.commits if c.error is not None]

    def in_flight_at(self, t):
        """Commits sent before t whose reply had not arrived at t."""
        return [c for c in self.commits if c.sent < t and (c.acked is None or c.acked > t) and c.error is None]


class Load:
    """N worker processes committing to the daemon on `address`."""

    def __init__(self, address, directory, n=8, pace=0.0, seed=None):
        self.address, self.dir, self.n, self.pace = address, directory, n, pace
        self.seed = seed if seed is not None else random.randrange(1 << 30)
        self.procs = []
        os.makedirs(directory, exist_ok=True)
        self.files = [os.path.join(directory, f"worker{i:02d}.jsonl") for i in range(n)]

    def start(self):
        log(f"load: {self.n} workers, seed {self.seed}")
        for i in range(self.n):
            p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "worker", str(i), self.address,
                                  self.files[i], str(self.seed * 1000 + i), str(self.pace)])
            self.procs.append(p)
            systest.on_cleanup(_reap, p)
        return self

    def stop(self, grace=60):
        """SIGTERM: each worker finishes its commit in flight and exits."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        bad = [p.returncode for p in self.procs if p.returncode not in (0, -signal.SIGKILL)]
        check(not bad, f"load workers exited with {bad}")

    def alive(self):
        return all(p.poll() is None for p in self.procs)

    def history(self):
        commits = []
        for i, path in enumerate(self.files):
            by_seq = {}
            try:
                with open(path) as f:
                    lines = f.read().split("\n")
            except FileNotFoundError:
                continue
            for line in lines:
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except ValueError:
                    continue  # a line being written right now
                if "s" in r:
                    by_seq[r["s"]] = Commit(i, r["s"], r["i"], r["ops"], r["t"])
                elif "a" in r and r["a"] in by_seq:
                    c = by_seq[r["a"]]
                    c.acked, c.wall, c.lsn = r["t"], r["w"], r["l"]
                elif "e" in r and r["e"] in by_seq:
                    c = by_seq[r["e"]]
                    c.error = r["n"]
            commits.extend(by_seq.values())
        return History(commits)

    def wait_progress(self, n_acks, timeout=60):
        """Wait until at least n_acks more commits than now have been acknowledged."""
        start = len(self.history().acked())
        deadline = time.monotonic() + timeout
        while len(self.history().acked()) < start + n_acks:
            check(self.alive(), "a load worker died")
            check(time.monotonic() < deadline, f"load made no progress ({n_acks} acks) in {timeout}s")
            time.sleep(0.05)


def _reap(p):
    if p.poll() is None:
        p.kill()
        p.wait()


# ---------------------------------------------------------------- checker

def fetch_state(client, topology=systest.TOPOLOGY):
    """{(db, table): {key: value}} of every table the load writes."""
    state = {}
    for inst, dbs in topology.items():
        for db in dbs:
            for t in TABLES:
                state[(db, t)] = client.scan(inst, db, t)
    return state


def verify(state, history, lower=None, upper=None, exact=True, resolved=lambda c: True, what="image"):
    """Check a database state against the commit history.

    lower: every commit acknowledged before this monotonic time must be present.
    upper: no commit sent at or after this time may be present.
    exact: the state is a quiescent image of this history (a snapshot): no key
      from nowhere, counters and table x exactly as the applied commits left
      them. Live checks (crash loop) pass exact=False and resolved= to say
      which commits can no longer change (sent before the kill).
    Raises TestFailure listing the first problems; returns the applied commits.
    """
    errors = []

    def err(msg):
        if len(errors) < 25:
            errors.append(msg)

    applied = {}
    for c in history.commits:
        if not resolved(c):
            continue
        present = []
        for db, key, value in c.witnesses():
            got = state[(db, "t")].get(key)
            if got is not None and got != value:
                err(f"{c}: {db}/t/{key.decode()} = {got[:40]!r}, committed {value[:40]!r}")
            present.append(got is not None)
        if any(present) != all(present):
            err(f"{c}: torn multi-database transaction, present per database: {present}")
        applied[c] = all(present)
        if lower is not None and c.acked is not None and c.acked < lower and not applied[c]:
            err(f"{c}: acknowledged {lower - c.acked:.3f}s before the bound but missing")
        if upper is not None and applied[c] and c.sent >= upper:
            err(f"{c}: present, but sent {c.sent - upper:.3f}s after the bound (value from the future)")

    # A worker is sequential, so in one instance's log its commits are in
    # seq order: nothing acknowledged may be missing below a present commit.
    for w, commits in history.by_worker.items():
        for inst in systest.TOPOLOGY:
            mine = [c for c in commits if c.inst == inst and c in applied]
            top = max((c.seq for c in mine if applied[c]), default=0)
            for c in mine:
                if c.seq < top and c.acked is not None and not applied[c]:
                    err(f"{c}: missing below present w{w}/{top} on {inst} (hole in the log)")

    if exact:
        _verify_exact(state, history, applied, err)
    else:
        for w, commits in history.by_worker.items():
            for db in [d for dbs in systest.TOPOLOGY.values() for d in dbs]:
                need = max((c.seq for c in commits if c.acked is not None and lower is not None
                            and c.acked < lower and any(o[1] == db for o in c.ops)), default=0)
                got = state[(db, "c")].get(f"ctr-w{w:02d}".encode())
                if need and (got is None or int(got) < need):
                    err(f"counter {db}/c/ctr-w{w:02d} = {got}, acknowledged up to {need}")

    if errors:
        raise systest.TestFailure(f"{what}: {len(errors)}+ inconsistencies:\n  " + "\n  ".join(errors))
    return [c for c, a in applied.items() if a]


def _verify_exact(state, history, applied, err):
    known = {}
    for c in history.commits:
        for db, key, _ in c.witnesses():
            known[(db, key)] = c
    for (db, t), recs in state.items():
        if t == "t":
            for key in recs:
                if (db, key) not in known:
                    err(f"{db}/t/{key[:40]!r}: key no commit ever wrote")
    expect = {(db, t): {} for (db, t) in state if t in ("c", "x")}
    for w, commits in history.by_worker.items():
        for c in commits:
            if not applied.get(c):
                continue
            for kind, db, t, k, v in c.ops:
                if t == "t":
                    continue
                if kind == "p":
                    expect[(db, t)][k.encode()] = v.encode()
                else:
                    expect[(db, t)].pop(k.encode(), None)
    for slot, want in expect.items():
        got = state[slot]
        for k in set(want) | set(got):
            if want.get(k) != got.get(k):
                err(f"{slot[0]}/{slot[1]}/{k.decode(errors='replace')}: image has {got.get(k)!r}, "
                    f"the applied commits leave {want.get(k)!r}")


def max_stall(history, windows):
    """Longest commit latency (send to reply) among commits in flight during any window."""
    worst = 0.0
    for c in history.acked():
        for a, b in windows:
            if c.sent < b and c.acked > a:
                worst = max(worst, c.acked - c.sent)
                break
    return worst


if __name__ == "__main__" and len(sys.argv) == 7 and sys.argv[1] == "worker":
    worker_main(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6]))
