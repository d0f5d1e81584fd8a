"""Drafter benchmark: rules only vs rules + MiniLM, on labelled sentences and on whole cases.

    .venv/bin/python -m bench.drafter [--asr /work/asr-cache] [--cases DIR ...]

Prints, for each classifier: sentence accuracy on bench/drafter_heldout.tsv (new wording, never
used for prototypes) and on the training file (sanity), and per case set: fact recall overall and
per section, small-talk leakage, items flagged for review, and mean draft time per note (model
load excluded, embeddings included: a cold per-sentence cache is measured first).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proto import scribe_pb2 as pb
from services.drafter import embeddings
from services.drafter.clean import strip_fillers
from services.drafter.lexicon import SECTIONS, load_lexicon
from services.drafter.note import draft_note, resolve_roles
from services.drafter.sections import classify, rescue, set_classifier
from services.drafter.smalltalk import strip_small_talk
from services.evaluation.runner import case_context, load_asr, text_transcript
from services.evaluation.score import contains

HELDOUT = Path(__file__).resolve().parent / "drafter_heldout.tsv"
PUBLIC = Path(__file__).resolve().parents[2] / "shared" / "eval" / "public"


def sentence_label(text: str, role: str) -> str:
    """What the drafter does with one sentence: leaves it out (small_talk) or places it."""
    lex = load_lexicon()
    body = strip_small_talk(text, lex)
    if not body and not lex.is_strong_smalltalk(text) and not lex.is_weak_smalltalk(text):
        r = rescue(strip_fillers(text, lex), role, lex)
        return r.section or "small_talk"
    if not body:
        return "small_talk"
    c = classify(body, role, lex)
    return c.section or "small_talk"


def sentence_accuracy(rows: list[tuple[str, str, str]]) -> tuple[float, dict[str, str]]:
    right = 0
    wrong: dict[str, str] = {}
    for label, role, text in rows:
        got = sentence_label(text, role)
        right += got == label
        if got != label:
            wrong[text] = f"{label} -> {got}"
    return right / len(rows), wrong


def load_cases(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


def transcript_of(case: dict[str, Any], asr: Path | None) -> list[pb.TranscriptSegment]:
    return load_asr(asr, case["id"], case_context(case)) if asr else text_transcript(case)


def case_figures(cases: list[dict[str, Any]], asr: Path | None) -> dict[str, Any]:
    lex = load_lexicon()
    hit = dict.fromkeys(SECTIONS, 0)
    total = dict.fromkeys(SECTIONS, 0)
    leaks: list[str] = []
    review = 0
    times: list[float] = []
    for case in cases:
        transcript = transcript_of(case, asr)
        ctx = case_context(case)
        roles = resolve_roles(transcript, ctx, lex)
        t0 = time.perf_counter()
        note = draft_note(transcript, ctx, roles)
        times.append(time.perf_counter() - t0)
        texts = {s: " \n ".join(i.text for i in getattr(note, s)) for s in SECTIONS}
        for section, facts in case["gold"]["facts"].items():
            total[section] += len(facts)
            hit[section] += sum(all(contains(texts[section], w) for w in fact) for fact in facts)
        everything = " \n ".join(texts.values()).lower()
        leaks += [f"{case['id']}:{w}" for w in case["gold"].get("must_not_include", []) if w.lower() in everything]
        review += sum(i.needs_review for s in SECTIONS for i in getattr(note, s))
    n = sum(total.values())
    return {
        "fact_recall": sum(hit.values()) / n if n else 1.0,
        "by_section": {s: (hit[s] / total[s] if total[s] else 1.0) for s in SECTIONS},
        "leaks": leaks,
        "needs_review": review,
        "ms_per_note_cold": 1000 * sum(times) / len(times),
    }


def warm_ms(cases: list[dict[str, Any]], asr: Path | None) -> float:
    inputs = [(transcript_of(c, asr), case_context(c)) for c in cases]
    t0 = time.perf_counter()
    for transcript, ctx in inputs:
        draft_note(transcript, ctx)
    return 1000 * (time.perf_counter() - t0) / len(inputs)


def run(name: str, setup: Callable[[], None], sets: list[tuple[str, list[dict[str, Any]], Path | None]]) -> None:
    setup()
    heldout = embeddings.read_examples(HELDOUT)
    train = embeddings.read_examples()
    acc, wrong = sentence_accuracy(heldout)
    train_acc, _ = sentence_accuracy(train)
    print(f"== {name}")
    print(f"  held-out sentences: {acc:.1%} of {len(heldout)}   (training sentences: {train_acc:.1%})")
    for text, what in wrong.items():
        print(f"    {what:28} {text}")
    for label, cases, asr in sets:
        f = case_figures(cases, asr)
        by = ", ".join(f"{s} {v:.0%}" for s, v in f["by_section"].items())
        print(f"  {label:28} facts {f['fact_recall']:.1%} ({by}); leaks {len(f['leaks'])} {f['leaks']}; "
              f"review {f['needs_review']}; {f['ms_per_note_cold']:.1f} ms/note cold, "
              f"{warm_ms(cases, asr):.1f} ms/note warm")
    set_classifier(None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--asr", type=Path, default=Path("/work/asr-cache"))
    ap.add_argument("--cases", type=Path, action="append", default=[])
    args = ap.parse_args()
    public = load_cases(PUBLIC)
    sets: list[tuple[str, list[dict[str, Any]], Path | None]] = [("public, gold text", public, None)]
    if args.asr.is_dir():
        sets.append(("public, saved recognition", public, args.asr))
    for d in args.cases:
        sets.append((f"{d}, text", load_cases(d), None))
    run("rules only", lambda: set_classifier(None), sets)
    t0 = time.perf_counter()
    model = embeddings.build(embeddings.default_model_path())
    print(f"(model load + {len(model.cache)} prototype sentences: {time.perf_counter() - t0:.1f} s)")
    model.cache.clear()
    run("rules + MiniLM",
        lambda: set_classifier(embeddings.hybrid(model), embeddings.rescuer(model), model.deferred), sets)


if __name__ == "__main__":
    main()
