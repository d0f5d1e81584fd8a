"""The intervention catalogue (data/interventions/*.toml): what a therapist leads, and its code.

Each entry names one intervention or activity with its CPT code, the attribute that decides between
neighbouring codes (data/interventions/README.md has the table), its names and synonyms, the
equipment and verbs that imply it, and lines a therapist says while leading it. The catalogue is
written from general clinical knowledge; the coder reads it through two general mechanisms: phrase
matching on word stems (`PhraseIndex`) and the sentence model's nearest neighbours
(`services/coder/activity.py`).
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import snowballstemmer  # type: ignore[import-untyped,unused-ignore]

from services.common.errors import RulesError

CATALOGUE_DIR = Path(__file__).resolve().parent / "data" / "interventions"
DISCIPLINES = ("PT", "OT", "SLP")

# The attribute that decides between neighbouring codes, and the code it leads to.
ATTRIBUTE_CODES: dict[str, str] = {
    "strength": "97110", "range_of_motion": "97110", "flexibility": "97110", "endurance": "97110",
    "functional_task": "97530", "household_task": "97530",
    "balance": "97112", "proprioception": "97112", "vestibular": "97112", "coordination": "97112",
    "posture": "97112", "motor_control": "97112",
    "gait": "97116",
    "joint_mobilization": "97140", "soft_tissue": "97140", "traction": "97140", "lymphatic_drainage": "97140",
    "self_care": "97535", "home_management": "97535",
    "language": "92507", "speech_sound": "92507", "voice": "92507", "fluency": "92507",
    "cognitive_communication": "92507",
    "swallowing": "92526",
    "group": "97150",
}

_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STEMMER = snowballstemmer.stemmer("english")

# Words a therapist puts inside an exercise's name without changing what it is ("stand on the right
# leg only" is "stand on one leg"; "lift the 3 pound weight" is "lift weight"): a phrase also matches
# with these left out of it and of the talk, when at least two of its other words remain, in order.
FILLER_WORDS = ("the", "a", "an", "your", "my", "his", "her", "their", "our", "this", "that", "these", "those",
                "right", "left", "both", "one", "each", "other", "just", "only", "little", "some", "more",
                "same", "good", "nice", "slow", "slowly", "gently", "again", "really", "very", "up")
MAX_FILLER_GAP = 3  # at most this many filler words inside one match


@dataclass(frozen=True)
class Intervention:
    id: str
    name: str
    cpt: str
    attribute: str
    disciplines: tuple[str, ...]
    synonyms: tuple[str, ...] = ()
    equipment: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    spoken: tuple[str, ...] = ()
    source: str = ""  # "FILE line N", for error messages

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.synonyms)


def stems(text: str) -> list[str]:
    """Lower-case word stems ("Bridges, bridging" -> ["bridg", "bridg"]); hyphens split words."""
    words = _WORD_RE.findall(text.lower().replace("-", " ").replace("’", "'"))
    return [stem(w) for w in words]


@functools.lru_cache(maxsize=50000)
def stem(word: str) -> str:
    """The stem of one lower-case word."""
    word = word.split("'")[0] if word.endswith("'s") else word
    return str(_STEMMER.stemWord(word))


@dataclass(frozen=True)
class PhraseHit:
    phrase: str
    kind: str  # "name" | "equipment" | "verb"
    entry: int  # index into Catalogue.interventions
    start: int  # first and last+1 stem index in the text
    end: int


@functools.lru_cache(maxsize=1)
def _fillers() -> frozenset[str]:
    return frozenset(stem(w) for w in FILLER_WORDS)


def _is_filler(s: str) -> bool:
    return s in _fillers() or s.isdigit()


@dataclass
class PhraseIndex:
    """Phrases as stem sequences, looked up from their first stem: one pass over a text's words.
    Each phrase of two or more content words is also kept without its filler words (`FILLER_WORDS`),
    matched against the talk's content words, so a side, a count or an article said inside an
    exercise's name does not hide it."""

    by_first: dict[str, list[tuple[tuple[str, ...], str, str, int]]] = field(default_factory=dict)
    loose_by_first: dict[str, list[tuple[tuple[str, ...], str, str, int]]] = field(default_factory=dict)
    # How many codes' catalogue text (names, equipment, verbs, spoken lines) uses each phrase: "walker"
    # or "table" turn up under many codes and say little; "rocker knife" under one and says much.
    spread: dict[tuple[str, ...], int] = field(default_factory=dict)

    def add(self, phrase: str, kind: str, entry: int) -> None:
        key = tuple(stems(phrase))
        if key:
            self.by_first.setdefault(key[0], []).append((key, phrase, kind, entry))
        content = tuple(s for s in key if not _is_filler(s))
        if len(content) >= 2:
            self.loose_by_first.setdefault(content[0], []).append((content, phrase, kind, entry))

    def find(self, text_stems: Sequence[str]) -> list[PhraseHit]:
        """Every phrase occurrence; where phrases overlap, the longer one wins."""
        hits: list[PhraseHit] = []
        for i, s in enumerate(text_stems):
            for key, phrase, kind, entry in self.by_first.get(s, ()):
                if tuple(text_stems[i:i + len(key)]) == key:
                    hits.append(PhraseHit(phrase, kind, entry, i, i + len(key)))
        exact = {(h.start, h.end, h.entry, h.kind) for h in hits}
        where = [i for i, s in enumerate(text_stems) if not _is_filler(s)]
        content = [text_stems[i] for i in where]
        for j, s in enumerate(content):
            for key, phrase, kind, entry in self.loose_by_first.get(s, ()):
                if tuple(content[j:j + len(key)]) != key:
                    continue
                start, end = where[j], where[j + len(key) - 1] + 1
                if end - start - len(key) <= MAX_FILLER_GAP and (start, end, entry, kind) not in exact:
                    hits.append(PhraseHit(phrase, kind, entry, start, end))
        longest: dict[int, int] = {}
        for h in hits:  # a word inside a longer match of another phrase does not count again
            for k in range(h.start, h.end):
                longest[k] = max(longest.get(k, 0), h.end - h.start)
        return [h for h in hits if all(longest[k] == h.end - h.start for k in range(h.start, h.end))]


@dataclass(frozen=True)
class Catalogue:
    interventions: tuple[Intervention, ...]
    versions: dict[str, str]
    index: PhraseIndex

    def by_code(self) -> dict[str, list[Intervention]]:
        out: dict[str, list[Intervention]] = {}
        for e in self.interventions:
            out.setdefault(e.cpt, []).append(e)
        return out


def _strings(raw: dict[str, Any], key: str, where: str, required: bool = False) -> tuple[str, ...]:
    value = raw.get(key, [])
    if isinstance(value, str) and not required:
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RulesError(f"{where}: {key} must be a list of non-empty strings")
    if required and not value:
        raise RulesError(f"{where}: {key} must not be empty")
    return tuple(v.strip() for v in value)


def _entry_lines(path: Path) -> list[int]:
    """The line of each [[interventions]] header, to name an entry in an error."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [n for n, line in enumerate(lines, start=1) if line.strip() == "[[interventions]]"]


def _parse_entry(raw: Any, where: str, known_codes: Iterable[str]) -> Intervention:
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: an intervention must be a table")
    for key in ("id", "name", "cpt", "attribute"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise RulesError(f"{where}: missing {key}")
    cpt, attribute = raw["cpt"].strip(), raw["attribute"].strip()
    if attribute not in ATTRIBUTE_CODES:
        raise RulesError(f"{where}: unknown attribute {attribute!r} (data/interventions/README.md lists them)")
    if ATTRIBUTE_CODES[attribute] != cpt:
        raise RulesError(f"{where}: attribute {attribute!r} means {ATTRIBUTE_CODES[attribute]}, not {cpt}")
    if cpt not in set(known_codes):
        raise RulesError(f"{where}: code {cpt} is not in the codes file")
    disciplines = _strings(raw, "disciplines", where, required=True)
    if any(d not in DISCIPLINES for d in disciplines):
        raise RulesError(f"{where}: disciplines must be PT, OT and/or SLP")
    return Intervention(
        id=raw["id"].strip(), name=raw["name"].strip(), cpt=cpt, attribute=attribute, disciplines=disciplines,
        synonyms=_strings(raw, "synonyms", where), equipment=_strings(raw, "equipment", where),
        verbs=_strings(raw, "verbs", where), spoken=_strings(raw, "spoken", where), source=where,
    )


def load_catalogue(directory: Path | None = None, known_codes: Iterable[str] | None = None) -> Catalogue:
    """Every *.toml of the catalogue folder, validated; RulesError names the file and line at fault."""
    directory = Path(directory) if directory is not None else CATALOGUE_DIR
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise RulesError(f"no intervention catalogue (*.toml) in {directory}")
    if known_codes is None:
        known_codes = ATTRIBUTE_CODES.values()
    codes = set(known_codes)
    entries: list[Intervention] = []
    versions: dict[str, str] = {}
    seen: dict[str, str] = {}
    for path in files:
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise RulesError(f"catalogue file {path}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise RulesError(f"cannot read catalogue file {path}: {exc}") from None
        if not isinstance(data.get("version"), str):
            raise RulesError(f"catalogue file {path}: missing top-level 'version'")
        versions[path.name] = str(data["version"])
        raw_entries = data.get("interventions")
        if not isinstance(raw_entries, list) or not raw_entries:
            raise RulesError(f"catalogue file {path}: no [[interventions]]")
        lines = _entry_lines(path)
        for n, raw in enumerate(raw_entries):
            where = f"{path} line {lines[n]}" if n < len(lines) else f"{path} entry {n + 1}"
            entry = _parse_entry(raw, where, codes)
            if entry.id in seen:
                raise RulesError(f"{where}: id {entry.id!r} already used at {seen[entry.id]}")
            seen[entry.id] = where
            entries.append(entry)
    index = PhraseIndex()
    for i, e in enumerate(entries):
        for phrase in e.names:
            index.add(phrase, "name", i)
        for phrase in e.equipment:
            index.add(phrase, "equipment", i)
        for phrase in e.verbs:
            index.add(phrase, "verb", i)
    index.spread = _spread(entries, index)
    return Catalogue(tuple(entries), versions, index)


def _spread(entries: Sequence[Intervention], index: PhraseIndex) -> dict[tuple[str, ...], int]:
    """For each indexed phrase, the number of codes whose entries' text contains it."""
    longest = max((len(k) for items in index.by_first.values() for k, *_ in items), default=1)
    grams: dict[str, set[tuple[str, ...]]] = {}
    for e in entries:
        bag = grams.setdefault(e.cpt, set())
        for text in (*e.names, *e.equipment, *e.verbs, *e.spoken):
            words = stems(text)
            for n in range(1, longest + 1):
                bag.update(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    out: dict[tuple[str, ...], int] = {}
    for items in index.by_first.values():
        for key, *_ in items:
            out[key] = max(1, sum(1 for bag in grams.values() if key in bag))
    return out


@functools.lru_cache(maxsize=1)
def load_default_catalogue() -> Catalogue:
    from services.coder.rules import load_default_rules

    return load_catalogue(known_codes=load_default_rules().codes)
