"""A wrong --ray-address fails in seconds with the address in the message (Ray alone retries for minutes)."""

from __future__ import annotations

import socket
import time

import pytest
from click.testing import CliRunner

from occmer.cli import cli
from occmer.errors import ConfigError
from occmer.ray_runtime import check_reachable, head_endpoint


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(("address", "endpoint"), [
    ("10.0.0.5:6379", ("10.0.0.5", 6379)), ("ray://head.lab:10001", ("head.lab", 10001)),
    ("[::1]:6379", ("::1", 6379)), ("auto", None), ("local", None),
])
def test_the_head_endpoint_is_read_from_each_address_form(address, endpoint):
    assert head_endpoint(address) == endpoint


@pytest.mark.parametrize("address", ["ray://head.lab", "other://head.lab:6379", "head.lab:port", ":6379", "head.lab:0"])
def test_forms_without_one_endpoint_are_left_to_ray(address):
    assert head_endpoint(address) is None
    check_reachable(address)  # not probed, not refused: Ray resolves (or rejects) them itself


def test_an_address_nobody_answers_fails_at_once_and_a_listening_one_passes():
    address = f"127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with pytest.raises(ConfigError, match=f"--ray-address {address}: no Ray head answers"):
        check_reachable(address)
    assert time.monotonic() - started < 5
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        check_reachable(f"127.0.0.1:{server.getsockname()[1]}")


@pytest.mark.parametrize("command", [["synthesize", "--db", "demo", "--mask", "glasses"], ["bench", "ststnet"]])
def test_both_commands_refuse_an_unreachable_head_before_any_work(tmp_path, command):
    pytest.importorskip("ray")
    address = f"127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = CliRunner().invoke(cli, [*command, "--executor", "ray", "--ray-address", address,
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code != 0 and f"no Ray head answers at {address}" in result.output, result.output
    assert time.monotonic() - started < 30 and not (tmp_path / "out").exists()
