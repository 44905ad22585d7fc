"""The Ray executor: one Ray task per cell, results handed back to the driver.

The driver (``run_suite``) alone decides which cells run and writes every result file; a worker
only returns the cell's record, so no shared filesystem is needed. Each task asks for
``cpus_per_cell`` CPUs (default the suite's ``threads``, else 1) and, for a CUDA suite, a GPU;
the worker sets torch's thread count to that itself. Before a node's first cell its worker
builds (or loads) the native library in the node-local cache under the existing file lock, so
concurrent workers on one node build it once; a node that cannot build records its cells as
failed with the build error (never silently as the ``reference`` implementation). A worker
process that dies (killed, out of memory) makes its cell ``failed`` with that reason and the
suite goes on; Ctrl-C cancels every outstanding task and keeps the finished cells.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import traceback
from typing import TYPE_CHECKING, Any

from upbench.engine.executors.base import CellFn, Executor, ExecutorConfig, OnResult

if TYPE_CHECKING:
    from upbench.engine.runner import Reporter
    from upbench.engine.suite import Cell

INSTALL_HINT = ("the ray executor needs Ray: pip install 'upbench[ray]' (or pip install 'ray>=2.9')"
                " on the driver and on every node of the cluster")


#: seconds a connection to a Ray cluster may take, over all of Ray's own retries
CONNECT_TIMEOUT_S = 60.0
#: Ray's settings that bound its connection attempts (set only when the user has not)
_RAY_TIMEOUT_ENV = ("RAY_gcs_rpc_server_connect_timeout_s", "RAY_gcs_server_request_timeout_seconds",
                    "RAY_py_gcs_connect_timeout_s", "RAY_gcs_server_port_wait_time_s")
_START_HINT = ("Start one with `ray start --head` and pass its address (--address or RAY_ADDRESS), "
               "or leave both unset for a local instance")


class ExecutorUnavailable(RuntimeError):
    """The executor cannot start (Ray missing, cluster unreachable); nothing has run."""


def host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a cluster address (``host:port`` or ``ray://host:port``), or None for
    the addresses Ray resolves itself (``auto``, ``local``).

    Raises:
        ExecutorUnavailable: a port that is not an integer in 1..65535.
    """
    rest = address.split("://", 1)[-1].rstrip("/")
    if rest in ("auto", "local", ""):
        return None
    host, sep, port = rest.rpartition(":")
    if not sep:
        return rest, 10001 if address.startswith("ray://") else 6379
    try:
        p = int(port)
    except ValueError:
        p = -1
    if not 1 <= p <= 65535:
        raise ExecutorUnavailable(f"the Ray address {address!r} has no valid port (host:port, "
                                  "port 1..65535)")
    return host.strip("[]") or "127.0.0.1", p


def probe_address(address: str, timeout: float) -> None:
    """Open (and close) a TCP connection to the cluster's address, each attempt bounded by
    ``timeout`` seconds, so an unreachable or refusing address fails at once instead of in
    Ray's unbounded retries.

    Raises:
        ExecutorUnavailable: naming the address and the reason.
    """
    hp = host_port(address)
    if hp is None:
        return
    try:
        with socket.create_connection(hp, timeout=timeout):
            pass
    except TimeoutError:
        raise ExecutorUnavailable(f"could not connect to the Ray cluster at {address!r}: no "
                                  f"answer within {timeout:g} s. {_START_HINT}") from None
    except OSError as e:
        why = e.strerror or str(e)
        raise ExecutorUnavailable(f"could not connect to the Ray cluster at {address!r}: {why}. "
                                  f"{_START_HINT}") from None


def _bounded_ray_env(timeout: float) -> None:
    secs = str(max(1, int(timeout)))
    for key in _RAY_TIMEOUT_ENV:
        os.environ.setdefault(key, secs)


def _watchdog(timeout: float, where: str) -> threading.Timer:
    """A timer that ends the process (exit 2, nothing has run yet) when Ray's connection is still
    not made after ``timeout`` seconds: Ray's native client retries without a bound that Python
    can interrupt."""

    def expire() -> None:
        sys.stderr.write(f"executor unavailable: could not connect to {where} within "
                         f"{timeout:g} s. {_START_HINT}\n")
        sys.stderr.flush()
        os._exit(2)

    t = threading.Timer(timeout, expire)
    t.daemon = True
    return t


def import_ray() -> Any:
    """``import ray``, or :class:`ExecutorUnavailable` saying how to install it."""
    try:
        import ray
    except ImportError as e:
        raise ExecutorUnavailable(INSTALL_HINT) from e
    return ray


def worker_cell(cell: Cell, threads: int, cell_fn: CellFn | None = None) -> dict[str, Any]:
    """Run one cell inside a Ray worker and return its record (module level: picklable).

    Sets torch's thread count (Ray's OMP default is not enough), makes sure this node's native
    library is built before the cell needs it, and never raises for a cell's own failure.
    """
    import torch

    from upbench.engine.runner import failed_record, run_cell

    torch.set_num_threads(threads)
    if cell.config.get("impl", "auto") != "reference":
        from upbench.ops import NativeBuildError, build

        try:
            build()  # node-local cache + file lock: one build per node, others wait and load
        except NativeBuildError as e:
            return failed_record(cell, f"native build failed on {socket.gethostname()}: {e}",
                                 traceback.format_exc(limit=5))
    return (cell_fn or run_cell)(cell)


class RayExecutor(Executor):
    """Runs each cell as a Ray task (``max_retries=0``: a lost worker fails its cell)."""

    name = "ray"

    def __init__(self, config: ExecutorConfig | None = None, cell_fn: CellFn | None = None) -> None:
        self.config = config or ExecutorConfig(kind="ray")
        self.cell_fn = cell_fn
        self.ray = import_ray()
        self._started = False

    # -- connection -------------------------------------------------------------------------
    def address(self) -> str | None:
        """The cluster to join: ``address`` of the config, else ``RAY_ADDRESS``, else none
        (a local instance)."""
        return self.config.address or os.environ.get("RAY_ADDRESS") or None

    def connect(self) -> None:
        """Join the cluster (or start a local Ray instance); reuse an existing connection.

        Every connection attempt has a timeout (``connect_timeout_s`` of the config, default
        60 s) when joining a cluster: its address is probed over TCP first (a refused or unreachable address fails at
        once), Ray's own retries are bounded by its timeout settings, and a watchdog ends the
        process with exit 2 if Ray still has not connected after the timeout.

        Raises:
            ExecutorUnavailable: the cluster cannot be reached (naming it and the reason).
        """
        ray = self.ray
        if ray.is_initialized():
            return
        addr = self.address()
        timeout = float(self.config.connect_timeout_s)
        where = f"the Ray cluster at {addr!r}" if addr else "a local Ray instance"
        watchdog = None
        if addr:  # a local instance is started here, it is not waited for
            probe_address(addr, min(timeout, 10.0))
            _bounded_ray_env(timeout)
            watchdog = _watchdog(timeout, where)
            watchdog.start()
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "logging_level": "ERROR", "configure_logging": True}
        try:
            if addr:
                ray.init(address=addr, **kwargs)
            else:
                ray.init(**kwargs)
        except Exception as e:
            raise ExecutorUnavailable(f"could not connect to {where}: {type(e).__name__}: {e}. "
                                      f"{_START_HINT}") from e
        finally:
            if watchdog is not None:
                watchdog.cancel()
        self._started = True

    def describe(self) -> str:
        ray = self.ray
        if not ray.is_initialized():
            return f"ray ({self.address() or 'local instance'})"
        res = ray.cluster_resources()
        nodes = len([n for n in ray.nodes() if n.get("Alive")])
        gpus = f", {res.get('GPU', 0):g} GPU" if res.get("GPU") else ""
        return (f"ray: {nodes} node(s), {res.get('CPU', 0):g} CPU{gpus} "
                f"({self.address() or 'local instance'})")

    # -- resources --------------------------------------------------------------------------
    def resources(self, cell: Cell) -> tuple[int, float]:
        """(CPUs, GPUs) the cell's task asks for."""
        cpus = self.config.cpus_per_cell or cell.config.get("threads") or 1
        gpus = self.config.gpus_per_cell
        if gpus is None:
            gpus = 1 if cell.config.get("device") == "cuda" else 0
        return int(cpus), float(gpus)

    # -- running ----------------------------------------------------------------------------
    def run(self, cells: list[Cell], on_result: OnResult,
            reporter: Reporter | None = None) -> None:
        from upbench.engine.runner import failed_record

        ray = self.ray
        self.connect()
        remote = ray.remote(worker_cell)
        pending: dict[Any, Cell] = {}
        try:
            for cell in cells:
                cpus, gpus = self.resources(cell)
                ref = remote.options(num_cpus=cpus, num_gpus=gpus, max_retries=0,
                                     name=f"upbench:{cell.label}:seed{cell.seed}").remote(
                    cell, cpus, self.cell_fn)
                pending[ref] = cell
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    cell = pending.pop(ref)
                    try:
                        record = ray.get(ref)
                    except ray.exceptions.RayError as e:
                        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                        record = failed_record(cell, f"worker lost: {type(e).__name__}: {first}")
                    on_result(cell, record)
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            if self._started:
                ray.shutdown()
                self._started = False
