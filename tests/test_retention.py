"""Retention on the real Redis with the real services: a finished session leaves nothing on the bus and
only expiring keys; a session whose ingest dies is finalised with what was received; `scribe purge`
deletes every trace of a session and proves it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import redis

from proto import scribe_pb2 as pb
from services.asr.engine import WhisperEngine
from services.asr.service import AsrService
from services.client import submit_file
from services.coder.service import CoderService
from services.common import keys
from services.common.bus import DeliveryPolicy
from services.common.context import context_to_dict
from services.common.memory_bus import MemoryBus
from services.common.redis_bus import RedisBus
from services.common.results import wait_for_result
from services.common.retention import Janitor, RetentionPolicy
from services.common.store import MemoryStore, RedisStore
from services.drafter.service import DrafterService
from services.ingest.service import IngestService
from tests.cases import case_audio, case_context, load_case
from tests.processes import stop_process, wait_until
from tests.redis_server import PrivateRedis, free_port_block

CASE_ID = "pub-004"  # the shortest public case (63 s, dictation)
CASE = load_case(CASE_ID)
TOKEN = "retention-test-token"


# --- what a test looks for in Redis (its own scan, independent of the code under test) ----------

def session_entries(client: redis.Redis, sid: str) -> dict[str, int]:
    """Stream -> number of entries of the session, over every stream in the database."""
    found: dict[str, int] = {}
    for name in client.scan_iter(_type="STREAM"):
        for _id, fields in client.xrange(name):
            if pb.SessionRef.FromString(fields.get(b"m", b"")).session_id == sid:
                found[name.decode()] = found.get(name.decode(), 0) + 1
    return found


def session_keys(client: redis.Redis, sid: str) -> list[str]:
    return sorted(k.decode() for k in client.scan_iter(match=f"*{sid}*"))


# --- the distributed deployment (`scribe serve`), on a Redis of this module's own ---------------

@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    port = free_port_block()
    env = {**os.environ, "SCRIBE_REDIS_URL": server.url, "SCRIBE_TOKEN": TOKEN,
           "SCRIBE_STATE_DIR": str(tmp_path_factory.mktemp("state")),
           # Fast retention for the test: sweep often, no grace for feeds, an ingest gone after 1 s.
           "SCRIBE_STREAM_GRACE_S": "0", "SCRIBE_RETENTION_SWEEP_S": "0.3", "SCRIBE_INGEST_TIMEOUT_S": "1",
           "SCRIBE_RESULT_RETENTION_S": "3600"}
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "--port", str(port),
                             "--asr-workers", "1"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(url) or proc.poll() is not None, 90, "scribe serve came up")
        assert proc.poll() is None, "scribe serve exited at start"
        yield url, server.url, proc
    finally:
        stop_process(proc)
        server.stop()


def _healthy(url: str) -> bool:
    try:
        urllib.request.urlopen(f"{url}/healthz", timeout=1)
        return True
    except OSError:
        return False


def _context() -> dict[str, Any]:
    return context_to_dict(case_context(CASE))


def test_a_finished_session_leaves_no_stream_entry_and_only_expiring_keys(
        deployment: tuple[str, str, subprocess.Popen[bytes]]) -> None:
    url, redis_url, _serve = deployment
    result = asyncio.run(submit_file(url, TOKEN, case_audio(CASE_ID), _context(), timeout_s=300))
    sid = result["session_id"]
    assert result["transcript"] and "ended" not in result  # stopped by the client: a normal result
    client = redis.Redis.from_url(redis_url)
    try:
        wait_until(lambda: not session_entries(client, sid), 60, "the session's stream entries were deleted")
        left = session_keys(client, sid)
        assert f"session:{sid}:result" in left  # the result is kept for the retention period...
        ttls = {k: client.ttl(k) for k in left}
        assert all(0 < ttl <= 3600 for ttl in ttls.values()), ttls  # ...and everything of it expires
        assert client.hget(keys.OPEN_SESSIONS, sid) is None  # stopped: no longer held open
    finally:
        client.close()


def _ingest_child(serve: subprocess.Popen[bytes]) -> int:
    """The pid of serve's ingest worker (a child whose command line is `... worker ingest ...`)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == serve.pid and b"worker" in cmdline and b"ingest" in cmdline:
            return int(stat.parent.name)
    raise AssertionError("serve has no ingest worker")


async def _open_session_with_audio(url: str) -> tuple[str, int]:
    """A session whose audio was taken but which is never stopped: (session id, utterances published)."""
    async with aiohttp.ClientSession(url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        async with http.post("/v1/sessions", json=_context()) as resp:
            assert resp.status == 201
            sid = (await resp.json())["session_id"]
        async with http.put(f"/v1/sessions/{sid}/audio", data=case_audio(CASE_ID).read_bytes()) as resp:
            assert resp.status == 202
            return sid, int((await resp.json())["utterances"])


async def _result_after_restart(url: str, sid: str, timeout_s: float) -> tuple[int, dict[str, Any]]:
    """/result from whichever ingest answers on the port (serve restarts a dead one)."""
    deadline = time.monotonic() + timeout_s
    status, body = 0, {}
    while time.monotonic() < deadline:
        try:
            async with aiohttp.ClientSession(url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                async with http.get(f"/v1/sessions/{sid}/result", params={"wait": "5"}) as resp:
                    status, body = resp.status, await resp.json()
            if status != 202:
                return status, body
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.3)  # the ingest is being restarted
    return status, body


def test_a_session_whose_ingest_dies_is_finalised_with_what_was_received(
        deployment: tuple[str, str, subprocess.Popen[bytes]]) -> None:
    url, redis_url, serve = deployment
    sid, utterances = asyncio.run(_open_session_with_audio(url))
    assert utterances > 0
    os.kill(_ingest_child(serve), signal.SIGKILL)  # no stop ever comes for this session
    status, result = asyncio.run(_result_after_restart(url, sid, timeout_s=180))
    assert status == 200, (status, result)  # not "pending" forever
    assert result["ended"]["reason"] == "ingest_lost"  # the note says how it ended
    # Final only once every utterance received has its segment (the drafter waits for last_seq).
    assert 0 < len(result["transcript"]) <= utterances and result["codes"]
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.hget(keys.OPEN_SESSIONS, sid) is None
        wait_until(lambda: not session_entries(client, sid), 60, "the orphan's stream entries were deleted")
        assert all(client.ttl(k) > 0 for k in session_keys(client, sid))
    finally:
        client.close()


def test_result_of_a_session_nobody_knows_is_404_not_pending(
        deployment: tuple[str, str, subprocess.Popen[bytes]]) -> None:
    url, _redis_url, _serve = deployment
    status, body = asyncio.run(_result_after_restart(url, "0" * 32, timeout_s=30))
    assert status == 404 and body["status"] == "unknown"


# --- the janitor keeps consumer-group semantics ---------------------------------------------------

async def test_an_entry_a_stage_has_not_acked_is_not_deleted(redis_url: str) -> None:
    bus = RedisBus(redis_url, DeliveryPolicy(claim_idle_s=60.0, block_s=0.1))
    store = RedisStore(redis_url, ttl_s=600)
    janitor = Janitor(bus, store, RetentionPolicy(grace_s=0.0, settle_s=0.0))
    try:
        await bus.ensure_group(keys.SEGMENTS, keys.GROUP_DRAFTER)
        first = await bus.publish(keys.SEGMENTS, pb.TranscriptSegment(session_id="s1", seq=0))
        second = await bus.publish(keys.SEGMENTS, pb.TranscriptSegment(session_id="s1", seq=1))
        await bus.publish(keys.CODES, pb.CodingResult(session_id="s1", is_final=True))  # no group reads it
        [taken] = await bus.read(keys.SEGMENTS, keys.GROUP_DRAFTER, "drafter-1", count=1)
        assert taken.entry_id == first
        await store.put_result(pb.CodingResult(session_id="s1", is_final=True))

        report = await janitor.sweep()  # `first` is pending, `second` never delivered: both stay
        assert [i for i, _ in await bus.entries(keys.SEGMENTS)] == [first, second]
        assert await bus.entries(keys.CODES) == [] and report.entries_waiting == 2
        assert await bus.redis.zscore(keys.FINISHED, "s1") is not None  # swept again later

        await bus.ack(keys.SEGMENTS, keys.GROUP_DRAFTER, first)
        await janitor.sweep()
        assert [i for i, _ in await bus.entries(keys.SEGMENTS)] == [second]

        [taken] = await bus.read(keys.SEGMENTS, keys.GROUP_DRAFTER, "drafter-1", count=1)
        await bus.ack(keys.SEGMENTS, keys.GROUP_DRAFTER, taken.entry_id)
        report = await janitor.sweep()
        assert await bus.entries(keys.SEGMENTS) == [] and report.sessions_done == ["s1"]
        assert await bus.redis.exists(keys.entry_index("s1")) == 0
        assert await bus.redis.ttl(keys.session_key("s1", "result")) > 0
    finally:
        await bus.close()
        await store.close()


async def test_keys_written_after_the_result_expire_too(redis_url: str) -> None:
    store = RedisStore(redis_url, ttl_s=600)
    try:
        await store.put_result(pb.CodingResult(session_id="s2", is_final=True))
        await store.put_dismissal("s2", "missing_goal_link", "97530", "goal linked in the plan")
        r = redis.Redis.from_url(redis_url)
        assert 0 < r.ttl(keys.session_key("s2", "dismissals")) <= 600
        r.close()
    finally:
        await store.close()


async def test_an_orphan_is_taken_only_once_its_ingest_has_been_gone_for_the_timeout(redis_url: str) -> None:
    """After a Redis outage longer than the timeout every heartbeat has expired: a live ingest must get
    the chance to beat again before its sessions are finalised."""
    bus = RedisBus(redis_url)
    store = RedisStore(redis_url, ttl_s=600)
    janitor = Janitor(bus, store, RetentionPolicy(ingest_timeout_s=0.5))
    try:
        ingest = IngestService(bus, store, ingest_id="ingest-a")
        sid = await ingest.start_session(case_context(CASE))
        assert await janitor.finalise_orphans() == []  # first seen missing: not yet
        await asyncio.sleep(0.6)
        assert await janitor.finalise_orphans() == [sid]
        stop = await store.get_stop(sid)
        assert stop is not None and stop.end_reason == "ingest_lost" and stop.last_seq == -1
        assert await bus.redis.hget(keys.OPEN_SESSIONS, sid) is None
    finally:
        await bus.close()
        await store.close()


async def test_an_upload_never_stopped_is_finalised_as_idle() -> None:
    bus = MemoryBus()
    ingest = IngestService(bus, MemoryStore())
    sid = await ingest.start_session(case_context(CASE))  # a recording to upload, not live
    await ingest.add_audio(sid, np.zeros(16_000, dtype=np.int16))
    assert await ingest.stop_idle(idle_s=3600) == []
    assert await ingest.stop_idle(idle_s=0.0) == [sid]
    stops = [e for e in (pb.SessionEvent.FromString(p) for _i, p in await bus.entries(keys.SESSIONS))
             if e.kind == pb.SessionEvent.STOPPED]
    assert [(e.session_id, e.end_reason) for e in stops] == [(sid, "idle")]


# --- scribe purge ---------------------------------------------------------------------------------

async def _finished_session(redis_url: str, engine: WhisperEngine) -> str:
    """A public case through the real services on Redis, with no janitor: every entry is still there."""
    bus = RedisBus(redis_url, DeliveryPolicy(claim_idle_s=30.0, block_s=0.2))
    store = RedisStore(redis_url)
    stop = asyncio.Event()
    stages = [AsrService(bus, store, engine, partials=False), DrafterService(bus, store), CoderService(bus, store)]
    tasks = [asyncio.create_task(s.run(stop)) for s in stages]
    try:
        ingest = IngestService(bus, store, ingest_id="ingest-purge-test")
        sid = await ingest.start_session(case_context(CASE))
        await ingest.add_file(sid, case_audio(CASE_ID))
        await ingest.stop_session(sid)
        await wait_for_result(bus, store, sid, timeout_s=240)
        return sid
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await bus.close()
        await store.close()


def _purge(redis_url: str, sid: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", "purge", sid], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "SCRIBE_REDIS_URL": redis_url})


def test_purge_deletes_everything_of_a_session_and_proves_it(redis_url: str, engine: WhisperEngine) -> None:
    sid = asyncio.run(_finished_session(redis_url, engine))
    other = asyncio.run(_other_session(redis_url))
    client = redis.Redis.from_url(redis_url)
    try:
        before = session_entries(client, sid)
        assert before.get(keys.UTTERANCES) and session_keys(client, sid)  # audio and keys are there
        proc = _purge(redis_url, sid)
        assert proc.returncode == 0, proc.stderr
        assert f"nothing of session {sid} is left" in proc.stdout and "checked again" in proc.stdout
        assert session_entries(client, sid) == {} and session_keys(client, sid) == []
        assert client.zscore(keys.FINISHED, sid) is None
        assert session_entries(client, other) and session_keys(client, other)  # another session untouched
        for stream, group in ((keys.UTTERANCES, keys.GROUP_ASR), (keys.DRAFTS, keys.GROUP_CODER)):
            assert client.xpending(stream, group)["pending"] == 0

        again = _purge(redis_url, sid)
        assert again.returncode != 0 and f"no session {sid}" in again.stderr and "Traceback" not in again.stderr
        bad = _purge(redis_url, "*")
        assert bad.returncode != 0 and "session id" in bad.stderr
    finally:
        client.close()


async def _other_session(redis_url: str) -> str:
    bus = RedisBus(redis_url)
    store = RedisStore(redis_url)
    try:
        sid = await IngestService(bus, store).start_session(case_context(CASE))
        return sid
    finally:
        await bus.close()
        await store.close()


def test_purge_refuses_a_session_still_recording(redis_url: str) -> None:
    async def open_session() -> str:
        bus = RedisBus(redis_url)
        store = RedisStore(redis_url)
        try:
            await bus.redis.set(keys.ingest_alive("ingest-live"), "1", ex=60)
            return await IngestService(bus, store, ingest_id="ingest-live").start_session(case_context(CASE))
        finally:
            await bus.close()
            await store.close()

    sid = asyncio.run(open_session())
    proc = _purge(redis_url, sid)
    assert proc.returncode != 0 and "still open" in proc.stderr
