"""The CMS practitioner PTP layout: parsing, malformed lines, deleted rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from proto import scribe_pb2 as pb
from services.coder.coding import code_draft
from services.coder.ptp import PtpTable, load_ptp, parse_ptp
from services.coder.rules import DATA_DIR, load_rules
from services.common.errors import RulesError

HEADER = ("Column 1\tColumn 2\tIn existence prior to 1996\tEffective Date\tDeletion Date\tModifier\t"
          "PTP Edit Rationale\n")
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "eval" / "ptp_sample.tsv"


def test_packaged_file_parses() -> None:
    edits = load_ptp(DATA_DIR / "ptp.tsv")
    assert len(edits) == 8
    first = edits[0]
    assert (first.column1, first.column2, first.modifier) == ("97530", "97140", 1)
    assert first.effective == dt.date(2020, 1, 1) and first.deleted is None
    prior = [e for e in edits if e.column1 == "92507"][0]
    assert prior.modifier == 0


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared eval sample not present")
def test_packaged_file_is_the_sample() -> None:
    assert (DATA_DIR / "ptp.tsv").read_text() == SAMPLE.read_text()


def test_pairs_either_order_and_dates() -> None:
    table = PtpTable.of(load_ptp(DATA_DIR / "ptp.tsv"))
    today = dt.date(2025, 6, 1)
    edit = table.edit_for("97140", "97530", today)
    assert edit is not None and edit.column2 == "97140"
    assert table.edit_for("97110", "97140", today) is None
    # Deleted 2020-04-01: in force before, not after.
    assert table.edit_for("97530", "97535", today) is None
    assert table.edit_for("97530", "97535", dt.date(2020, 2, 1)) is not None
    assert table.edit_for("97530", "97535", dt.date(2020, 4, 1)) is None
    # Not yet effective.
    assert table.edit_for("97530", "97140", dt.date(2019, 12, 31)) is None


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("97530\t97140\t\t2020011\t*\t1\tx", "Effective Date"),
        ("97530\t97140\t\t20200101\t*\t3\tx", "Modifier"),
        ("97530\t97140\t\t20200101\t*", "columns"),
        ("9753\t97140\t\t20200101\t*\t1\tx", "Column 1"),
        ("97530\t97140\t\t20200101\t2019xx01\t1\tx", "Deletion Date"),
        ("97530\t97140\tyes\t20200101\t*\t1\tx", "1996"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, what: str) -> None:
    path = tmp_path / "ptp.tsv"
    path.write_text(HEADER + "97530\t97116\t\t20200101\t*\t1\tok\n" + line + "\n")
    with pytest.raises(RulesError) as err:
        load_ptp(path)
    assert f"{path} line 3" in str(err.value)
    assert what in str(err.value)


def test_missing_header_and_empty_file() -> None:
    with pytest.raises(RulesError, match="line 1"):
        parse_ptp("97530\t97140\t\t20200101\t*\t1\tx\n", source="f.tsv")
    with pytest.raises(RulesError, match="empty"):
        parse_ptp("", source="f.tsv")


def test_modifier_9_never_applies() -> None:
    table = PtpTable.of(parse_ptp(HEADER + "97530\t97140\t\t20200101\t*\t9\tx\n"))
    assert table.edit_for("97530", "97140", dt.date(2025, 1, 1)) is None


def _ot_draft(day: str, payer: str) -> pb.DraftUpdate:
    ctx = pb.SessionContext(mode="dictation", discipline="OT", note_type="daily", payer=payer, session_start="14:00",
                            diagnosis="right distal radius fracture", date=day)
    lines = [
        "Manual therapy from 14:00 to 14:12, soft tissue mobilization to the right wrist.",
        "Therapeutic activities from 14:12 to 14:30, functional grasp and fine motor tasks with verbal cues for "
        "wrist position, working toward her goal of cooking.",
        "Right wrist extension 45 degrees, up from 35 degrees.",
    ]
    segs = [pb.TranscriptSegment(start_s=i * 10.0, end_s=i * 10.0 + 9, speaker="therapist", text=t)
            for i, t in enumerate(lines)]
    return pb.DraftUpdate(context=ctx, transcript=segs, is_final=True)


def test_coder_applies_distinct_modifier(tmp_path: Path) -> None:
    rules = load_rules()
    commercial = code_draft(_ot_draft("2025-03-01", "commercial"), rules)
    codes = {c.cpt: list(c.modifiers) for c in commercial.codes}
    assert codes == {"97140": ["59"], "97530": []}
    assert [f.cpt for f in commercial.flags if f.kind == "ptp_modifier_needed"] == ["97140"]
    medicare = code_draft(_ot_draft("2025-03-01", "medicare"), rules)
    assert {c.cpt: list(c.modifiers) for c in medicare.codes} == {"97140": ["GO", "XU"], "97530": ["GO"]}
    # The same pair, deleted before the date of service, no longer applies.
    path = tmp_path / "ptp.tsv"
    path.write_text(HEADER + "97530\t97140\t\t20200101\t20210101\t1\tx\n")
    deleted = code_draft(_ot_draft("2025-03-01", "commercial"), load_rules(ptp_path=path))
    assert {c.cpt: list(c.modifiers) for c in deleted.codes} == {"97140": [], "97530": []}
    assert not [f for f in deleted.flags if f.kind == "ptp_modifier_needed"]
