"""The coder on all public eval cases, from their gold transcripts."""

from __future__ import annotations

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
        assert abs(p.minutes - g["minutes"]) <= 2, cpt  # start and stop may each be a minute off
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
def test_public_case(case_id: str, activity_model: object) -> None:
    case = load_case(case_id)
    result = code_draft(gold_draft(case), RULES)
    assert_coded_like_gold(case, result, case["context"].get("billing_method") or "cms")
    for f in result.flags:
        assert f.message and f.cpt
