"""Helpers for tests that run the services as processes: wait for a condition, stop a process."""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Any

import pytest


def wait_until(check: Any, timeout_s: float, what: str) -> Any:
    """Poll `check` until it returns something truthy (returned); fail the test past timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout_s:.0f} s")
        time.sleep(0.2)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """SIGTERM (serve stops its workers), then SIGKILL if it does not exit in time."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
