"""Therapy terms in the transcript: key-term recall and WER before and after the term corrector.

Reads recognition kept by `scribe eval DIR --save-asr ASR_DIR` (the recogniser's raw words), so the
corrector is scored without decoding again:

    python -m bench.terms CASES_DIR=ASR_DIR [CASES_DIR=ASR_DIR ...] [--write]

For each set: WER of the raw words, of the written transcript without the corrector (`to_written`) and
with it (`write_recognised`), the key terms found in the transcript alone (the note is the drafter's
business), the corrector's time per note, and how many segments it changed; only totals per set are
printed (how a held-out set is read). Also the negatives set's change rate
and the lexicon's size per category. --write puts the tables into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from services.common.corrector import Corrector, context_text
from services.common.term_index import load_terms
from services.common.vocabulary import to_written
from services.evaluation.runner import case_context, load_asr, load_cases
from services.evaluation.score import contains, word_error_rate

from .results import write_sections

NEGATIVES = Path(__file__).resolve().parents[1] / "tests" / "data" / "corrector_negatives.txt"


@dataclass
class SetScore:
    name: str
    cases: int
    wer_raw: float
    wer_written: float
    wer_corrected: float
    terms_total: int
    terms_written: int
    terms_corrected: int
    ms_per_note: float
    segments: int
    segments_changed: int


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def score_set(cases_dir: Path, asr_dir: Path) -> SetScore:
    cases = [c for c in load_cases(cases_dir, []) if (asr_dir / f"{c['id']}.asr.json").is_file()]
    if not cases:
        raise SystemExit(f"no saved recognition in {asr_dir} for the cases of {cases_dir}")
    wer_raw, wer_written, wer_corrected, times = [], [], [], []
    total = found_written = found_corrected = segments = changed = 0
    for case in cases:
        context = case_context(case)
        raw = [s.raw_text for s in load_asr(asr_dir, case["id"])]
        written = [to_written(t) for t in raw]
        t0 = time.perf_counter()
        corrector = Corrector(context_text(context))
        corrected = [corrector.correct(t) for t in written]
        times.append(time.perf_counter() - t0)
        segments += len(raw)
        changed += sum(a != b for a, b in zip(written, corrected, strict=True))
        reference = " ".join(s["text"] for s in case["segments"])
        wer_raw.append(word_error_rate(reference, " ".join(raw)))
        wer_written.append(word_error_rate(reference, " ".join(written)))
        wer_corrected.append(word_error_rate(reference, " ".join(corrected)))
        terms = case["gold"].get("key_terms", [])
        total += len(terms)
        found_written += sum(contains(" ".join(written), t) for t in terms)
        found_corrected += sum(contains(" ".join(corrected), t) for t in terms)
    return SetScore(asr_dir.name, len(cases), _mean(wer_raw), _mean(wer_written), _mean(wer_corrected), total,
                    found_written, found_corrected, 1000 * _mean(times), segments, changed)


def negatives_rate(path: Path = NEGATIVES) -> tuple[int, int]:
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    corrector = Corrector()
    return sum(corrector.correct(line) != line for line in lines), len(lines)


def report(scores: list[SetScore]) -> str:
    def pct(a: int, b: int) -> str:
        return f"{a / b:.0%} ({a}/{b})" if b else "-"

    rows = [
        "## Therapy terms in the transcript (`python -m bench.terms`)",
        "",
        "Saved recognition of each set, written three ways: the recogniser's raw words, `to_written` alone"
        " (numbers, times, scores) and `write_recognised` (the same, then the lexicon corrector). Key terms"
        " are looked for in the transcript only. Unseen sets are read in aggregate only.",
        "",
        "| set | cases | WER raw | WER written | WER corrected | key terms written | key terms corrected |"
        " corrector ms/note | segments changed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in scores:
        rows.append(
            f"| {s.name} | {s.cases} | {s.wer_raw:.3f} | {s.wer_written:.3f} | {s.wer_corrected:.3f} |"
            f" {pct(s.terms_written, s.terms_total)} | {pct(s.terms_corrected, s.terms_total)} |"
            f" {s.ms_per_note:.1f} | {s.segments_changed}/{s.segments} |"
        )
    changed, n = negatives_rate()
    by_category: dict[str, int] = {}
    for term in load_terms():
        by_category[term.category] = by_category.get(term.category, 0) + 1
    rows += [
        "",
        f"Negatives (`tests/data/corrector_negatives.txt`, ordinary sentences): {changed} of {n} changed"
        f" ({changed / n:.2%}; the bound is under 1 in 200).",
        "",
        "| lexicon category | entries |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in sorted(by_category.items())),
        f"| all | {sum(by_category.values())} |",
    ]
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", help="CASES_DIR=ASR_DIR pairs")
    parser.add_argument("--write", action="store_true", help="write the tables into bench/RESULTS.md")
    args = parser.parse_args()
    scores = []
    for pair in args.sets:
        cases_dir, _, asr_dir = pair.partition("=")
        scores.append(score_set(Path(cases_dir), Path(asr_dir)))
    text = report(scores)
    print(text)
    if args.write:
        write_sections(text)


if __name__ == "__main__":
    main()
