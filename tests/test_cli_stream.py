"""`scribe stream --json` against a real server (ingest API and every stage, the real model): stdout
holds the one JSON result and nothing else; the live view goes to stderr."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from services.asr.engine import WhisperEngine
from services.common.memory_bus import MemoryBus
from services.common.store import MemoryStore
from services.ingest.audio import decode_audio
from services.pipeline import EMBEDDED_POLICY
from tests.cases import case_audio, load_case, wav
from tests.test_live_stack import TOKEN, LiveStack

CASE = load_case("pub-001")
CLIP_S = 8


async def _stream(engine: WhisperEngine, port: int, audio: Path, context: Path) -> tuple[int, str, str]:
    async with LiveStack(MemoryBus(EMBEDDED_POLICY), MemoryStore(), engine, port) as stack:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", "stream", str(audio), "--context", str(context), "--speed", "2",
            "--url", stack.url, "--token", TOKEN, "--json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 300)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()


def test_stream_json_prints_only_json_on_stdout(engine: WhisperEngine, free_port: int, tmp_path: Path) -> None:
    audio = tmp_path / "clip.wav"
    audio.write_bytes(wav(decode_audio(case_audio(CASE["id"]))[: CLIP_S * 16_000]))
    context = tmp_path / "context.json"
    context.write_text(json.dumps({**CASE["context"], "mode": CASE["mode"]}))
    code, out, err = asyncio.run(_stream(engine, free_port, audio, context))
    assert code == 0, err
    result = json.loads(out)  # the whole of stdout is one JSON object
    assert out.lstrip().startswith("{") and result["transcript"]
    assert "streaming" in err  # the live view's lines went to stderr
