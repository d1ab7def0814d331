"""What the Ray tests share: a small local Ray, and killing a task's worker mid-run.

Imported by tests that have already skipped when Ray is not installed.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ray


def local_ray_session() -> Iterator[None]:
    """Ray with 2 CPUs and a small object store, as CI can afford: the body of a module's fixture."""
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024, log_to_driver=False,
             logging_level="ERROR")
    yield
    ray.shutdown()


def task_pids(task: str) -> list[int]:
    """Ray worker processes running `task` now (Ray titles a busy worker `ray::<task name>`)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(f"ray::{task}".encode()):
            pids.append(int(entry.name))
    return pids


def run_killing_one_task(run: Callable[[], Any], task: str) -> tuple[int | None, Any]:
    """run() in a thread while the first worker seen running `task` is killed (SIGKILL);
    (the pid killed or None, what run() returned)."""
    results = {}
    runner = threading.Thread(target=lambda: results.setdefault("r", run()))
    runner.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and runner.is_alive() and time.monotonic() < deadline:
        pids = task_pids(task)
        if pids:
            killed = pids[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.02)
    runner.join(timeout=300)
    return killed, results.get("r")
