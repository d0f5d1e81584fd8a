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
    """Draft and code each case's gold text as the services do (both sentence models installed).

    The first pass of a case embeds every sentence (caches emptied: a finished session coded once);
    the repeats find them cached (a live session re-drafts and re-codes on each new segment)."""
    from services.coder import activity
    from services.drafter import embeddings

    rules = load_default_rules()
    drafter_model = embeddings.install_from_env()
    coder_model = activity.install_from_env()
    first: dict[str, list[float]] = {"draft": [], "code": []}
    again: dict[str, list[float]] = {"draft": [], "code": []}
    for case in cases:
        transcript = text_transcript(case)
        ctx = case_context(case)
        if drafter_model is not None:
            drafter_model.cache.clear()
        if coder_model is not None:
            coder_model._cache.clear()
        for n in range(repeats):
            t0 = time.perf_counter()
            draft = build_draft(case["id"], transcript, ctx, is_final=True)
            t1 = time.perf_counter()
            code_draft(draft, rules)
            t2 = time.perf_counter()
            into = first if n == 0 else again
            into["draft"].append((t1 - t0) * 1000)
            into["code"].append((t2 - t1) * 1000)
    out = {"models": float(drafter_model is not None and coder_model is not None)}
    for name, runs in (("first", first), ("again", again)):
        for step in ("draft", "code"):
            out[f"{step}_{name}_mean"] = statistics.mean(runs[step])
            out[f"{step}_{name}_p95"] = statistics.quantiles(runs[step], n=20)[-1] if len(runs[step]) > 1 \
                else runs[step][0]
    return out


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
        f"(`python -m bench.run{'' if audio else ' --no-audio'}`), bundled tiny.en int8, one thread per ASR worker, "
        f"embedded mode{'' if audio else '; the pipeline table is from the last full run'}.",
        "",
        "## Drafting and coding (gold text in, note and codes out)",
        "",
        "As the services run: the drafter's and the coder's sentence model installed"
        + ("" if text["models"] else " (NOT installed on this run: rules only)") + ". First pass: the case's "
        "sentences are embedded (a finished session coded once); repeat: they are cached (a live session "
        "re-codes on each new segment).",
        "",
        "| step | first pass mean ms | first pass p95 ms | repeat mean ms | repeat p95 ms | target |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| draft a note | {text['draft_first_mean']:.1f} | {text['draft_first_p95']:.1f} | "
        f"{text['draft_again_mean']:.1f} | {text['draft_again_p95']:.1f} | <= 200 ms mean |",
        f"| code a note | {text['code_first_mean']:.1f} | {text['code_first_p95']:.1f} | "
        f"{text['code_again_mean']:.1f} | {text['code_again_p95']:.1f} | <= 20 ms |",
    ]
    if not audio:  # text only (--no-audio): RESULTS.md keeps the pipeline table of the last full run
        return "\n".join(lines) + "\n"
    lines += [
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
