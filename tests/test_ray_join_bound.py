"""Issue 27: every Ray connection attempt has a bounded wait and fails in one clear line.

`ray.init` itself retries a port that is no Ray head, or the stale address `auto` reads from a
stopped cluster, for minutes (measured: over 200 s). These tests stand a fake `ray` module in
for the connect call, so they need no Ray and no cluster, and take a second.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

import occmer.ray_runtime as runtime
from occmer.errors import ConfigError


def fake_ray(init):
    return SimpleNamespace(is_initialized=lambda: False, init=init, shutdown=lambda: None)


@pytest.fixture()
def no_ray_address(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


@pytest.mark.parametrize("address", ["auto", "10.0.0.5:6379", "ray://head.lab:10001"])
def test_a_connection_that_never_answers_ends_within_the_bound(monkeypatch, no_ray_address, address):
    release = threading.Event()
    monkeypatch.setattr(runtime, "import_ray", lambda: fake_ray(lambda **kw: release.wait(30)))
    monkeypatch.setattr(runtime, "RAY_JOIN_TIMEOUT_S", 0.5)
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught, runtime.ray_session(address):
        pass
    release.set()
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert message.startswith(f"--ray-address {address}: Ray did not join the cluster at {address} within 0.5 s")
    assert "\n" not in message and "ray start --head" in message


def test_auto_without_a_cluster_is_one_clear_line(monkeypatch, no_ray_address):
    def init(**kw):
        raise ConnectionError("Could not find any running Ray instance. Please specify the one to connect to by "
                              "setting `--address` flag or `RAY_ADDRESS` environment variable.")

    monkeypatch.setattr(runtime, "import_ray", lambda: fake_ray(init))
    with pytest.raises(ConfigError) as caught, runtime.ray_session("auto"):
        pass
    message = str(caught.value)
    assert message.startswith("--ray-address auto: no running Ray cluster was found on this machine")
    assert "\n" not in message and "`--address` flag" not in message


def test_ray_address_from_the_environment_is_bounded_and_named(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.9:6379")
    seen = {}
    monkeypatch.setattr(runtime, "import_ray", lambda: fake_ray(lambda **kw: seen.update(kw) or time.sleep(5)))
    monkeypatch.setattr(runtime, "RAY_JOIN_TIMEOUT_S", 0.3)
    with pytest.raises(ConfigError, match=r"\$RAY_ADDRESS=10.0.0.9:6379, which Ray uses before --ray-address"), \
            runtime.ray_session(None):
        pass


def test_a_local_ray_is_started_without_a_bound_and_a_quick_join_passes(monkeypatch, no_ray_address):
    calls = []
    monkeypatch.setattr(runtime, "import_ray", lambda: fake_ray(lambda **kw: calls.append(kw)))
    with runtime.ray_session(None):
        pass
    with runtime.ray_session("10.0.0.5:6379"):
        pass
    assert "address" not in calls[0] and calls[1]["address"] == "10.0.0.5:6379"


def test_an_unreachable_host_is_refused_within_the_socket_bound(monkeypatch):
    """host:port probing (check_reachable) waits at most RAY_CONNECT_TIMEOUT_S for a host that never answers."""
    import socket

    def never(endpoint, timeout):
        assert timeout == runtime.RAY_CONNECT_TIMEOUT_S <= 10
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", never)
    with pytest.raises(ConfigError, match=r"--ray-address 10.255.255.1:6379: no Ray head answers .*timed out after "
                                          r"at most 10 s"):
        runtime.check_reachable("10.255.255.1:6379")
