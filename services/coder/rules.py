"""Load and validate the coder's data files: payers, codes, lexicon and PTP edits."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.coder.lexicon import PhraseSet
from services.coder.ptp import PtpTable, load_ptp
from services.common.errors import RulesError

DATA_DIR = Path(__file__).resolve().parent / "data"
BILLING_METHODS = ("cms", "per_code")
DISCIPLINES = ("PT", "OT", "SLP")
COMPLEXITIES = ("low", "moderate", "high")


@dataclass(frozen=True)
class PayerRules:
    key: str
    name: str
    billing_method: str
    method_fixed: bool
    therapy_modifiers: bool
    distinct_modifier: str


@dataclass(frozen=True)
class CodeInfo:
    cpt: str
    descriptor: str
    timed: bool
    disciplines: tuple[str, ...]
    kind: str  # treatment | evaluation | reevaluation | group
    complexity: str = ""
    area: str = ""


@dataclass(frozen=True)
class ServiceLexicon:
    cpt: str
    names: PhraseSet
    keywords: PhraseSet
    weak: PhraseSet
    heads: PhraseSet = PhraseSet.of(())  # short names, a service only at a dictated sentence's head with a time


@dataclass(frozen=True)
class Lexicon:
    services: dict[str, ServiceLexicon]
    eval_names: PhraseSet
    reeval_names: PhraseSet
    reeval_visit: PhraseSet  # weaker: decides only on a visit booked as an evaluation
    reeval_today: PhraseSet  # ... and only when said of today's visit
    comorbidities: PhraseSet
    body_elements: PhraseSet
    high_presentation: PhraseSet
    moderate_presentation: PhraseSet
    slp_areas: dict[str, PhraseSet]
    cues: PhraseSet
    coaching: PhraseSet
    corrections: PhraseSet
    goal_markers: PhraseSet
    functional: PhraseSet
    comparison: PhraseSet
    measure_units: PhraseSet
    sides: PhraseSet
    upper: PhraseSet
    lower: PhraseSet
    incidental: frozenset[str]
    deficits: dict[str, PhraseSet]
    sections: dict[str, PhraseSet]


@dataclass(frozen=True)
class CodingRules:
    payers: dict[str, PayerRules]
    discipline_modifiers: dict[str, str]
    codes: dict[str, CodeInfo]
    lexicon: Lexicon
    ptp: PtpTable
    versions: dict[str, str]

    def code(self, cpt: str) -> CodeInfo:
        info = self.codes.get(cpt)
        if info is None:
            return CodeInfo(cpt, "", True, DISCIPLINES, "treatment")
        return info


_AT_LINE_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def _decode_error(path: Path, exc: tomllib.TOMLDecodeError) -> RulesError:
    """'FILE line N, column M: not valid TOML: why' (tomllib gives lineno/colno from Python 3.14, before
    that only in its message)."""
    text = str(exc)
    lineno, colno = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    m = _AT_LINE_RE.search(text)
    if m:
        text = text[: m.start()]
        lineno, colno = lineno or int(m.group(1)), colno or int(m.group(2))
    why = getattr(exc, "msg", None) or text or "syntax error"
    if lineno is None:
        return RulesError(f"rules file {path}: not valid TOML: {why}")
    return RulesError(f"rules file {path} line {lineno}, column {colno}: not valid TOML: {why}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise RulesError(f"cannot read rules file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise _decode_error(path, exc) from None
    except UnicodeDecodeError:
        raise RulesError(f"rules file {path} is not UTF-8 text") from None
    for key in ("version", "effective"):
        if not isinstance(data.get(key), str | dt.date):
            raise RulesError(f"rules file {path}: missing top-level {key!r}")
    return data


def _where(path: Path, table: str, key: str = "") -> str:
    """'FILE line N [table.key]' for a semantic error: the line of the entry's table header, or of the
    key inside an inline table, when it can be found."""
    dotted = f"{table}.{key}" if key else table
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    header = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\.\s*[\"']?{re.escape(key)}[\"']?\s*\]" if key
                        else rf"^\s*\[\s*{re.escape(table)}\s*\]")
    for lineno, line in enumerate(lines, start=1):
        if header.match(line):
            return f"{path} line {lineno} [{dotted}]"
    if key:
        inline = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for lineno, line in enumerate(lines, start=1):
            if inline.match(line):
                return f"{path} line {lineno} [{dotted}]"
    return f"{path} [{dotted}]"


def _table(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict) or not value:
        raise RulesError(f"rules file {path}: missing table [{key}]")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RulesError(f"{where} must be a list of strings")
    return list(value)


def _load_payers(path: Path) -> tuple[dict[str, PayerRules], dict[str, str]]:
    data = _read_toml(path)
    payers: dict[str, PayerRules] = {}
    for key, raw in _table(data, "payers", path).items():
        where = _where(path, "payers", key)
        if not isinstance(raw, dict):
            raise RulesError(f"{where} must be a table")
        method = raw.get("billing_method")
        if method not in BILLING_METHODS:
            raise RulesError(f"{where}: billing_method must be one of {', '.join(BILLING_METHODS)}")
        distinct = raw.get("distinct_modifier", "59")
        if distinct not in ("59", "XU", "XS", "XE", "XP"):
            raise RulesError(f"{where}: distinct_modifier must be 59 or an X modifier, got {distinct!r}")
        payers[key] = PayerRules(
            key=key,
            name=str(raw.get("name", key)),
            billing_method=method,
            method_fixed=bool(raw.get("method_fixed", False)),
            therapy_modifiers=bool(raw.get("therapy_modifiers", False)),
            distinct_modifier=distinct,
        )
    mods = _table(data, "discipline_modifiers", path)
    for disc in DISCIPLINES:
        if not isinstance(mods.get(disc), str):
            raise RulesError(f"{_where(path, 'discipline_modifiers')}: missing {disc}")
    return payers, {k: str(v) for k, v in mods.items()}


def _load_codes(path: Path) -> dict[str, CodeInfo]:
    data = _read_toml(path)
    codes: dict[str, CodeInfo] = {}
    for cpt, raw in _table(data, "codes", path).items():
        where = _where(path, "codes", cpt)
        if not isinstance(raw, dict):
            raise RulesError(f"{where} must be a table")
        if not isinstance(raw.get("descriptor"), str) or not isinstance(raw.get("timed"), bool):
            raise RulesError(f"{where}: needs a descriptor string and timed = true/false")
        disciplines = tuple(_strings(raw.get("discipline"), f"{where} discipline"))
        if not disciplines or any(d not in DISCIPLINES for d in disciplines):
            raise RulesError(f"{where}: discipline must list PT, OT and/or SLP")
        kind = raw.get("kind", "treatment")
        if kind not in ("treatment", "evaluation", "reevaluation", "group"):
            raise RulesError(f"{where}: unknown kind {kind!r}")
        complexity = str(raw.get("complexity", ""))
        if complexity and complexity not in COMPLEXITIES:
            raise RulesError(f"{where}: complexity must be low, moderate or high")
        codes[str(cpt)] = CodeInfo(str(cpt), raw["descriptor"], raw["timed"], disciplines, kind, complexity,
                                   str(raw.get("area", "")))
    return codes


def _load_lexicon(path: Path, codes: dict[str, CodeInfo]) -> Lexicon:
    data = _read_toml(path)
    services: dict[str, ServiceLexicon] = {}
    for cpt, raw in _table(data, "services", path).items():
        where = _where(path, "services", cpt)
        if not isinstance(raw, dict):
            raise RulesError(f"{where} must be a table")
        if cpt not in codes:
            raise RulesError(f"{where}: code {cpt} is not in the codes file")
        services[cpt] = ServiceLexicon(
            cpt,
            PhraseSet.of(_strings(raw.get("names"), f"{where} names")),
            PhraseSet.of(_strings(raw.get("keywords"), f"{where} keywords")),
            PhraseSet.of(_strings(raw.get("weak"), f"{where} weak")),
            PhraseSet.of(_strings(raw.get("heads"), f"{where} heads")),
        )
    ev = _table(data, "evaluation", path)
    det = _table(data, "detectors", path)

    def ps(table: dict[str, Any], key: str, section: str) -> PhraseSet:
        return PhraseSet.of(_strings(table.get(key), f"{_where(path, section, key)} {key}"))

    def subtable(table: dict[str, Any], key: str, section: str) -> dict[str, Any]:
        value = table.get(key, {})
        if not isinstance(value, dict):
            raise RulesError(f"{_where(path, section, key)} must be a table")
        return value

    areas = subtable(ev, "slp_areas", "evaluation")
    deficits = subtable(det, "deficits", "detectors")
    sections = subtable(det, "sections", "detectors")
    return Lexicon(
        services=services,
        eval_names=ps(ev, "names", "evaluation"),
        reeval_names=ps(ev, "reeval_names", "evaluation"),
        reeval_visit=ps(ev, "reeval_visit", "evaluation"),
        reeval_today=ps(ev, "reeval_today", "evaluation"),
        comorbidities=ps(ev, "comorbidities", "evaluation"),
        body_elements=ps(ev, "body_elements", "evaluation"),
        high_presentation=ps(ev, "high_presentation", "evaluation"),
        moderate_presentation=ps(ev, "moderate_presentation", "evaluation"),
        slp_areas={k: ps(areas, k, "evaluation.slp_areas") for k in areas},
        cues=ps(det, "cues", "detectors"),
        coaching=ps(det, "coaching", "detectors"),
        corrections=ps(det, "corrections", "detectors"),
        goal_markers=ps(det, "goal_markers", "detectors"),
        functional=ps(det, "functional", "detectors"),
        comparison=ps(det, "comparison", "detectors"),
        measure_units=ps(det, "measure_units", "detectors"),
        sides=ps(det, "sides", "detectors"),
        upper=ps(det, "extremities_upper", "detectors"),
        lower=ps(det, "extremities_lower", "detectors"),
        incidental=frozenset(_strings(det.get("incidental_extremities"),
                                      f"{_where(path, 'detectors', 'incidental_extremities')}")),
        deficits={k: ps(deficits, k, "detectors.deficits") for k in deficits},
        sections={k: ps(sections, k, "detectors.sections") for k in sections},
    )


def load_rules(data_dir: Path | None = None, ptp_path: Path | None = None) -> CodingRules:
    """Load payers.toml, codes.toml, lexicon.toml and the PTP file; RulesError on any problem."""
    data_dir = Path(data_dir) if data_dir is not None else DATA_DIR
    if ptp_path is None:
        env = os.environ.get("SCRIBE_PTP_FILE")
        ptp_path = Path(env) if env else data_dir / "ptp.tsv"
    payers, discipline_modifiers = _load_payers(data_dir / "payers.toml")
    codes = _load_codes(data_dir / "codes.toml")
    lexicon = _load_lexicon(data_dir / "lexicon.toml", codes)
    ptp = PtpTable.of(load_ptp(Path(ptp_path)))
    versions = {}
    for name in ("payers", "codes", "lexicon"):
        with (data_dir / f"{name}.toml").open("rb") as fh:
            raw = tomllib.load(fh)
        versions[name] = f"{raw['version']} (effective {raw['effective']})"
    return CodingRules(payers, discipline_modifiers, codes, lexicon, ptp, versions)


@functools.lru_cache(maxsize=1)
def load_default_rules() -> CodingRules:
    """The packaged rules, loaded once per process."""
    return load_rules()
