"""Score one run's output against a case's gold answers (shared/eval/README.md)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import jiwer

from services.common.export import SECTIONS
from services.common.vocabulary import to_written

_PUNCT = re.compile(r"[^\w\s/+\-:°%.]")


def canon(text: str) -> str:
    """Fold the spellings the README counts as the same: 110° = 110 degrees, 40 lb = 40 pounds, 3 x 15 = 3x15."""
    t = text.lower().replace("°", " degrees")
    t = re.sub(r"(\d)\s*(?:lbs?|pounds?)\b", r"\1 pounds", t)
    t = re.sub(r"(\d)\s*x\s*(\d)", r"\1x\2", t)
    return re.sub(r"\s+", " ", t)


def contains(haystack: str, term: str) -> bool:
    return canon(term).strip() in canon(haystack)


def _wer_words(text: str) -> str:
    t = canon(to_written(text))
    t = _PUNCT.sub(" ", t)
    t = re.sub(r"(?<!\d)[.:](?!\d)", " ", t)  # sentence punctuation, not 10:05 or 4.5
    return re.sub(r"\s+", " ", t).strip()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER after writing both sides in the same written forms (so "three out of ten" = "3/10")."""
    ref, hyp = _wer_words(reference), _wer_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return float(jiwer.wer(ref, hyp))


@dataclass
class CaseScore:
    case_id: str
    wer: float | None
    key_terms_found: int
    key_terms_total: int
    codes_exact: bool
    units_exact: bool
    times_right: int
    times_total: int
    modifiers_right: int
    modifiers_total: int
    facts_found: dict[str, int] = field(default_factory=dict)
    facts_total: dict[str, int] = field(default_factory=dict)
    leaked: list[str] = field(default_factory=list)
    flags_tp: int = 0
    flags_fp: int = 0
    flags_fn: int = 0
    items: int = 0
    items_with_evidence: int = 0
    rtf: float | None = None
    missed_key_terms: list[str] = field(default_factory=list)
    missed_facts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _minutes(clock: str | None) -> int | None:
    if not clock:
        return None
    h, m = clock.split(":")
    return int(h) * 60 + int(m)


def _close(pred: str | None, gold: str | None) -> bool:
    p, g = _minutes(pred), _minutes(gold)
    if g is None or p is None:
        return p is None and g is None
    return abs(p - g) <= 1


def score_case(case: dict[str, Any], output: dict[str, Any], rtf: float | None = None,
               with_wer: bool = True) -> CaseScore:
    gold = case["gold"]
    method = case["context"].get("billing_method") or output.get("billing_method", "cms")
    unit_key = "units_cms" if method == "cms" else "units_per_code"
    note_texts = {s: " \n ".join(i["text"] for i in output["note"][s]) for s in SECTIONS}
    all_note = " \n ".join(note_texts.values())
    transcript = " ".join(s["text"] for s in output["transcript"])

    key_missed = [t for t in gold.get("key_terms", []) if not contains(transcript + " \n " + all_note, t)]
    pred: dict[str, dict[str, Any]] = {}
    for c in output["codes"]:
        pred.setdefault(c["cpt"], c)
    gold_codes = {c["cpt"]: c for c in gold["codes"]}
    codes_exact = set(pred) == set(gold_codes)
    units_exact = codes_exact and all(pred[k]["units"] == g[unit_key] for k, g in gold_codes.items())
    times_right: int = sum(
        1 for k, g in gold_codes.items()
        if k in pred and _close(pred[k]["start"], g["start"]) and _close(pred[k]["stop"], g["stop"])
    )
    mods_right: int = sum(
        1 for k, g in gold_codes.items() if k in pred and set(pred[k]["modifiers"]) == set(g["modifiers"])
    )

    found: dict[str, int] = {}
    total: dict[str, int] = {}
    missed_facts = []
    for section, facts in gold["facts"].items():
        total[section] = len(facts)
        found[section] = 0
        for words in facts:
            if all(contains(note_texts.get(section, ""), w) for w in words):
                found[section] += 1
            else:
                missed_facts.append(f"{section}: {' + '.join(words)}")
    leaked = [w for w in gold.get("must_not_include", []) if contains(all_note, w)]
    gold_flags = set(gold.get("flags", []))
    pred_flags = {f["kind"] for f in output["flags"]}
    items = [i for s in SECTIONS for i in output["note"][s]]
    wer = None
    if with_wer:
        wer = word_error_rate(" ".join(s["text"] for s in case["segments"]), transcript)
    return CaseScore(
        case_id=case["id"],
        wer=wer,
        key_terms_found=len(gold.get("key_terms", [])) - len(key_missed),
        key_terms_total=len(gold.get("key_terms", [])),
        codes_exact=codes_exact,
        units_exact=units_exact,
        times_right=times_right,
        times_total=len(gold_codes),
        modifiers_right=mods_right,
        modifiers_total=len(gold_codes),
        facts_found=found,
        facts_total=total,
        leaked=leaked,
        flags_tp=len(gold_flags & pred_flags),
        flags_fp=len(pred_flags - gold_flags),
        flags_fn=len(gold_flags - pred_flags),
        items=len(items),
        items_with_evidence=sum(1 for i in items if i["evidence"]),
        rtf=rtf,
        missed_key_terms=key_missed,
        missed_facts=missed_facts,
    )


def summarize(scores: list[CaseScore]) -> dict[str, Any]:
    """Overall figures: means of per-case rates, micro-averaged counts."""
    n = len(scores) or 1

    def ratio(a: float, b: float) -> float:
        return a / b if b else 1.0

    wers = [s.wer for s in scores if s.wer is not None]
    rtfs = [s.rtf for s in scores if s.rtf is not None]
    tp = sum(s.flags_tp for s in scores)
    fp = sum(s.flags_fp for s in scores)
    fn = sum(s.flags_fn for s in scores)
    sections = sorted({k for s in scores for k in s.facts_total})
    return {
        "cases": len(scores),
        "wer": sum(wers) / len(wers) if wers else None,
        "key_term_recall": ratio(sum(s.key_terms_found for s in scores), sum(s.key_terms_total for s in scores)),
        "code_set_exact": sum(s.codes_exact for s in scores) / n,
        "units_exact": sum(s.units_exact for s in scores) / n,
        "times_within_1_min": ratio(sum(s.times_right for s in scores), sum(s.times_total for s in scores)),
        "modifiers_exact": ratio(sum(s.modifiers_right for s in scores), sum(s.modifiers_total for s in scores)),
        "fact_recall": ratio(sum(sum(s.facts_found.values()) for s in scores),
                             sum(sum(s.facts_total.values()) for s in scores)),
        "fact_recall_by_section": {
            sec: ratio(sum(s.facts_found.get(sec, 0) for s in scores), sum(s.facts_total.get(sec, 0) for s in scores))
            for sec in sections
        },
        "leakage": sum(len(s.leaked) for s in scores),
        "flag_precision": ratio(tp, tp + fp),
        "flag_recall": ratio(tp, tp + fn),
        "evidence_coverage": ratio(sum(s.items_with_evidence for s in scores), sum(s.items for s in scores)),
        "rtf": sum(rtfs) / len(rtfs) if rtfs else None,
    }
