"""The coder on all public eval cases, from their gold transcripts."""

from __future__ import annotations

import time
from typing import Any

import pytest

from proto import scribe_pb2 as pb
from services.coder.coding import code_draft
from services.coder.rules import load_default_rules
from services.coder.text import parse_clock
from tests.cases import case_ids, gold_draft, load_case

RULES = load_default_rules()


def assert_coded_like_gold(case: dict[str, Any], result: pb.CodingResult, method: str) -> None:
    """Code set, units under `method`, minutes, times within a minute, modifiers and flags as the gold."""
    assert result.billing_method == method
    gold = {c["cpt"]: c for c in case["gold"]["codes"]}
    pred = {c.cpt: c for c in result.codes}
    assert set(pred) == set(gold)
    for cpt, g in gold.items():
        p = pred[cpt]
        assert p.units == g[f"units_{method}"], cpt
        assert p.minutes == g["minutes"], cpt
        assert _near(g["start"], p.start) and _near(g["stop"], p.stop), (cpt, p.start, p.stop)
        assert sorted(p.modifiers) == sorted(g["modifiers"]), cpt
        assert p.rationale and p.evidence
    assert {f.kind for f in result.flags} == set(case["gold"]["flags"])


def _near(gold: str | None, pred: str) -> bool:
    if gold is None:
        return pred == ""
    g, p = parse_clock(gold), parse_clock(pred)
    return g is not None and p is not None and abs(g - p) <= 1


@pytest.mark.parametrize("case_id", case_ids())
def test_public_case(case_id: str) -> None:
    case = load_case(case_id)
    result = code_draft(gold_draft(case), RULES)
    assert_coded_like_gold(case, result, case["context"].get("billing_method") or "cms")
    for f in result.flags:
        assert f.message and f.cpt


def test_fast_enough() -> None:
    drafts = [gold_draft(load_case(cid)) for cid in case_ids()]
    code_draft(drafts[0], RULES)
    t0 = time.perf_counter()
    for d in drafts:
        code_draft(d, RULES)
    per_note_ms = (time.perf_counter() - t0) * 1000 / len(drafts)
    assert per_note_ms < 20, per_note_ms
