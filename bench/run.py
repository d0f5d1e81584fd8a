"""Benchmarks: pipeline real-time factor, drafting and coding time per note. Writes bench/RESULTS.md.

Run with `make bench` (or `python -m bench.run [--cases DIR]`). Figures are measured on the machine
that runs it; RESULTS.md records which machine (cores) and when.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from bench.results import write_sections
from services.coder.coding import code_draft
from services.coder.rules import load_default_rules
from services.drafter.draft import build_draft
from services.evaluation.runner import DEFAULT_DIR, case_context, load_cases, text_transcript
from services.ingest.audio import decode_audio
from services.pipeline import EmbeddedPipeline


def bench_text(cases: list[dict[str, Any]], repeats: int = 20) -> dict[str, float]:
    rules = load_default_rules()
    draft_ms: list[float] = []
    code_ms: list[float] = []
    for case in cases:
        transcript = text_transcript(case)
        ctx = case_context(case)
        for _ in range(repeats):
            t0 = time.perf_counter()
            draft = build_draft(case["id"], transcript, ctx, is_final=True)
            t1 = time.perf_counter()
            code_draft(draft, rules)
            t2 = time.perf_counter()
            draft_ms.append((t1 - t0) * 1000)
            code_ms.append((t2 - t1) * 1000)
    return {
        "draft_ms_mean": statistics.mean(draft_ms),
        "draft_ms_p95": statistics.quantiles(draft_ms, n=20)[-1],
        "code_ms_mean": statistics.mean(code_ms),
        "code_ms_p95": statistics.quantiles(code_ms, n=20)[-1],
    }


async def bench_audio(cases: list[dict[str, Any]], cases_dir: Path) -> list[dict[str, Any]]:
    rows = []
    async with EmbeddedPipeline() as pipeline:
        for case in cases:
            audio = cases_dir / f"{case['id']}.flac"
            duration = len(decode_audio(audio)) / 16000
            t0 = time.perf_counter()
            await pipeline.run_file(audio, case_context(case))
            wall = time.perf_counter() - t0
            speech = sum(a.decoded_seconds for a in pipeline.asr)
            rows.append({"case": case["id"], "mode": case["mode"], "audio_s": duration, "wall_s": wall,
                         "rtf": wall / duration})
            for a in pipeline.asr:
                a.decoded_seconds = a.busy_seconds = 0.0
            rows[-1]["speech_s"] = speech
    return rows


def write_results(text: dict[str, float], audio: list[dict[str, Any]]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Measured {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {platform.machine()} with {os.cpu_count()} cores "
        f"(`python -m bench.run`), bundled tiny.en int8, one thread per ASR worker, embedded mode.",
        "",
        "## Drafting and coding (gold text in, note and codes out)",
        "",
        "| step | mean ms | p95 ms | target |",
        "| --- | --- | --- | --- |",
        f"| draft a note | {text['draft_ms_mean']:.1f} | {text['draft_ms_p95']:.1f} | <= 200 ms mean |",
        f"| code a note | {text['code_ms_mean']:.1f} | {text['code_ms_p95']:.1f} | <= 20 ms |",
        "",
        "## Whole pipeline from audio (`scribe dictate` path)",
        "",
        "| case | mode | audio s | speech decoded s | wall s | real-time factor | x real time |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in audio:
        lines.append(f"| {r['case']} | {r['mode']} | {r['audio_s']:.1f} | {r['speech_s']:.1f} | {r['wall_s']:.2f} | "
                     f"{r['rtf']:.4f} | {1 / r['rtf']:.0f}x |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", default=str(DEFAULT_DIR))
    parser.add_argument("--no-audio", action="store_true", help="Only the text benchmarks.")
    args = parser.parse_args()
    cases_dir = Path(args.cases)
    cases = load_cases(cases_dir, [])
    text = bench_text(cases)
    audio = [] if args.no_audio else asyncio.run(bench_audio(cases, cases_dir))
    report = write_results(text, audio)
    write_sections(report)
    print(report)


if __name__ == "__main__":
    main()
