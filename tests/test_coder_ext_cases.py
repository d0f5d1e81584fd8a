"""The coder on the extra synthetic cases of tests/data/cases, from their gold text.

These cases were written after the coder, with other wording, codes, payers and note types than the
public ones (see tests/data/cases/README.md); they do not depend on SCRIBE_EVAL_DIR.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.coder.coding import code_draft
from services.coder.rules import load_default_rules
from tests.cases import gold_draft
from tests.test_coder_cases import assert_coded_like_gold

RULES = load_default_rules()
CASES_DIR = Path(__file__).resolve().parent / "data" / "cases"


def ext_case_ids() -> list[str]:
    return sorted(p.stem for p in CASES_DIR.glob("*.json"))


def load_ext_case(case_id: str) -> dict[str, Any]:
    return json.loads((CASES_DIR / f"{case_id}.json").read_text())


def test_there_are_ten_cases_with_audio() -> None:
    ids = ext_case_ids()
    assert len(ids) >= 10
    for case_id in ids:
        assert (CASES_DIR / f"{case_id}.flac").is_file(), case_id


@pytest.mark.parametrize("case_id", ext_case_ids())
def test_ext_case(case_id: str, activity_model: object) -> None:
    case = load_ext_case(case_id)
    result = code_draft(gold_draft(case), RULES)
    payer = RULES.payers[case["context"]["payer"]]
    method = payer.billing_method if payer.method_fixed else (case["context"].get("billing_method")
                                                              or payer.billing_method)
    assert_coded_like_gold(case, result, method)
    timed = sum(c["minutes"] for c in case["gold"]["codes"] if RULES.code(c["cpt"]).timed)
    assert timed == case["gold"]["total_timed_minutes"]
