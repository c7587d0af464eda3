"""The local runner as a subprocess on a free loopback port, shared by a test module."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from local.demo import wait_for_runner

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def local_runner(log_dir: Path, *args: str) -> Iterator[str]:
    """``python -m local.runner --port <free> --quiet [args]``; yields its base URL once healthy."""
    port = free_port()
    log = log_dir / "runner.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.runner", "--port", str(port), "--quiet", *args], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_for_runner(base_url, process, timeout=60)
        except (RuntimeError, TimeoutError) as error:
            process.kill()
            process.wait()
            pytest.fail(f"{error}\n--- runner output ---\n{log.read_text(errors='replace')}")
        try:
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def runner_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A runner of this test module's own, at its listening URL."""
    with local_runner(tmp_path_factory.mktemp("runner")) as base_url:
        yield base_url
