"""Live capture benchmark: public-case audio streamed in real time over WebRTC into `scribe serve`.

`python -m bench.live [--redis URL] [--cases pub-004,pub-009,pub-011] [--sessions 1,4,8]` starts
`scribe serve` (2 asr workers) on the given Redis database, then
- streams each case alone in real time: speech end -> committed segment latency, speech start ->
  first partial latency, and the WER / key-term recall of the streamed transcript next to
  whole-file decoding (`scribe dictate`'s path) of the same audio;
- streams N sessions at once for each N: the commit lag (p95, max); "held" means max lag < 2 s;
- times `scribe dictate` on the longest case (x real time).
Latencies are measured at the client, from when the audio was played to when the event arrived on
the session's SSE feed. The client (aiortc Opus encoding) runs on the same 2 cores as the services.
Writes its table under "## Live capture" in bench/RESULTS.md, keeping the other sections.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from services.common.context import context_to_dict
from services.evaluation.runner import DEFAULT_DIR, case_context, load_cases
from services.evaluation.score import contains, word_error_rate
from services.ingest.audio import decode_audio
from services.ingest.live_client import LiveClient
from services.pipeline import EmbeddedPipeline

RESULTS = Path(__file__).with_name("RESULTS.md")
TOKEN = "bench-live-token"
SPEECH_LEAD_S = 0.15  # VadOptions.pad_start_ms: an utterance starts this long before its speech


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def stream_one(url: str, case: dict[str, Any], cases_dir: Path) -> dict[str, Any]:
    pcm = decode_audio(cases_dir / f"{case['id']}.flac")
    commit: list[float] = []
    first_partial: dict[int, float] = {}
    async with LiveClient(url, TOKEN) as client:
        sid = await client.start(context_to_dict(case_context(case)))
        track_box: list[Any] = []

        async def follow() -> None:
            async for ev in client.events(sid):
                now = time.time()
                if not track_box or track_box[0].started_at is None:
                    continue
                track = track_box[0]
                if ev["type"] == "segment" and ev["text"] and ev["speech_end_s"] <= track.audio_s:
                    commit.append(now - track.sent_at(ev["speech_end_s"]))
                elif ev["type"] == "partial" and ev["seq"] not in first_partial:
                    first_partial[ev["seq"]] = now - track.sent_at(ev["start_s"] + SPEECH_LEAD_S)

        feed = asyncio.create_task(follow())
        pc, track = await client.stream_webrtc(sid, pcm, speed=1.0)
        track_box.append(track)
        await track.finished.wait()
        await asyncio.sleep(0.3)
        await pc.close()
        await client.stop(sid)
        await asyncio.wait_for(feed, 300)
        result = await client.result(sid, wait_s=60)
    assert result is not None
    return {"case": case["id"], "commit": commit, "partial": list(first_partial.values()), "result": result}


def _text_scores(case: dict[str, Any], result: dict[str, Any]) -> tuple[float, float]:
    hyp = " ".join(s["text"] for s in result["transcript"])
    ref = " ".join(s["text"] for s in case["segments"])
    terms = case["gold"]["key_terms"]
    return word_error_rate(ref, hyp), sum(contains(hyp, t) for t in terms) / len(terms)


async def whole_file(cases: list[dict[str, Any]], cases_dir: Path) -> dict[str, tuple[float, float, float]]:
    from services.common.export import result_to_dict

    out = {}
    async with EmbeddedPipeline() as pipeline:
        for case in cases:
            audio = cases_dir / f"{case['id']}.flac"
            t0 = time.perf_counter()
            res = result_to_dict(await pipeline.run_file(audio, case_context(case)))
            wall = time.perf_counter() - t0
            wer, terms = _text_scores(case, res)
            out[case["id"]] = (wer, terms, len(decode_audio(audio)) / 16000 / wall)
    return out


def start_server(redis_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SCRIBE_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "--redis", redis_url, "--port", str(port),
                             "--asr-workers", "2"], env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            time.sleep(3)  # the asr workers load their models after ingest is up
            return proc
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit("scribe serve did not come up") from None
            time.sleep(0.2)


async def run(args: argparse.Namespace) -> str:
    cases_dir = Path(args.cases_dir)
    cases = load_cases(cases_dir, args.cases.split(","))
    url = f"http://127.0.0.1:{args.port}"
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    server = start_server(args.redis, args.port)
    try:
        single = [await stream_one(url, case, cases_dir) for case in cases]
        levels = []
        for n in [int(x) for x in args.sessions.split(",")]:
            runs = await asyncio.gather(*(stream_one(url, cases[i % len(cases)], cases_dir) for i in range(n)))
            lags = [x for r in runs for x in r["commit"]]
            levels.append((n, _pct(lags, 0.95), max(lags) if lags else float("nan")))
            print(f"{n} sessions: commit lag p95 {levels[-1][1]:.2f} s, max {levels[-1][2]:.2f} s", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    files = await whole_file(cases, cases_dir)
    commit = [x for r in single for x in r["commit"]]
    partial = [x for r in single for x in r["partial"]]
    lines = ["## Live capture", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M')} with `python -m bench.live` on {os.cpu_count()} cores: "
             f"cases {args.cases} streamed in real time over WebRTC (aiortc loopback, client in the same machine) "
             "into `scribe serve --asr-workers 2` on Redis; latencies measured at the client's SSE feed.", "",
             "| figure | measured | target |", "| --- | --- | --- |",
             f"| speech end -> committed segment, 1 session (n={len(commit)}) | p50 {_pct(commit, 0.5):.2f} s, "
             f"p95 {_pct(commit, 0.95):.2f} s | p50 <= 0.6 s, p95 <= 1.2 s |",
             f"| speech start -> first partial, 1 session (n={len(partial)}) | p50 {_pct(partial, 0.5):.2f} s, "
             f"p95 {_pct(partial, 0.95):.2f} s | p50 <= 1.0 s |"]
    held = [n for n, _p95, mx in levels if mx < 2.0]
    for n, p95, mx in levels:
        lines.append(f"| {n} concurrent sessions: commit lag | p95 {p95:.2f} s, max {mx:.2f} s "
                     f"({'held' if mx < 2.0 else 'not held'}) | max < 2 s |")
    lines.append(f"| most concurrent sessions held in real time (of {args.sessions}) | "
                 f"{max(held) if held else 0} | >= 8 |")
    rtf = statistics.mean(v[2] for v in files.values())
    lines.append(f"| `scribe dictate` path, whole files | {rtf:.1f}x real time (mean of {len(files)}) | >= 20x |")
    lines += ["", "| case | WER streamed | WER whole file | key terms streamed | key terms whole file |",
              "| --- | --- | --- | --- | --- |"]
    for r, case in zip(single, cases, strict=True):
        wer, terms = _text_scores(case, r["result"])
        fw, ft, _ = files[case["id"]]
        lines.append(f"| {case['id']} | {wer:.3f} | {fw:.3f} | {terms:.0%} | {ft:.0%} |")
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    kept = re.sub(r"## Live capture\n.*?(?=\n## |\Z)", "", old, flags=re.S).rstrip("\n")
    RESULTS.write_text(f"{kept}\n\n{section}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis", default=os.environ.get("SCRIBE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    parser.add_argument("--port", type=int, default=8761)
    parser.add_argument("--cases-dir", default=str(DEFAULT_DIR))
    parser.add_argument("--cases", default="pub-004,pub-009,pub-011")
    parser.add_argument("--sessions", default="4,8")
    section = asyncio.run(run(parser.parse_args()))
    write_section(section)
    print(section)


if __name__ == "__main__":
    main()
