# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared fixtures of the system suite: real jetsnapd, real file systems.

What lives here:
  - skip()/require_*(): the skip policy (exit 77, but exit 1 under CI=true,
    except for the LVM test, which may skip anywhere),
  - cleanup: one LIFO stack run from try/finally, atexit and SIGTERM/SIGINT/
    SIGHUP, so loop devices, mounts and processes never outlive a test,
  - Bus/Daemon wrappers from tests/lib/jetsnaptest.py plus typed D-Bus calls,
  - the standard topology (instance "alpha" with databases a1 and a2,
    instance "beta" with b1) and its config,
  - Inotify (ctypes), file hashing, loop devices and the Btrfs fixture
    (with reaping of what a SIGKILLed run left), stats.
The load generator and the recovery checker are in loadgen.py.
"""

import atexit
import ctypes
import hashlib
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

# meson runs the interpreter it found; when run by hand a python without
# python3-dbus may come first in PATH (pyenv): fall back to the system one.
try:
    import dbus
except ImportError:
    if os.path.exists("/usr/bin/python3") and not os.environ.get("JETSNAP_SYSTEST_REEXEC"):
        os.environ["JETSNAP_SYSTEST_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jetsnaptest  # noqa: E402

BUS_NAME = "org.jetsnap1"
MANAGER_PATH = "/org/jetsnap1"
MANAGER_IFACE = "org.jetsnap1.Manager"
INSTANCE_IFACE = "org.jetsnap1.Instance"
SNAPSHOT_IFACE = "org.jetsnap1.Snapshot"
ERR = "org.jetsnap1.Error."

# ese-semantics.md constants.
JET_bitIncrementalSnapshot = 0x1
JET_bitCopySnapshot = 0x2
JET_bitContinueAfterThaw = 0x4
JET_bitExplicitPrepare = 0x8
JET_bitAllDatabasesSnapshot = 0x1
JET_bitAbortSnapshot = 0x1

# A commit may wait for a whole freeze window; never let python-dbus give up first.
CALL_TIMEOUT = 120.0

# The standard topology: two instances, one of them with two databases so
# that transactions can span databases.
TOPOLOGY = {"alpha": ["a1", "a2"], "beta": ["b1"]}


def log(msg):
    print(msg, flush=True)


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def in_ci():
    return os.environ.get("CI") == "true"


def skip(reason, allowed_in_ci=False):
    """Skip loudly. Under CI=true a skip is a failure, except where allowed."""
    log(f"SKIP: {reason}")
    if in_ci() and not allowed_in_ci:
        log("FAIL: CI=true and this test may not be skipped")
        sys.exit(1)
    sys.exit(77)


def require_root():
    if os.geteuid() != 0:
        skip("needs root (loop devices, mounts, system bus policy)")


def require_binaries():
    for var in ("JETSNAPD", "JETSNAPCTL"):
        path = os.environ.get(var)
        if not path:
            skip(f"${var} is not set; run through 'meson test'")
        if not os.access(path, os.X_OK):
            # The build is broken, not the machine: that is a failure, not a skip.
            raise TestFailure(f"{var}={path} is not an executable")


# ---------------------------------------------------------------- cleanup

_cleanups = []
_owner_pid = os.getpid()


def on_cleanup(fn, *args, **kwargs):
    """Register fn to run at exit, LIFO. Returns a handle for cancel_cleanup()."""
    entry = (fn, args, kwargs)
    _cleanups.append(entry)
    return entry


def cancel_cleanup(entry):
    try:
        _cleanups.remove(entry)
    except ValueError:
        pass


def run_cleanups():
    # Forked workers inherit the stack; only the process that built it unwinds it.
    if os.getpid() != _owner_pid:
        return
    while _cleanups:
        fn, args, kwargs = _cleanups.pop()
        try:
            fn(*args, **kwargs)
        except Exception as e:  # keep unwinding: a stuck mount must not leak a loop device
            print(f"cleanup {getattr(fn, '__name__', fn)} failed: {e}", file=sys.stderr, flush=True)


def _on_signal(signum, frame):
    # Turn the signal into an exception so try/finally blocks run, then atexit.
    raise SystemExit(128 + signum)


atexit.register(run_cleanups)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def run(cmd, check_rc=True, **kwargs):
    r = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if check_rc and r.returncode != 0:
        raise TestFailure(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r


def main(fn):
    """Run a test body: exit 0 on success, 1 with a message on failure."""
    try:
        fn()
    except (TestFailure, Exception) as e:
        if isinstance(e, TestFailure):
            log(f"FAIL: {e}")
        else:  # an unexpected D-Bus error or the like: the traceback is the message
            import traceback
            log("FAIL: " + "".join(traceback.format_exception(e)))
        for d in _daemons:
            log(f"---- {d.log_path} (last lines) ----\n{tail(d.read_log())}")
        sys.exit(1)
    finally:
        run_cleanups()
    log("PASS")
    sys.exit(0)


def workdir(prefix="jetsnap-system-"):
    d = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("JETSNAP_SYSTEST_TMPDIR"))
    os.chmod(d, 0o755)
    with open(os.path.join(d, "owner.pid"), "w") as f:
        f.write(f"{os.getpid()}\n")
    if not os.environ.get("JETSNAP_SYSTEST_KEEP"):
        on_cleanup(shutil.rmtree, d, ignore_errors=True)
    else:
        log(f"keeping {d}")
    return d


# ---------------------------------------------------------------- bus + daemon

def start_bus(directory):
    """A private dbus-daemon; our policy file if it exists, else an open policy."""
    os.makedirs(directory, exist_ok=True)
    conf = os.path.join(jetsnaptest._src_root(), "systemd", "org.jetsnap1.conf")
    bus = jetsnaptest.Bus(directory, "system" if os.path.exists(conf) else "open")
    on_cleanup(bus.stop)
    return bus


_daemons = []  # every jetsnapd started, so a failure can show their logs


def start_daemon(bus, directory, config):
    os.makedirs(directory, exist_ok=True)
    daemon = jetsnaptest.Daemon(bus, directory, config)
    _daemons.append(daemon)
    on_cleanup(_kill_daemon, daemon)
    return daemon


def _kill_daemon(daemon):
    if daemon.proc is not None and daemon.proc.poll() is None:
        daemon.proc.kill()
        daemon.proc.wait(30)


def stop_daemon(daemon):
    """SIGTERM and demand a clean exit."""
    rc = daemon.stop()
    check(rc == 0, f"jetsnapd exited {rc} on SIGTERM:\n{tail(daemon.read_log())}")


def tail(text, n=40):
    return "\n".join(text.splitlines()[-n:])


def config_yaml(root, log_file_size="256KiB", freeze_timeout="30s", circular=False,
                topology=TOPOLOGY, paths=None):
    """design.md §6 config for the standard topology with everything under root.

    paths: optional {instance: dir} overriding root/<instance> (recovery of a
    restored image); databases always live inside their instance directory.
    """
    if paths is None:
        os.makedirs(root, exist_ok=True)  # jetsnapd creates the instance directory, not its parents
    lines = ["snapshot:", f"  freeze-timeout: {freeze_timeout}", "instances:"]
    for inst, dbs in topology.items():
        ipath = (paths or {}).get(inst, os.path.join(root, inst))
        lines += [f"  - name: {inst}", f"    path: {ipath}", f"    log-file-size: {log_file_size}",
                  f"    circular-logging: {'true' if circular else 'false'}", "    databases:"]
        for db in dbs:
            lines += [f"      - name: {db}", f"        path: {os.path.join(ipath, db + '.jdb')}",
                      "        map-size: 256MiB"]
    return "\n".join(lines) + "\n"


class Client:
    """Typed calls on one private connection (the test's own D-Bus client)."""

    def __init__(self, address):
        self.conn = dbus.bus.BusConnection(address)
        self._paths = None

    def close(self):
        self.conn.close()

    def call(self, path, iface, method, sig="", args=(), timeout=CALL_TIMEOUT, **kw):
        return self.conn.call_blocking(BUS_NAME, path, iface, method, sig, list(args),
                                       timeout=timeout, **kw)

    def manager(self, method, sig="", *args, **kw):
        return self.call(MANAGER_PATH, MANAGER_IFACE, method, sig, args, **kw)

    def error_of(self, method, sig="", *args):
        """Call a Manager method expected to fail; return the D-Bus error name (None on success)."""
        try:
            self.manager(method, sig, *args)
        except dbus.exceptions.DBusException as e:
            return e.get_dbus_name()
        return None

    def prop(self, path, iface, name):
        return self.call(path, "org.freedesktop.DBus.Properties", "Get", "ss", (iface, name))

    def instance_paths(self):
        if self._paths is None:
            self._paths = {str(n): str(p) for n, p in self.manager("ListInstances")}
        return self._paths

    def instance_state(self, inst):
        return str(self.prop(self.instance_paths()[inst], INSTANCE_IFACE, "State"))

    def instance_prop(self, inst, name):
        return self.prop(self.instance_paths()[inst], INSTANCE_IFACE, name)

    def active_snapshot(self):
        return int(self.prop(MANAGER_PATH, MANAGER_IFACE, "ActiveSnapshotId"))

    def snapshot_state(self, snap_id):
        return str(self.prop(f"/org/jetsnap1/snapshot/{snap_id}", SNAPSHOT_IFACE, "State"))

    def scan(self, inst, db, table):
        """The whole table. A Scan reply is capped (records and bytes), so page on."""
        out, start = {}, b""
        while True:
            recs = self.call(self.instance_paths()[inst], INSTANCE_IFACE, "Scan", "ssayayu",
                             (db, table, start, b"", 0), byte_arrays=True)
            if not recs:
                return out
            for k, v in recs:
                out[bytes(k)] = bytes(v)
            start = bytes(recs[-1][0]) + b"\0"  # the smallest key after the last one

    def wait_running(self, instances, timeout=60):
        """Wait until every instance reports State "running"; fail on "failed"."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                states = {i: self.instance_state(i) for i in instances}
            except dbus.exceptions.DBusException as e:
                states = {"?": e.get_dbus_name()}
                self._paths = None
            if all(s == "running" for s in states.values()):
                return
            check("failed" not in states.values(), f"instance failed: {states}")
            check(time.monotonic() < deadline, f"instances not running after {timeout}s: {states}")
            time.sleep(0.02)


def connect(address, instances=TOPOLOGY, timeout=60):
    c = Client(address)
    c.wait_running(list(instances), timeout)
    return c


def freeze_info_struct(info):
    """Freeze info a(tsa(ss)sas) -> {name: {"id", "databases": [(path, name)], "logdir", "files"}}."""
    out = {}
    for iid, name, dbs, logdir, files in info:
        out[str(name)] = {"id": int(iid), "databases": [(str(p), str(n)) for p, n in dbs],
                          "logdir": str(logdir), "files": [str(f) for f in files]}
    return out


def jetsnapctl(address, *args, check_rc=True, timeout=120):
    env = dict(os.environ)
    env["DBUS_SYSTEM_BUS_ADDRESS"] = address
    r = subprocess.run([os.environ["JETSNAPCTL"], *args], capture_output=True, text=True,
                       env=env, timeout=timeout)
    if check_rc and r.returncode != 0:
        raise TestFailure(f"jetsnapctl {' '.join(args)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r


# ---------------------------------------------------------------- file watching

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
WRITE_EVENTS = (IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
                | IN_DELETE_SELF | IN_MOVE_SELF)
_EVENT_NAMES = {IN_MODIFY: "MODIFY", IN_ATTRIB: "ATTRIB", IN_CLOSE_WRITE: "CLOSE_WRITE",
                IN_MOVED_FROM: "MOVED_FROM", IN_MOVED_TO: "MOVED_TO", IN_CREATE: "CREATE",
                IN_DELETE: "DELETE", IN_DELETE_SELF: "DELETE_SELF", IN_MOVE_SELF: "MOVE_SELF",
                IN_Q_OVERFLOW: "Q_OVERFLOW"}

_libc = ctypes.CDLL(None, use_errno=True)


class Inotify:
    """inotify_init1()/inotify_add_watch() through ctypes; events as (path, name, mask names)."""

    def __init__(self):
        fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.fd = fd
        self.wds = {}

    def add(self, path, mask=WRITE_EVENTS):
        wd = _libc.inotify_add_watch(self.fd, os.fsencode(path), ctypes.c_uint32(mask))
        if wd < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")
        self.wds[wd] = path

    def read(self, timeout=0.0):
        """Events available within timeout seconds (0: only those already queued)."""
        events = []
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.0, deadline - time.monotonic())
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                return events
            buf = os.read(self.fd, 65536)
            off = 0
            while off < len(buf):
                wd, mask, _cookie, n = struct.unpack_from("iIII", buf, off)
                name = buf[off + 16:off + 16 + n].rstrip(b"\0").decode(errors="replace")
                off += 16 + n
                names = [v for k, v in _EVENT_NAMES.items() if mask & k]
                events.append((self.wds.get(wd, "?"), name, names))
            if timeout == 0.0 or events:
                return events

    def close(self):
        os.close(self.fd)


def hash_tree(directory, exclude=lambda path: False):
    """{relative path: sha256} of every regular file below directory."""
    out = {}
    for dirpath, _dirs, files in os.walk(directory):
        for f in files:
            p = os.path.join(dirpath, f)
            if exclude(p):
                continue
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            out[os.path.relpath(p, directory)] = h.hexdigest()
    return out


def is_lmdb_lock(path):
    # LMDB's reader table is shared memory for readers, not data: reads touch it.
    return path.endswith("-lock")


def generation_files(logdir):
    """Archived generation numbers (jetNNNNNNNN.log) in a log directory."""
    gens = []
    for f in os.listdir(logdir):
        if len(f) == 15 and f.startswith("jet") and f.endswith(".log") and f != "jet.log":
            try:
                gens.append(int(f[3:11], 16))
            except ValueError:
                pass
    return sorted(gens)


# ---------------------------------------------------------------- file systems

def require_btrfs():
    """Skip unless root, btrfs-progs, loop devices and kernel btrfs are here."""
    require_root()
    for tool in ("mkfs.btrfs", "btrfs", "losetup", "mount", "umount"):
        if not shutil.which(tool):
            skip(f"Btrfs: {tool} not found (install btrfs-progs / util-linux)")
    if not os.path.exists("/dev/loop-control"):
        skip("Btrfs: no loop devices (/dev/loop-control missing)")
    with open("/proc/filesystems") as f:
        have = any(line.split()[-1] == "btrfs" for line in f if line.strip())
    if not have:
        subprocess.run(["modprobe", "btrfs"], capture_output=True)
        with open("/proc/filesystems") as f:
            if not any(line.split()[-1] == "btrfs" for line in f if line.strip()):
                skip("Btrfs: the kernel has no btrfs support")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def reap_stale_loops():
    """Unmount and detach what a SIGKILLed earlier run (no cleanup possible) left.

    Only loop devices backed by <workdir>/disk.img of a workdir whose
    owner.pid is dead, or whose file is gone, are touched.
    """
    r = run(["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"], check_rc=False)
    for line in r.stdout.splitlines():
        parts = line.split(None, 1)
        if len(parts) != 2:
            continue
        dev, back = parts[0], parts[1].strip()
        deleted = back.endswith(" (deleted)")
        back = back.removesuffix(" (deleted)")
        d = os.path.dirname(back)
        if os.path.basename(back) != "disk.img" or not os.path.basename(d).startswith("jetsnap-system-"):
            continue
        try:
            with open(os.path.join(d, "owner.pid")) as f:
                owner = int(f.read())
        except (OSError, ValueError):
            owner = None
        if owner is not None and _pid_alive(owner) and not deleted:
            continue
        with open("/proc/self/mounts") as f:
            mounts = [m.split()[1] for m in f if m.split()[1].startswith(d + "/") or m.split()[0] == dev]
        for m in sorted(mounts, key=len, reverse=True):
            umount(m)
        run(["losetup", "-d", dev], check_rc=False)
        shutil.rmtree(d, ignore_errors=True)
        log(f"reaped {dev} of a dead earlier run ({back})")


class LoopFile:
    """A sparse file attached to a loop device; detached on cleanup."""

    def __init__(self, directory, size="1G"):
        reap_stale_loops()
        self.image = os.path.join(directory, "disk.img")
        run(["truncate", "-s", size, self.image])
        r = run(["losetup", "--find", "--show", self.image], check_rc=False)
        if r.returncode != 0:
            skip(f"loop device: losetup failed: {r.stderr.strip()}")
        self.device = r.stdout.strip()
        on_cleanup(self.detach)

    def detach(self):
        if self.device:
            run(["losetup", "-d", self.device], check_rc=False)
            self.device = None


def mount(device, mountpoint, *opts):
    os.makedirs(mountpoint, exist_ok=True)
    cmd = ["mount"] + (["-o", ",".join(opts)] if opts else []) + [device, mountpoint]
    r = run(cmd, check_rc=False)
    if r.returncode != 0:
        raise TestFailure(f"mount {device} {mountpoint}: {r.stderr.strip()}")
    on_cleanup(umount, mountpoint)


def umount(mountpoint):
    for _ in range(50):
        r = run(["umount", mountpoint], check_rc=False)
        if r.returncode == 0 or "not mounted" in r.stderr:
            return
        time.sleep(0.1)  # a just-killed process may still hold a file open
    run(["umount", "-l", mountpoint], check_rc=False)


class Btrfs:
    """A loop-mounted Btrfs with one subvolume for the instances."""

    def __init__(self, directory, size="1G"):
        self.loop = LoopFile(directory, size)
        run(["mkfs.btrfs", "-q", "-f", self.loop.device])
        self.mnt = os.path.join(directory, "mnt")
        mount(self.loop.device, self.mnt)
        self.subvol = os.path.join(self.mnt, "data")
        run(["btrfs", "subvolume", "create", self.subvol])
        self.snapdir = os.path.join(self.mnt, "snapshots")
        os.makedirs(self.snapdir)

    def make_writable(self, path):
        run(["btrfs", "property", "set", "-ts", path, "ro", "false"])


# ---------------------------------------------------------------- stats

def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def report_latencies(label, seconds):
    log(f"{label}: n={len(seconds)} p50={percentile(seconds, 50) * 1000:.2f} ms "
        f"p99={percentile(seconds, 99) * 1000:.2f} ms max={max(seconds, default=0) * 1000:.2f} ms")
