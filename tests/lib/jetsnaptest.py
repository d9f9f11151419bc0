# SPDX-License-Identifier: LGPL-2.1-or-later
"""Test harness: a private dbus-daemon and real jetsnapd processes.

Used by the integration and system suites (Python, python3-dbus) and, through
tests/lib/with-daemon, by C tests. Nothing here mocks the daemon: every test
talks to a real jetsnapd over a real bus.

Environment:
  JETSNAPD       path of the jetsnapd binary (meson sets it)
  JETSNAPCTL     path of jetsnapctl
  JETSNAP_SRC    source root (for systemd/org.jetsnap1.conf)
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

SYSTEM_CONF = "/usr/share/dbus-1/system.conf"


def _die_with_parent(cmd):
    """cmd, run so that it is SIGKILLed when the test process dies: a test that is
    itself SIGKILLed (meson's timeout) leaves no dbus-daemon or jetsnapd behind.
    setpriv sets PR_SET_PDEATHSIG and execs, so the pid stays the command's; unlike
    a preexec_fn it is safe while the test has threads. The signal follows the
    thread that started the process: start daemons from the main thread."""
    return ["setpriv", "--pdeathsig", "KILL", "--"] + list(cmd)


def _src_root():
    return os.environ.get("JETSNAP_SRC") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))


class Bus:
    """A private dbus-daemon.

    policy="system": the stock system bus policy plus systemd/org.jetsnap1.conf,
    so authorization behaves as on a real machine. policy="open": everyone may
    own and call everything (for runs as an ordinary user).
    """

    def __init__(self, workdir, policy="system"):
        self.dir = workdir
        self.socket = os.path.join(workdir, "bus.socket")
        self.address = "unix:path=" + self.socket
        conf = os.path.join(workdir, "bus.conf")
        with open(conf, "w") as f:
            f.write(self._config(policy))
        self.proc = subprocess.Popen(
            _die_with_parent(["dbus-daemon", "--config-file=" + conf, "--nofork", "--nopidfile"]),
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "bus.log"), "w"))
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dbus-daemon did not start: " +
                                   open(os.path.join(workdir, "bus.log")).read())
            time.sleep(0.01)
        # Let unprivileged test clients (run as nobody) connect.
        os.chmod(workdir, 0o755)
        os.chmod(self.socket, 0o777)

    def _config(self, policy):
        head = ('<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n'
                ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n<busconfig>\n'
                '  <type>system</type>\n  <auth>EXTERNAL</auth>\n'
                f'  <listen>unix:path={self.socket}</listen>\n'
                # Commit replies may wait for a whole freeze window.
                '  <limit name="reply_timeout">600000</limit>\n'
                # Load tests keep thousands of commits in flight on one connection
                # (the stock limit is 128 on the system bus).
                '  <limit name="max_replies_per_connection">8192</limit>\n')
        if policy == "open":
            return head + ('  <policy context="default">\n    <allow user="*"/>\n    <allow own="*"/>\n'
                           '    <allow send_type="method_call"/>\n    <allow send_type="signal"/>\n'
                           '    <allow send_requested_reply="true" send_type="method_return"/>\n'
                           '    <allow send_requested_reply="true" send_type="error"/>\n'
                           '    <allow receive_type="method_call"/>\n    <allow receive_type="method_return"/>\n'
                           '    <allow receive_type="error"/>\n    <allow receive_type="signal"/>\n'
                           '  </policy>\n</busconfig>\n')
        # The stock system policy, without its listen/user/fork/includes, plus ours.
        body = []
        with open(SYSTEM_CONF) as f:
            text = f.read()
        start = text.index('<policy context="default">')
        end = text.rindex("</policy>") + len("</policy>")
        body.append(text[start:end])
        body.append(f'  <include>{os.path.join(_src_root(), "systemd", "org.jetsnap1.conf")}</include>')
        return head + "\n".join(body) + "\n</busconfig>\n"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def name_has_owner(address, name="org.jetsnap1"):
    r = subprocess.run(["busctl", "--address=" + address, "call", "org.freedesktop.DBus",
                        "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s", name],
                       capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.strip() == "b true"


class Daemon:
    """A jetsnapd process on `bus`, with its state directory under workdir.

    config: YAML text written to workdir/jetsnapd.yaml, or None for the
    embedded default. Extra environment (e.g. under a sanitizer) via env.
    """

    def __init__(self, bus, workdir, config=None, env=None, args=()):
        self.bus = bus
        self.dir = workdir
        self.state_dir = os.path.join(workdir, "state")
        os.makedirs(self.state_dir, exist_ok=True)
        self.config_path = None
        if config is not None:
            self.config_path = os.path.join(workdir, "jetsnapd.yaml")
            with open(self.config_path, "w") as f:
                f.write(config)
        self.env = dict(os.environ)
        self.env["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address
        self.env["STATE_DIRECTORY"] = self.state_dir
        self.env.setdefault("SYSTEMD_LOG_LEVEL", "info")
        self.env.pop("NOTIFY_SOCKET", None)
        if env:
            self.env.update(env)
        self.args = list(args)
        self.proc = None
        self.log_path = os.path.join(workdir, "jetsnapd.log")
        self.start()

    def start(self, timeout=30):
        cmd = [os.environ.get("JETSNAPD", "jetsnapd")]
        if self.config_path:
            cmd += ["--config", self.config_path]
        cmd += self.args
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(_die_with_parent(cmd), env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not name_has_owner(self.bus.address):
            if self.proc.poll() is not None:
                raise RuntimeError(f"jetsnapd exited with {self.proc.returncode}:\n" + self.read_log())
            if time.monotonic() > deadline:
                raise RuntimeError("jetsnapd did not take its bus name:\n" + self.read_log())
            time.sleep(0.02)

    @property
    def pid(self):
        return self.proc.pid

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def kill(self, sig=signal.SIGKILL):
        """Kill and reap; returns the exit status (negative signal number)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(60)
        self.log.close()
        # The bus drops the name asynchronously; wait so a restart can take it.
        deadline = time.monotonic() + 10
        while name_has_owner(self.bus.address) and time.monotonic() < deadline:
            time.sleep(0.01)
        return rc

    def stop(self):
        """SIGTERM: the daemon thaws, finishes commits, checkpoints, exits 0."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        return self.kill(signal.SIGTERM)

    def restart(self):
        self.kill()
        self.start()


class Env:
    """Context manager: temp dir + bus + daemon; cleans up on every path."""

    def __init__(self, config=None, policy="system", env=None, args=(), keep=False):
        self.config, self.policy, self.extra_env, self.args, self.keep = config, policy, env, args, keep

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="jetsnap-test-")
        try:
            self.bus = Bus(self.dir, self.policy)
            cfg = self.config(self.dir) if callable(self.config) else self.config
            self.daemon = Daemon(self.bus, self.dir, cfg, env=self.extra_env, args=self.args)
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        d = getattr(self, "daemon", None)
        if d is not None and d.proc is not None and d.proc.poll() is None:
            d.kill()
        b = getattr(self, "bus", None)
        if b is not None:
            b.stop()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False
