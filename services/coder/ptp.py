"""NCCI procedure-to-procedure (PTP) edits in the CMS practitioner file layout.

Tab separated, one header row, columns: Column 1, Column 2, In existence prior to 1996,
Effective Date (YYYYMMDD), Deletion Date (YYYYMMDD, '*' = none), Modifier (0, 1 or 9),
PTP Edit Rationale. Modifier 0: never billable together; 1: billable with a distinct-service
modifier; 9: the edit does not apply.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from services.common.errors import RulesError

_CODE = re.compile(r"^[0-9A-Z]\d{3}[0-9A-Z]$")
_EXPECTED_HEADER = ("column 1", "column 2")


@dataclass(frozen=True)
class PtpEdit:
    column1: str
    column2: str
    effective: dt.date
    deleted: dt.date | None
    modifier: int
    rationale: str

    def active_on(self, day: dt.date) -> bool:
        """In force on the date of service: effective, and not deleted on or before it."""
        if day < self.effective:
            return False
        return self.deleted is None or day < self.deleted


def _date(value: str, what: str, where: str) -> dt.date:
    if not re.fullmatch(r"\d{8}", value):
        raise RulesError(f"{where}: {what} must be a date YYYYMMDD, got {value!r}")
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise RulesError(f"{where}: {what} must be a date YYYYMMDD, got {value!r}") from None


def parse_ptp(text: str, source: str = "ptp") -> list[PtpEdit]:
    """Parse PTP edits; a malformed line raises RulesError naming `source` and the line number."""
    edits: list[PtpEdit] = []
    header_seen = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split("\t")]
        where = f"{source} line {lineno}"
        if not header_seen:
            low = [c.lower() for c in cells]
            if tuple(low[:2]) != _EXPECTED_HEADER:
                raise RulesError(f"{where}: expected the header row 'Column 1<TAB>Column 2<TAB>...'")
            header_seen = True
            continue
        if len(cells) < 6:
            raise RulesError(f"{where}: expected at least 6 tab-separated columns, got {len(cells)}")
        col1, col2 = cells[0].upper(), cells[1].upper()
        for name, code in (("Column 1", col1), ("Column 2", col2)):
            if not _CODE.match(code):
                raise RulesError(f"{where}: {name} is not a 5-character procedure code: {code!r}")
        if cells[2] not in ("", "*"):
            raise RulesError(f"{where}: 'In existence prior to 1996' must be '*' or empty, got {cells[2]!r}")
        effective = _date(cells[3], "Effective Date", where)
        deleted = None if cells[4] in ("*", "") else _date(cells[4], "Deletion Date", where)
        if deleted is not None and deleted < effective:
            raise RulesError(f"{where}: Deletion Date is before Effective Date")
        if cells[5] not in ("0", "1", "9"):
            raise RulesError(f"{where}: Modifier must be 0, 1 or 9, got {cells[5]!r}")
        rationale = cells[6] if len(cells) > 6 else ""
        edits.append(PtpEdit(col1, col2, effective, deleted, int(cells[5]), rationale))
    if not header_seen:
        raise RulesError(f"{source}: empty PTP file (no header row)")
    return edits


def load_ptp(path: Path) -> list[PtpEdit]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"cannot read PTP file {path}: {exc.strerror}") from None
    return parse_ptp(text, source=str(path))


class PtpTable:
    """PTP edits indexed by unordered code pair."""

    def __init__(self, edits: Iterable[PtpEdit]) -> None:
        self.edits: tuple[PtpEdit, ...] = tuple(edits)
        self._by_pair: dict[frozenset[str], list[PtpEdit]] = {}
        for edit in self.edits:
            self._by_pair.setdefault(frozenset((edit.column1, edit.column2)), []).append(edit)

    @classmethod
    def of(cls, edits: Iterable[PtpEdit]) -> PtpTable:
        return cls(edits)

    def __len__(self) -> int:
        return len(self.edits)

    def edit_for(self, code_a: str, code_b: str, day: dt.date) -> PtpEdit | None:
        """The edit in force on `day` between two codes (either order), if any; modifier 9 rows never apply."""
        for edit in self._by_pair.get(frozenset((code_a, code_b)), ()):
            if edit.modifier != 9 and edit.active_on(day):
                return edit
        return None
