"""Shared fixtures: the real Redis (an isolated database, emptied per test) and the real Whisper model."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from services.asr.engine import WhisperEngine
from tests.redis_server import PrivateRedis, free_port_block

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


@pytest.fixture
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    """A redis-server of the test's own (free port, temp dir, data kept across restarts), for tests that
    stop and start Redis: the shared one at REDIS_URL is never stopped."""
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def engine() -> WhisperEngine:
    return WhisperEngine()


@pytest.fixture
def free_port() -> int:
    """A free port whose next few are free too (`scribe serve` puts its workers' metrics there)."""
    return free_port_block()


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


@pytest.fixture(autouse=True)
def phrase_only_coder() -> Iterator[None]:
    """The coder's activity classifier also sits behind a module-level seam: every test starts from the
    catalogue's phrases alone; a test that wants the sentence model asks for `activity_model`."""
    from services.coder import activity

    activity.install(None)
    yield
    activity.install(None)


@pytest.fixture(scope="session")
def _loaded_activity_model() -> object:
    from services.coder import activity

    model = activity.install_from_env()
    if model is None:
        pytest.fail("the coder's sentence model is off (SCRIBE_EMBEDDINGS) or not installed")
    return model


@pytest.fixture
def activity_model(_loaded_activity_model: object) -> object:
    """The coder with the real sentence model (MiniLM) behind its activity classifier."""
    from services.coder import activity

    activity.install(_loaded_activity_model)  # type: ignore[arg-type]
    return _loaded_activity_model
