"""A Spark standalone cluster on this machine, started the real way.

One master and N workers, each a JVM started from the pip pyspark install with
``spark-class org.apache.spark.deploy.master.Master`` / ``...worker.Worker`` (what
``sbin/start-master.sh`` and ``start-worker.sh`` run), bound to 127.0.0.1. Each worker has
its own work directory and a fixed number of cores and amount of memory. Everything lives
under one state folder::

    <root>/cluster.json          the master URL, ports and worker settings
    <root>/master.pid, worker-<i>.pid
    <root>/logs/master.log, worker-<i>.log
    <root>/worker-<i>/           the worker's work dir: app-*/<executor>/ (stdout, stderr, archives)

:meth:`StandaloneCluster.start` waits until the master's JSON status page lists every worker
as ALIVE; :meth:`StandaloneCluster.stop` stops only the processes of its PID files (checked
against the JVM property ``-Dnag.cluster.root=<root>`` they were started with) and whatever
still runs inside its work dirs (executors, Python workers). ``python -m nag_spark.cluster``
is the command line (``make cluster-up`` / ``make cluster-down``).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..logs import get_logger

log = get_logger(__name__)

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
# Short-lived daemons: the C1 compiler and the serial GC start a JVM about twice as fast.
DAEMON_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def spark_home() -> Path:
    """The Spark that pip's pyspark ships (``SPARK_HOME`` wins when it is set)."""
    env = os.environ.get("SPARK_HOME")
    if env:
        return Path(env)
    try:
        import pyspark
    except ImportError as exc:
        raise ConfigError("pyspark is not installed in this Python: activate the project's venv "
                          "(`source .venv/bin/activate`) or run `make venv`") from exc
    return Path(pyspark.__file__).resolve().parent


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class ClusterSpec:
    """What to start: ports, the number of workers and what each offers."""

    root: str
    port: int = 7077
    webui_port: int = 8080
    workers: int = 2
    worker_cores: int = 1
    worker_memory: str = "2g"
    host: str = "127.0.0.1"
    daemon_memory: str = "512m"
    worker_env: dict = field(default_factory=dict)

    @property
    def master_url(self) -> str:
        return f"spark://{self.host}:{self.port}"

    @property
    def status_url(self) -> str:
        return f"http://{self.host}:{self.webui_port}/json/"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def pids_inside(folder: Path) -> list[int]:
    """Processes whose working directory is ``folder`` or below (executors, Python workers)."""
    prefix, out = str(Path(folder).resolve()), []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cwd = os.readlink(f"/proc/{name}/cwd")
            except OSError:
                continue
            if (cwd == prefix or cwd.startswith(prefix + os.sep)) and _alive(int(name)):
                out.append(int(name))
    return out


def _kill(pids, sig) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


class StandaloneCluster:
    """A master and workers under ``spec.root`` (see the module docstring)."""

    def __init__(self, spec: ClusterSpec):
        self.spec = spec
        self.root = Path(spec.root).resolve()
        self._procs: dict[str, subprocess.Popen] = {}

    def _own_pid(self, name: str) -> int | None:
        proc = self._procs.get(name)
        if proc is not None and proc.poll() is None:
            return proc.pid
        return self.pid_of(name)

    def _running(self, name: str) -> bool:
        """Whether ``name`` runs: by its process handle when this object started it (its
        /proc entry shows our own command line until the child has exec'd), else by PID file."""
        proc = self._procs.get(name)
        return proc.poll() is None if proc is not None else self.pid_of(name) is not None

    # ---------------------------------------------------------------- files
    def _pid_file(self, name: str) -> Path:
        return self.root / f"{name}.pid"

    def worker_dir(self, i: int) -> Path:
        return self.root / f"worker-{i}"

    def pid_of(self, name: str) -> int | None:
        """The live, own process of ``name`` (``master``, ``worker-1``...), else None."""
        try:
            pid = int(self._pid_file(name).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) and self._owns(_cmdline(pid)) else None

    def _owns(self, cmdline: str) -> bool:
        # The JVM carries the tag; for its first moments the process is still the bash
        # script spark-class (running Spark's launcher), started with our class and port.
        if self._tag in cmdline:
            return True
        return "bin/spark-class" in cmdline and (MASTER_CLASS in cmdline or WORKER_CLASS in cmdline) \
            and self.spec.master_url.rsplit(":", 1)[1] in cmdline

    @property
    def _tag(self) -> str:
        return f"-Dnag.cluster.root={self.root}"

    def _env(self, extra: dict | None = None) -> dict:
        env = dict(os.environ, SPARK_HOME=str(spark_home()), SPARK_LOCAL_IP=self.spec.host,
                   SPARK_DAEMON_MEMORY=self.spec.daemon_memory,
                   SPARK_DAEMON_JAVA_OPTS=f"{self._tag} {DAEMON_JAVA_OPTIONS}")
        env.update({k: str(v) for k, v in (extra or {}).items()})
        return env

    def _launch(self, name: str, args: list[str], env: dict) -> int:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        spark_class = spark_home() / "bin" / "spark-class"
        with open(self.root / "logs" / f"{name}.log", "ab") as fh:
            # A session of its own: the daemons outlive the shell that ran `make cluster-up`.
            proc = subprocess.Popen([str(spark_class), *args], env=env, stdout=fh,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        self._pid_file(name).write_text(f"{proc.pid}\n")
        self._procs[name] = proc
        return proc.pid

    # ---------------------------------------------------------------- status
    def status(self) -> dict | None:
        """The master's JSON status (workers, apps), or None while it does not answer."""
        try:
            with urllib.request.urlopen(self.spec.status_url, timeout=5) as resp:
                return json.loads(resp.read().decode())
        except (OSError, ValueError):
            return None

    def alive_workers(self) -> list[dict]:
        status = self.status() or {}
        return [w for w in status.get("workers", []) if w.get("state") == "ALIVE"]

    def wait_for_workers(self, count: int, timeout: float = 180.0) -> None:
        """Wait until the master lists ``count`` ALIVE workers (a worker that died is
        listed DEAD only after the master's worker timeout, so count the live ones)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self._running("master"):
                raise ConfigError(f"the Spark master exited; see {self.root / 'logs' / 'master.log'}:\n"
                                  + self._log_tail("master"))
            if len(self.alive_workers()) >= count:
                return
            time.sleep(0.5)
        raise ConfigError(f"{count} Spark workers did not register with {self.spec.master_url} in "
                          f"{timeout:.0f}s; see {self.root / 'logs'}:\n" + self._log_tail("worker-1"))

    def _log_tail(self, name: str, lines: int = 15) -> str:
        try:
            return "\n".join((self.root / "logs" / f"{name}.log").read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # ---------------------------------------------------------------- start / stop
    def start(self, timeout: float = 180.0) -> str:
        """Start the master and the workers, wait until all are ALIVE; return the master URL."""
        spec = self.spec
        if self.pid_of("master") is not None:
            raise ConfigError(f"a Spark cluster is already running from {self.root} "
                              f"({spec.master_url}); stop it first (`make cluster-down`)")
        for what, port in (("master port", spec.port), ("master web UI port", spec.webui_port)):
            if not port_is_free(port, spec.host):
                raise ConfigError(f"the {what} {port} on {spec.host} is in use: pick another "
                                  "(SPARK_MASTER_PORT / SPARK_MASTER_WEBUI_PORT for make cluster-up)")
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._start_all(timeout)
        except BaseException:
            self.stop()  # nothing half-started stays behind
            raise
        (self.root / "cluster.json").write_text(json.dumps(
            dict(asdict(spec), root=str(self.root), master_url=spec.master_url), indent=1))
        log.info("Spark standalone cluster up: %s, %d workers x %d cores, %s", spec.master_url,
                 spec.workers, spec.worker_cores, spec.worker_memory)
        return spec.master_url

    def _start_all(self, timeout: float) -> None:
        spec = self.spec
        self._launch("master", [MASTER_CLASS, "--host", spec.host, "--port", str(spec.port),
                                "--webui-port", str(spec.webui_port)], self._env())
        deadline = time.time() + timeout
        while self.status() is None:
            if not self._running("master") or time.time() > deadline:
                raise ConfigError(f"the Spark master did not start; see {self.root / 'logs'}:\n"
                                  + self._log_tail("master"))
            time.sleep(0.5)
        for i in range(1, spec.workers + 1):
            self.start_worker(i, wait=False)
        self.wait_for_workers(spec.workers, timeout=max(10.0, deadline - time.time()))

    def worker_alive(self, i: int) -> bool:
        """Whether the master lists worker ``i`` (by its RPC port) as ALIVE."""
        try:
            port = int((self.root / f"worker-{i}.port").read_text())
        except (OSError, ValueError):
            return False
        return any(w.get("port") == port for w in self.alive_workers())

    def start_worker(self, i: int, wait: bool = True, env: dict | None = None,
                     timeout: float = 120.0) -> int:
        """Start worker ``i`` (again, after a kill), with ``env`` added to its environment
        (its executors inherit it); with ``wait``, until the master lists it ALIVE."""
        spec = self.spec
        work = self.worker_dir(i)
        work.mkdir(parents=True, exist_ok=True)
        port = free_port(spec.host)
        (self.root / f"worker-{i}.port").write_text(str(port))
        pid = self._launch(f"worker-{i}", [
            WORKER_CLASS, spec.master_url, "--host", spec.host, "--port", str(port),
            "--cores", str(spec.worker_cores), "--memory", spec.worker_memory,
            "--work-dir", str(work), "--webui-port", "0"],
            self._env({**spec.worker_env, **(env or {})}))
        deadline = time.time() + timeout
        while wait and not self.worker_alive(i):
            if not self._running(f"worker-{i}") or time.time() > deadline:
                raise ConfigError(f"Spark worker {i} did not register with {spec.master_url}; see "
                                  f"{self.root / 'logs'}:\n" + self._log_tail(f"worker-{i}"))
            time.sleep(0.5)
        return pid

    def kill_worker(self, i: int, timeout: float = 90.0) -> list[int]:
        """SIGKILL worker ``i`` and everything running in its work dir (its executors and
        their Python workers): a machine lost mid-job. Waits until the master has dropped
        it; returns the killed PIDs."""
        victims = pids_inside(self.worker_dir(i))
        pid = self._own_pid(f"worker-{i}")
        victims += [pid] if pid else []
        _kill(victims, signal.SIGKILL)
        deadline = time.time() + timeout
        while self.worker_alive(i) and time.time() < deadline:
            time.sleep(0.2)
        return victims

    def stop(self, timeout: float = 20.0) -> list[int]:
        """Stop this cluster's own processes (SIGTERM, then SIGKILL); return their PIDs."""
        names = [f"worker-{i}" for i in range(1, self.spec.workers + 1)] + ["master"]
        own = {n: p for n in names if (p := self._own_pid(n)) is not None}
        _kill(own.values(), signal.SIGTERM)
        deadline = time.time() + timeout
        while time.time() < deadline and any(_alive(p) for p in own.values()):
            for proc in self._procs.values():
                proc.poll()  # reap our own children, so that they do not linger as zombies
            time.sleep(0.2)
        leftovers = [p for p in own.values() if _alive(p)]
        for i in range(1, self.spec.workers + 1):
            leftovers += pids_inside(self.worker_dir(i))
        _kill(leftovers, signal.SIGKILL)
        for n in names:
            self._pid_file(n).unlink(missing_ok=True)
        log.info("Spark standalone cluster %s stopped (%d processes)", self.spec.master_url,
                 len(set(own.values()) | set(leftovers)))
        return sorted(set(own.values()) | set(leftovers))

    @classmethod
    def from_root(cls, root: str | Path) -> "StandaloneCluster":
        """The cluster described by ``<root>/cluster.json`` (written by :meth:`start`)."""
        path = Path(root).resolve() / "cluster.json"
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            raise ConfigError(f"no Spark cluster state at {path} (was `make cluster-up` run here?)") from None
        fields = {k: saved[k] for k in ClusterSpec.__dataclass_fields__ if k in saved}
        return cls(ClusterSpec(**fields))
