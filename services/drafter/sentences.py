"""Split transcript segments into sentences, and sentences into clauses."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from proto import scribe_pb2 as pb
from services.drafter.lexicon import Lexicon

# A sentence ends at . ! ? followed by space; "13.4", "4+/5" and "p.m." stay whole.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9-])")
# "Subjective." / "Plan:" / "Assessment -" at the start of a sentence.
_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z ]{0,30}?)\s*(?:[.:]|\s-\s)\s*")
_CLAUSE = re.compile(r"(?<!\d),\s+|;\s+|\s+-\s+")


@dataclass
class Sentence:
    text: str  # the sentence as written (header word removed)
    seg: int  # index of its segment in the transcript
    pos: int  # position inside the segment
    role: str  # speaker role of the segment
    header: str | None = None  # section named by a spoken header right before it


def split_text(text: str) -> list[str]:
    """Sentences of one segment's written text."""
    text = " ".join(text.split())
    if not text:
        return []
    return [p.strip() for p in _BOUNDARY.split(text) if p.strip()]


def split_clauses(sentence: str) -> list[str]:
    """Comma/semicolon clauses; commas inside numbers ("1,200") are kept."""
    return [c for c in _CLAUSE.split(sentence) if c.strip()]


def strip_header(sentence: str, lex: Lexicon) -> tuple[str | None, str]:
    """(section, rest) when the sentence opens with a spoken section header."""
    m = _HEADER.match(sentence)
    if not m:
        return None, sentence
    section = lex.header_section(m.group(1))
    if section is None:
        return None, sentence
    return section, sentence[m.end():].strip()


def sentences_of(
    transcript: Sequence[pb.TranscriptSegment], roles: Sequence[str], lex: Lexicon
) -> list[Sentence]:
    """All sentences, in order, with spoken headers attached to what follows them."""
    out: list[Sentence] = []
    for i, seg in enumerate(transcript):
        pending: str | None = None
        for j, raw in enumerate(split_text(seg.text)):
            section, rest = strip_header(raw, lex)
            if section is not None:
                pending = section
                if not rest:
                    continue
            out.append(Sentence(text=rest, seg=i, pos=j, role=roles[i], header=pending))
    return out
