"""One worker pool: the serial path is the same code, a dead worker is a clear error, and
workers die with their parent (no orphan after kill -9 of the main process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_checks import synth_args

import occmer
from occmer.errors import ConfigError
from occmer.workers import WorkerError, WorkerPool, check_workers, max_workers

CALLS: list[str] = []


class _Tagged:
    """A worker state that records its start, its tasks and its close."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        CALLS.append(f"start {tag}")

    def close(self) -> None:
        CALLS.append(f"close {self.tag}")


def _absolute(state: _Tagged | None, value: int) -> int:
    if state is not None:
        CALLS.append(f"task {state.tag}")
    return abs(value)


def _exit(state: None, code: int) -> None:
    os._exit(code)


def test_one_worker_runs_here_with_its_state_given_to_each_task_and_closed_at_the_end():
    CALLS.clear()
    with WorkerPool(1, _Tagged, ("a",)) as pool:
        assert list(pool.map(_absolute, [-1, 2, -3])) == [1, 2, 3]
        assert CALLS == ["start a", "task a", "task a", "task a"]
    assert CALLS[-1] == "close a"


def test_two_workers_keep_the_order_and_report_a_dead_worker():
    with WorkerPool(2) as pool:
        assert list(pool.map(_absolute, range(-5, 0))) == [5, 4, 3, 2, 1]
    with pytest.raises(WorkerError, match="--workers 1"), WorkerPool(2) as pool:
        list(pool.map(_exit, [3]))  # the worker process ends without a word


@pytest.mark.parametrize("value", [0, -1, 1000, 2.5, True, "2"])
def test_worker_counts_outside_1_to_twice_the_cpus_are_refused(value):
    with pytest.raises(ConfigError, match=f"1 to {max_workers()}"):
        check_workers(value)


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def _wait_for(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_the_parent_leaves_no_orphan_worker_and_the_run_resumes(tmp_path, small_demo_root):
    out = tmp_path / "x.h5"
    logs = tmp_path / "x.h5.parts" / "logs"
    env = {**os.environ, "PYTHONPATH": str(Path(occmer.__file__).parents[1])}
    args = [sys.executable, "-m", "occmer", *map(str, synth_args(small_demo_root, out, "--workers", "2"))]
    parent = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    workers: list[int] = []
    try:
        # Both workers are up (they write their log once started) and the run has not finished.
        assert _wait_for(lambda: logs.is_dir() and len(list(logs.iterdir())) >= 2 or parent.poll() is not None, 120)
        assert parent.poll() is None, "the run finished before it could be killed"
        workers = _children(parent.pid)
        assert len(workers) >= 2
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert _wait_for(lambda: not any(_running(pid) for pid in workers), 10), "orphan workers are left"
    finally:
        for pid in [parent.pid, *workers]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert not out.exists()
    resumed = subprocess.run([*args[:-2], "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "took over the stale lock" in resumed.stderr and out.exists()
