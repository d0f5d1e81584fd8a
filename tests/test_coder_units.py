"""Units under the CMS total-time method and the per-code method, against a plain reference."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from proto import scribe_pb2 as pb
from services.coder.coding import code_draft
from services.coder.rules import load_default_rules
from services.coder.units import cms_total_units, units_cms, units_per_code


def ref_total_units(total: int) -> int:
    """The README table written out: 8-22 = 1, 23-37 = 2, 38-52 = 3, 53-67 = 4, then +1 per 15."""
    if total < 8:
        return 0
    units, upper = 1, 22
    while total > upper:
        units += 1
        upper += 15
    return units


def ref_cms(minutes: list[int]) -> list[int]:
    total_units = ref_total_units(sum(minutes))
    units = []
    leftovers = []
    for m in minutes:
        whole = 0
        rest = m
        while rest >= 15:
            whole += 1
            rest -= 15
        units.append(whole)
        leftovers.append(rest)
    left = total_units - sum(units)
    while left > 0:
        best = -1
        for i, rest in enumerate(leftovers):
            if rest > 0 and (best < 0 or rest > leftovers[best]):
                best = i
        if best < 0:
            break
        units[best] += 1
        leftovers[best] = 0
        left -= 1
    return units


def ref_per_code(minutes: list[int]) -> list[int]:
    out = []
    for m in minutes:
        units, rest = 0, m
        while rest >= 15:
            units += 1
            rest -= 15
        out.append(units + (1 if rest >= 8 else 0))
    return out


minutes_lists = st.lists(st.integers(min_value=0, max_value=120), min_size=0, max_size=6)


@given(minutes_lists)
def test_cms_matches_reference(minutes: list[int]) -> None:
    assert units_cms(minutes) == ref_cms(minutes)


@given(minutes_lists)
def test_cms_total_is_the_table(minutes: list[int]) -> None:
    units = units_cms(minutes)
    assert sum(units) == ref_total_units(sum(minutes)) == cms_total_units(sum(minutes))
    assert all(u >= m // 15 for u, m in zip(units, minutes, strict=True))
    assert all(u <= m // 15 + 1 for u, m in zip(units, minutes, strict=True))


@given(minutes_lists)
def test_per_code_matches_reference(minutes: list[int]) -> None:
    assert units_per_code(minutes) == ref_per_code(minutes)


@given(st.integers(min_value=0, max_value=300))
def test_single_code_methods_agree(m: int) -> None:
    assert units_cms([m]) == units_per_code([m])


def test_table_edges() -> None:
    for total, units in [(7, 0), (8, 1), (22, 1), (23, 2), (37, 2), (38, 3), (52, 3), (53, 4), (67, 4), (68, 5),
                         (82, 5), (83, 6)]:
        assert cms_total_units(total) == units, total


def test_worked_example_cms_and_per_code() -> None:
    # 97110 10:05-10:23 (18 min) and 97530 10:25-10:40 (15 min).
    assert units_cms([18, 15]) == [1, 1]
    assert units_per_code([18, 15]) == [1, 1]
    assert sum(units_cms([18, 15])) == 2


def test_leftover_units_go_to_the_most_minutes_left_over() -> None:
    assert units_cms([33, 7]) == [2, 1]  # 40 min = 3 units; 97110 keeps 2, the 7-minute code gets the third
    assert units_cms([7, 7]) == [1, 0]  # 14 min = 1 unit, to the first of the tied codes
    assert units_per_code([33, 7]) == [2, 0]
    assert units_cms([6]) == [0]


def _draft(lines: list[str], payer: str = "medicare", method: str = "cms") -> pb.DraftUpdate:
    ctx = pb.SessionContext(mode="dictation", discipline="PT", note_type="daily", payer=payer,
                            billing_method=method, session_start="10:00", diagnosis="right knee osteoarthritis")
    segs = [pb.TranscriptSegment(seq=i, start_s=i * 10.0, end_s=i * 10.0 + 9, speaker="therapist", text=t)
            for i, t in enumerate(lines)]
    return pb.DraftUpdate(session_id="t", version=len(segs), is_final=True, context=ctx, transcript=segs)


def test_stated_units_beyond_the_time_are_flagged() -> None:
    draft = _draft([
        "Therapeutic exercise from 10:05 to 10:23. Leg press 3x15 at 40 pounds to build quad strength for stairs.",
        "Bill two units of therapeutic exercise for that block.",
        "Therapeutic activities from 10:25 to 10:40. Stair negotiation with verbal cues for sequencing and "
        "tactile cues for controlled lowering, toward her goal of climbing stairs at home.",
        "Right knee flexion improved from 98 degrees to 105 degrees.",
    ])
    result = code_draft(draft, load_default_rules())
    codes = {c.cpt: c for c in result.codes}
    assert codes["97110"].units == 1 and codes["97530"].units == 1
    assert codes["97110"].units_stated == 2
    assert sum(c.units for c in result.codes) == 2
    flags = [f for f in result.flags if f.kind == "units_not_supported"]
    assert len(flags) == 1 and flags[0].cpt == "97110"
    assert "supported units: 1" in flags[0].message and "18 minutes" in flags[0].message


def test_billing_method_override_and_medicare() -> None:
    lines = ["Manual therapy from 10:00 to 10:12. Joint mobilizations to the right knee, toward the goal of stairs.",
             "Therapeutic exercise from 10:12 to 10:35, leg press, toward her goal of stairs. Knee flexion was 98 "
             "degrees last week, now 105 degrees."]
    rules = load_default_rules()
    per_code = code_draft(_draft(lines, payer="commercial", method="per_code"), rules)
    assert per_code.billing_method == "per_code"
    assert {c.cpt: c.units for c in per_code.codes} == {"97140": 1, "97110": 2}
    cms = code_draft(_draft(lines, payer="commercial", method="cms"), rules)
    assert {c.cpt: c.units for c in cms.codes} == {"97140": 1, "97110": 1}
    default = code_draft(_draft(lines, payer="commercial", method=""), rules)
    assert default.billing_method == "per_code"
    medicare = code_draft(_draft(lines, payer="medicare", method="per_code"), rules)
    assert medicare.billing_method == "cms"


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=3), st.sampled_from(["cms", "per_code"]))
def test_coder_units_match_reference_end_to_end(minutes: list[int], method: str) -> None:
    """Dictated blocks back to back from 10:00; the coder's units are the reference's for the method."""
    names = ["Therapeutic exercise", "Manual therapy", "Gait training"]
    lines, start = [], 10 * 60
    for name, m in zip(names, minutes, strict=False):
        stop = start + m
        lines.append(f"{name} from {start // 60}:{start % 60:02d} to {stop // 60}:{stop % 60:02d}, right knee.")
        start = stop
    result = code_draft(_draft(lines, payer="commercial", method=method), load_default_rules())
    got = [c.units for c in result.codes]
    assert [c.minutes for c in result.codes] == minutes
    assert got == (ref_cms(minutes) if method == "cms" else ref_per_code(minutes))
    assert sum(got) == (ref_total_units(sum(minutes)) if method == "cms" else sum(ref_per_code(minutes)))
