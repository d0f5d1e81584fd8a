"""`scribe eval`: every case of a directory through the embedded pipeline, scored, as a table."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from rich.console import Console
from rich.table import Table

from proto import scribe_pb2 as pb
from services.common.context import context_from_dict
from services.common.corrector import context_text, write_recognised
from services.common.errors import InputError
from services.common.export import result_to_dict
from services.common.vocabulary import to_written
from services.evaluation.score import CaseScore, score_case, summarize

DEFAULT_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "eval" / "public"


def load_cases(cases_dir: Path, only: list[str]) -> list[dict[str, Any]]:
    if not cases_dir.is_dir():
        raise InputError(f"no cases directory at {cases_dir}")
    cases = [json.loads(p.read_text()) for p in sorted(cases_dir.glob("*.json"))]
    if only:
        cases = [c for c in cases if c["id"] in only]
    if not cases:
        raise InputError(f"no cases (*.json) found in {cases_dir}")
    return cases


def case_context(case: dict[str, Any]) -> pb.SessionContext:
    return context_from_dict({**case["context"], "mode": case["mode"]}, source=case["id"])


def text_transcript(case: dict[str, Any]) -> list[pb.TranscriptSegment]:
    """The gold segments as if recognised perfectly: written forms, no speaker (the drafter assigns roles)."""
    segs = case["segments"]
    out = []
    for i, seg in enumerate(segs):
        start = float(seg["at_s"])
        end = start + max(1.0, 0.36 * len(seg["text"].split()))
        if i + 1 < len(segs):
            end = min(end, float(segs[i + 1]["at_s"]) - 0.1)
        out.append(pb.TranscriptSegment(session_id=case["id"], seq=i, start_s=start, end_s=end,
                                        text=to_written(seg["text"]), raw_text=seg["text"], confidence=1.0))
    return out


def run_from_text(case: dict[str, Any]) -> dict[str, Any]:
    return draft_and_code(case, text_transcript(case))


def draft_and_code(case: dict[str, Any], transcript: list[pb.TranscriptSegment]) -> dict[str, Any]:
    from services.coder import activity
    from services.coder.coding import code_draft
    from services.coder.rules import load_default_rules
    from services.drafter.draft import build_draft, load_sentence_model

    load_sentence_model()  # the model itself is loaded once per process (cached by path)
    activity.install_from_env()
    draft = build_draft(case["id"], transcript, case_context(case), is_final=True)
    return result_to_dict(code_draft(draft, load_default_rules()))


def save_asr(directory: Path, case_id: str, transcript: list[pb.TranscriptSegment]) -> None:
    """Keep what the recogniser produced (words, confidences, pitch) to re-draft it without re-decoding."""
    directory.mkdir(parents=True, exist_ok=True)
    segs = []
    for seg in transcript:
        copy = pb.TranscriptSegment()
        copy.CopyFrom(seg)
        copy.speaker = ""  # roles are the drafter's job: re-assign them on reload
        segs.append(json_format.MessageToDict(copy))
    (directory / f"{case_id}.asr.json").write_text(json.dumps(segs, indent=1))


def load_asr(directory: Path, case_id: str, context: pb.SessionContext | None = None
             ) -> list[pb.TranscriptSegment]:
    path = directory / f"{case_id}.asr.json"
    if not path.is_file():
        raise InputError(f"no saved recognition for {case_id} in {directory} (run `scribe eval --save-asr` first)")
    segments = [json_format.ParseDict(d, pb.TranscriptSegment()) for d in json.loads(path.read_text())]
    session_text = context_text(context) if context is not None else ()
    for seg in segments:  # write the recogniser's words again, so normaliser and corrector changes show
        if seg.raw_text:
            seg.text = write_recognised(seg.raw_text, session_text)
    return segments


async def run_from_audio(cases: list[dict[str, Any]], cases_dir: Path, model_path: str | None,
                         save_dir: Path | None = None) -> list[tuple[dict[str, Any], float]]:
    from services.ingest.audio import decode_audio
    from services.pipeline import EmbeddedPipeline

    outputs = []
    async with EmbeddedPipeline(model_path=model_path) as pipeline:
        for case in cases:
            audio = cases_dir / f"{case['id']}.flac"
            duration = len(decode_audio(audio)) / 16000
            t0 = time.perf_counter()
            result = await pipeline.run_file(audio, case_context(case))
            if save_dir is not None:
                save_asr(save_dir, case["id"], list(result.draft.transcript))
            outputs.append((result_to_dict(result), (time.perf_counter() - t0) / duration))
    return outputs


def _fmt(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:.0%}" if pct else f"{v:.3f}"


def _summary_row(table: Table, label: str, overall: dict[str, Any], style: str = "") -> None:
    table.add_row(
        label, _fmt(overall["wer"]), _fmt(overall["key_term_recall"], True), _fmt(overall["code_set_exact"], True),
        _fmt(overall["units_exact"], True), _fmt(overall["times_within_1_min"], True),
        _fmt(overall["modifiers_exact"], True), _fmt(overall["fact_recall"], True), str(overall["leakage"]),
        f"P {_fmt(overall['flag_precision'])} R {_fmt(overall['flag_recall'])}", _fmt(overall["rtf"]),
        style=style,
    )


def by_mode(cases: list[dict[str, Any]], scores: list[CaseScore]) -> dict[str, dict[str, Any]]:
    """The summary of each capture mode's cases alone (ambient and dictation differ in kind)."""
    out: dict[str, dict[str, Any]] = {}
    for mode in ("ambient", "dictation"):
        picked = [s for c, s in zip(cases, scores, strict=True) if c["mode"] == mode]
        if picked:
            out[mode] = summarize(picked)
    return out


def print_table(console: Console, scores: list[CaseScore], overall: dict[str, Any],
                modes: dict[str, dict[str, Any]] | None = None, per_case: bool = True) -> None:
    """Per-case rows (unless `per_case` is off: a held-out set is read in aggregate only), then the
    summary of each mode and of all cases."""
    table = Table(title="scribe eval")
    for col in ("case", "WER", "key terms", "codes", "units", "times", "mods", "facts", "leak", "flags tp/fp/fn",
                "RTF"):
        table.add_column(col)
    for s in scores if per_case else []:
        facts = f"{sum(s.facts_found.values())}/{sum(s.facts_total.values())}"
        table.add_row(
            s.case_id, _fmt(s.wer), f"{s.key_terms_found}/{s.key_terms_total}", "yes" if s.codes_exact else "NO",
            "yes" if s.units_exact else "NO", f"{s.times_right}/{s.times_total}",
            f"{s.modifiers_right}/{s.modifiers_total}", facts, str(len(s.leaked)),
            f"{s.flags_tp}/{s.flags_fp}/{s.flags_fn}", _fmt(s.rtf),
        )
    for mode, summary in (modes or {}).items():
        _summary_row(table, f"{mode} ({summary['cases']})", summary)
    _summary_row(table, f"overall ({overall['cases']})", overall, style="bold")
    console.print(table)
    by_section = ", ".join(f"{k} {v:.0%}" for k, v in overall["fact_recall_by_section"].items())
    console.print(f"fact recall by section: {by_section}; evidence on {overall['evidence_coverage']:.0%} of items")


def run_eval(cases_dir: str | None, json_path: str | None, from_text: bool, only: list[str],
             model_path: str | None, save_asr_dir: str | None = None, from_asr_dir: str | None = None,
             per_case: bool = True) -> int:
    directory = Path(cases_dir) if cases_dir else DEFAULT_DIR
    cases = load_cases(directory, only)
    runs: list[tuple[dict[str, Any], float | None]]
    if from_text:
        runs = [(run_from_text(c), None) for c in cases]
    elif from_asr_dir:
        runs = [(draft_and_code(c, load_asr(Path(from_asr_dir), c["id"], case_context(c))), None) for c in cases]
    else:
        save_dir = Path(save_asr_dir) if save_asr_dir else None
        runs = list(asyncio.run(run_from_audio(cases, directory, model_path, save_dir)))
    scores = [score_case(c, out, rtf, with_wer=not from_text) for c, (out, rtf) in zip(cases, runs, strict=True)]
    overall = summarize(scores)
    modes = by_mode(cases, scores)
    print_table(Console(width=max(140, shutil.get_terminal_size().columns)), scores, overall, modes, per_case)
    if json_path:
        source = "text" if from_text else "saved recognition" if from_asr_dir else "audio"
        payload: dict[str, Any] = {"source": source, "overall": overall, "by_mode": modes}
        if per_case:
            payload["cases"] = [s.as_dict() for s in scores]
        Path(json_path).write_text(json.dumps(payload, indent=2))
    return 0
