"""Modifiers: GP/GO/GN by discipline where the payer requires them; 59/XU on PTP column-two codes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from services.coder.rules import CodingRules, PayerRules


@dataclass(frozen=True)
class PtpHit:
    column1: str
    column2: str
    modifier_indicator: int
    separate: bool  # the two services were done in separate time blocks
    rationale: str


def therapy_modifier(rules: CodingRules, payer: PayerRules, discipline: str) -> str | None:
    if not payer.therapy_modifiers:
        return None
    return rules.discipline_modifiers.get(discipline)


def _overlaps(a: tuple[int | None, int | None], b: tuple[int | None, int | None]) -> bool:
    if None in a or None in b:
        return False
    a0, a1 = a
    b0, b1 = b
    assert a0 is not None and a1 is not None and b0 is not None and b1 is not None
    return a0 < b1 and b0 < a1


def ptp_hits(codes: Sequence[tuple[str, list[tuple[int | None, int | None]]]], rules: CodingRules,
             day: dt.date) -> list[PtpHit]:
    """PTP pairs among the billed codes. `codes` is (cpt, its time blocks) in billing order."""
    hits: list[PtpHit] = []
    for i in range(len(codes)):
        for j in range(i + 1, len(codes)):
            a, a_blocks = codes[i]
            b, b_blocks = codes[j]
            edit = rules.ptp.edit_for(a, b, day)
            if edit is None:
                continue
            separate = not any(_overlaps(x, y) for x in a_blocks for y in b_blocks)
            hits.append(PtpHit(edit.column1, edit.column2, edit.modifier, separate, edit.rationale))
    return hits


def distinct_modifier(payer: PayerRules) -> str:
    return payer.distinct_modifier
