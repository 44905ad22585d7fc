"""The Ray executor never waits without bound for a cluster: every connection attempt times out
(issue 30: ``--address 127.0.0.1:1`` retried forever)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("ray")

from upbench.engine.executors.base import ExecutorConfig
from upbench.engine.executors.ray import ExecutorUnavailable, RayExecutor, host_port


@pytest.mark.parametrize("address, expected", [
    ("127.0.0.1:1", ("127.0.0.1", 1)), ("ray://head:10001", ("head", 10001)),
    ("head", ("head", 6379)), ("[::1]:6379", ("::1", 6379)), ("auto", None), ("local", None)])
def test_host_port(address, expected):
    assert host_port(address) == expected


@pytest.mark.parametrize("address", ["127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:x", "h:-1"])
def test_a_bad_port_is_refused_by_name(address):
    with pytest.raises(ExecutorUnavailable, match="no valid port"):
        host_port(address)


def test_a_refusing_address_fails_at_once_naming_it():
    ex = RayExecutor(ExecutorConfig(kind="ray", address="127.0.0.1:1", connect_timeout_s=5))
    with pytest.raises(ExecutorUnavailable, match=r"127\.0\.0\.1:1.*refused.*ray start --head"):
        ex.connect()
    assert not ex.ray.is_initialized()


def test_a_silent_listener_ends_the_connection_within_the_timeout(tmp_path):
    """A port that accepts TCP but never speaks Ray's protocol: Ray's native client would retry
    forever; the run stops with exit 2 and a message after connect_timeout_s."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    code = textwrap.dedent(f"""
        import sys
        from upbench.engine.executors.base import ExecutorConfig
        from upbench.engine.executors.ray import ExecutorUnavailable, RayExecutor
        ex = RayExecutor(ExecutorConfig(kind="ray", address="127.0.0.1:{port}",
                                        connect_timeout_s=4))
        try:
            ex.connect()
        except ExecutorUnavailable as e:
            print("executor unavailable:", e, file=sys.stderr)
            sys.exit(2)
        print("connected?!")
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    try:
        r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                           timeout=120, env=env, cwd=tmp_path)
    finally:
        srv.close()
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"127.0.0.1:{port}" in r.stderr and "Traceback" not in r.stderr
