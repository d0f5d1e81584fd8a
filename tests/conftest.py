"""Shared fixtures: the real Redis (an isolated database, emptied per test) and the real Whisper model."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
import redis

from services.asr.engine import WhisperEngine

REDIS_URL = os.environ.get("SCRIBE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.fail(f"these tests need the Redis server at {REDIS_URL} (.ci/run starts it)")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def engine() -> WhisperEngine:
    return WhisperEngine()


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def state_dir(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> object:
    """A private token location, so tests never touch the user's real token."""
    monkeypatch.setenv("SCRIBE_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("SCRIBE_TOKEN", raising=False)
    return tmp_path


@pytest.fixture(autouse=True)
def rules_only_drafter() -> Iterator[None]:
    """The drafter's sentence model sits behind a module-level seam: start every test from rules only,
    so a test that ran the pipeline (which installs the model) cannot change the next test's note."""
    from services.drafter.sections import set_classifier

    set_classifier(None)
    yield
    set_classifier(None)
