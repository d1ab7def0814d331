"""The Ray executor runtime (`--executor ray`, optional): what `synthesize` (clips) and `bench` (folds) share.

Ray is the optional extra `pip install 'occmer[ray]'` and is imported only here, only when a
command is asked to run on it, so the local executor (the default) never loads it. This module
checks the executor options, joins or starts a Ray for the length of a run, and collects the
results of tasks as they end: a task whose worker process dies is re-run by Ray
(`RAY_MAX_RETRIES`); an exception raised by the task's own code is not retried (it would fail
the same way again) and stops the run as it would locally.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from occmer.errors import ConfigError, OccmerError

EXECUTORS = ("local", "ray")
# A task whose worker process dies (killed, out of memory, node lost) is run again this many times.
RAY_MAX_RETRIES = 3
# How long the head node of --ray-address gets to accept a TCP connection. Ray itself retries an
# unreachable address for minutes before it gives up; a head that is up answers in milliseconds.
RAY_CONNECT_TIMEOUT_S = 10.0
# How long `ray.init` gets to join a cluster (--ray-address, auto, $RAY_ADDRESS). Joining a live
# head takes seconds; a port that accepts TCP but is no Ray head, or a stale address that "auto"
# read from Ray's last `ray start`, makes Ray retry for many minutes.
RAY_JOIN_TIMEOUT_S = 60.0

Key = TypeVar("Key")


@dataclass(frozen=True)
class ExecutorChoice:
    """`--executor`, `--ray-address`, `--cpus-per-task`, checked together."""

    name: str = "local"
    ray_address: str | None = None
    cpus_per_task: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in EXECUTORS:
            raise ConfigError(f"--executor {self.name!r}: choose one of {', '.join(EXECUTORS)}")
        if self.name == "local" and self.ray_address:
            raise ConfigError("--ray-address goes with --executor ray")
        if self.ray_address:
            check_port(self.ray_address)
        if not 0 < self.cpus_per_task <= 1024:
            raise ConfigError(f"--cpus-per-task {self.cpus_per_task}: CPUs must be > 0 (and at most 1024)")

    def check_available(self) -> None:
        """ConfigError now, before any work, when Ray is asked for but not installed or not reachable."""
        if self.name == "ray":
            import_ray()
            if self.ray_address:
                check_reachable(self.ray_address)

    @property
    def threads(self) -> int:
        """Threads a task's native libraries (torch, OpenCV) use: the CPUs it declared, at least one."""
        return int(max(1, self.cpus_per_task))


def import_ray():
    """The `ray` module, or a one-line ConfigError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray needs Ray: install it with `pip install 'occmer[ray]'` (ray==2.60.0)"
        ) from None
    return ray


def head_endpoint(address: str) -> tuple[str, int] | None:
    """(host, port) of a `--ray-address` that names one ("host:port", "ray://host:port"), else None:
    "auto" and "local" (Ray finds the cluster itself) and the forms Ray resolves on its own (other
    schemes, a default port), which are left to Ray rather than refused."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")  # an IPv6 literal, [::1]:6379
    if "://" in host or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def check_port(address: str) -> None:
    """A ConfigError now for a `host:port` whose port is not 1..65535 (Ray would retry it for minutes)."""
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if "://" in rest or not sep or not host.strip("[]"):
        return  # "auto", "local", another scheme or a bare host: Ray resolves those itself
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--ray-address {address}: the port {port!r} is not a port number (1..65535); "
                          "give HOST:PORT of the Ray head, e.g. 10.0.0.5:6379, or auto")


def check_reachable(address: str, timeout: float = RAY_CONNECT_TIMEOUT_S) -> None:
    """A ConfigError now when the head node named by `address` does not accept a connection."""
    endpoint = head_endpoint(address)
    if endpoint is None:
        return
    try:
        with socket.create_connection(endpoint, timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise ConfigError(f"--ray-address {address}: no Ray head answers at {endpoint[0]}:{endpoint[1]} ({reason} "
                          f"after at most {timeout:g} s); start it with `ray start --head` or check the address") from None


@contextmanager
def ray_session(address: str | None, error: type[OccmerError] = ConfigError) -> Iterator[Any]:
    """The `ray` module, connected for the block: the Ray already running in this process, else the
    cluster at `address`, else a local Ray with this machine's CPUs (shut down after the block)."""
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        init: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
        if address:  # reachable: ExecutorChoice.check_available ran before any work
            init["address"] = address
        joining = os.environ.get("RAY_ADDRESS") or address  # Ray prefers $RAY_ADDRESS to the address it is given
        try:
            if joining:
                init_within(ray, init, RAY_JOIN_TIMEOUT_S, joining)
            else:
                ray.init(**init)  # starts a local Ray: its own processes, no connection to wait for
        except TimeoutError as exc:
            raise error(f"{_address_words(joining)}: {exc}") from None
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError for a bad address
            raise error(_init_failure(joining, exc)) from exc
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def init_within(ray, init: dict[str, Any], timeout: float, address: str) -> None:
    """`ray.init(**init)`, or a TimeoutError after `timeout` seconds: Ray's own connection retries
    last minutes. The call runs in a daemon thread; one that never returns is left behind and
    does not keep the process from exiting."""
    outcome: dict[str, BaseException | None] = {}

    def connect() -> None:
        try:
            ray.init(**init)
            outcome["error"] = None
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=connect, name="occmer-ray-init", daemon=True)
    thread.start()
    thread.join(timeout)
    if "error" not in outcome:
        raise TimeoutError(f"Ray did not join the cluster at {address} within {timeout:g} s (a port that is no Ray "
                           "head, or a stopped cluster); check the address, or start one with `ray start --head`")
    if outcome["error"] is not None:
        raise outcome["error"]


def _address_words(address: str | None) -> str:
    if address and address == os.environ.get("RAY_ADDRESS"):
        return f"--executor ray ($RAY_ADDRESS={address}, which Ray uses before --ray-address)"
    return f"--ray-address {address}" if address else "--executor ray"


def _init_failure(address: str | None, exc: Exception) -> str:
    """One line for a `ray.init` that failed: Ray's messages span lines and name its own flags."""
    text = " ".join(str(exc).split())
    if "Could not find any running Ray instance" in text:
        return (f"{_address_words(address)}: no running Ray cluster was found on this machine; start one with "
                "`ray start --head`, give --ray-address HOST:PORT, or leave --ray-address out for a local Ray")
    return f"{_address_words(address)}: could not start or reach Ray ({text}); check --ray-address"


def completed(ray, waiting: dict[Any, Key], *, failed: Callable[[Key, BaseException], BaseException],
              lost: Callable[[Key, Exception], BaseException]) -> Iterator[tuple[Key, Any]]:
    """(key, result) of each task in `waiting` (object ref -> key) as it ends.

    A task that raised: its OccmerError is raised here as is, any other exception as
    `failed(key, exception)`. A task Ray gave up on after its retries: `lost(key, error)`.
    Either way, and when the caller stops early, the tasks still waiting are cancelled.
    """
    waiting = dict(waiting)
    try:
        while waiting:
            ready, _ = ray.wait(list(waiting), num_returns=1)
            for ref in ready:
                key = waiting.pop(ref)
                try:
                    value = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = getattr(exc, "cause", None) or exc
                    raise (cause if isinstance(cause, OccmerError) else failed(key, cause)) from None
                except ray.exceptions.RayError as exc:
                    raise lost(key, exc) from None
                yield key, value
    finally:
        for ref in waiting:
            ray.cancel(ref, force=True)
