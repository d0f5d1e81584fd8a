"""No patient words in logs, metrics or error messages (issue 16).

Two public cases go through every stage (the ingest HTTP API and the asr, drafter and coder stages
in one process, as `scribe run`'s embedded bus does) with DEBUG logging on for every logger. Then
requests that fail are sent with the transcript's words in the fields a clinician types (diagnosis,
goals, vocabulary, baseline, a dismissal's reason) and a bad bus message with them in its text.
Every log record, every error message (HTTP bodies, scribe:errors), and the metrics text if the app
serves any, is searched for the transcript's uncommon words: any found fails the test.

"Uncommon" means not among the 10,000 most frequent English words of the wordfreq package (a
project dependency): common words ("pain", "walk") say nothing about a patient; the rest ("aphasia",
a name, a drug) may.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import aiohttp
import pytest
from wordfreq import top_n_list

from proto import scribe_pb2 as pb
from services.asr.engine import WhisperEngine
from services.common import keys
from services.common.memory_bus import MemoryBus
from services.common.store import MemoryStore
from services.pipeline import EMBEDDED_POLICY
from tests.cases import case_audio, load_case
from tests.test_live_stack import TOKEN, LiveStack

CASES = ("pub-004", "pub-009")  # about a minute each
AUTH = {"Authorization": f"Bearer {TOKEN}"}
COMMON = frozenset(top_n_list("en", 10_000))
WORD = re.compile(r"[a-z][a-z'-]{3,}")


def uncommon_words(texts: list[str]) -> set[str]:
    return {w.strip("'-") for t in texts for w in WORD.findall(t.lower())} - COMMON


def leaked(words: set[str], haystack: str) -> list[str]:
    low = haystack.lower()
    return sorted(w for w in words if re.search(rf"\b{re.escape(w)}\b", low))


async def _upload(http: aiohttp.ClientSession, url: str, case_id: str) -> str:
    case = load_case(case_id)
    async with http.post(f"{url}/v1/sessions", json={**case["context"], "mode": case["mode"]}) as resp:
        assert resp.status == 201
        sid = str((await resp.json())["session_id"])
    async with http.put(f"{url}/v1/sessions/{sid}/audio", data=case_audio(case_id).read_bytes()) as resp:
        assert resp.status == 202
    async with http.post(f"{url}/v1/sessions/{sid}/stop") as resp:
        assert resp.status == 202
    for _ in range(20):
        async with http.get(f"{url}/v1/sessions/{sid}/result", params={"wait": "30"}) as resp:
            if resp.status == 200:
                return sid
    pytest.fail(f"no result for {case_id}")


async def _refusals(http: aiohttp.ClientSession, url: str, sid: str, text: str) -> list[str]:
    """Error messages of requests that carry the transcript's words where a clinician types text."""
    case = load_case(CASES[0])
    ctx: dict[str, Any] = {**case["context"], "mode": case["mode"]}
    words = text.split()
    bodies: list[dict[str, Any]] = [
        {**ctx, "diagnosis": text * 3},  # too long
        {**ctx, "goals": [text] * 30},  # too many
        {**ctx, "goals": [" ".join(words[:8]), text * 3]},  # one too long
        {**ctx, "vocabulary": [text]},
        {**ctx, "baseline": {w: text * 3 for w in words[:3]}},
        {**ctx, "baseline": [text]},
        {**ctx, "date": text},
        {"context": {**ctx, "diagnosis": text * 3}, "consent": True},
    ]
    messages = []
    for body in bodies:
        async with http.post(f"{url}/v1/sessions", json=body) as resp:
            assert resp.status in (400, 413), body
            messages.append((await resp.json())["error"])
    dismissals = [{"kind": "missing_goal_link", "cpt": "", "reason": text * 20},
                  {"kind": words[0], "cpt": "", "reason": text},
                  {"kind": "missing_goal_link", "cpt": words[1], "reason": text}]
    for body in dismissals:
        async with http.post(f"{url}/v1/sessions/{sid}/flags/dismiss", json=body) as resp:
            assert resp.status in (400, 413)
            messages.append((await resp.json())["error"])
    return messages


async def _metrics(http: aiohttp.ClientSession, url: str, stack: LiveStack) -> str:
    """The metrics text, if this app serves one (issue 15 adds /metrics)."""
    assert stack._runner is not None
    paths = {r.resource.canonical for r in stack._runner.app.router.routes() if r.resource is not None}
    if "/metrics" not in paths:
        return ""
    async with http.get(f"{url}/metrics") as resp:
        return await resp.text()


@pytest.mark.slow
async def test_no_patient_words_in_logs_metrics_or_errors(engine: WhisperEngine, free_port: int,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, third-party ones included
    bus = MemoryBus(EMBEDDED_POLICY)
    async with LiveStack(bus, MemoryStore(), engine, free_port) as stack, \
            aiohttp.ClientSession(headers=AUTH) as http:
        sids = [await _upload(http, stack.url, case_id) for case_id in CASES]
        results = [await stack.store.get_result(sid) for sid in sids]
        transcript = [t for r in results if r is not None
                      for s in r.draft.transcript for t in (s.text, s.raw_text)]
        text = " ".join(transcript)
        messages = await _refusals(http, stack.url, sids[0], text)
        # a segment of a session nobody started, quoting the transcript: the drafter refuses it
        await bus.publish(keys.SEGMENTS, pb.TranscriptSegment(session_id="nobody", seq=0, text=text))
        for _ in range(100):
            if await bus.entries(keys.ERRORS):
                break
            await asyncio.sleep(0.05)
        metrics = await _metrics(http, stack.url, stack)
    errors = [pb.StageError.FromString(p).message for _id, p in await bus.entries(keys.ERRORS)]
    words = uncommon_words(transcript)
    assert len(words) >= 10, words  # the check has something to find ...
    assert leaked(words, f"said {sorted(words)[0]} twice") == [sorted(words)[0]]  # ... and would find it
    logs = "\n".join([caplog.text, *(r.getMessage() for r in caplog.records)])
    assert len(caplog.records) > 20  # DEBUG really was on
    assert not leaked(words, logs), [line for line in logs.splitlines() if leaked(words, line)][:5]
    assert not leaked(words, "\n".join(messages)), messages
    assert errors and not leaked(words, "\n".join(errors)), errors
    assert not leaked(words, metrics)
