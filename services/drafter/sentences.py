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
CLAUSE_BREAK = re.compile(r"(?<!\d),\s+|;\s+|\s+-\s+")
# Where a recogniser's run-on may hide a sentence end: any comma, even after a number ("score is 45, that means").
RUN_ON_BREAK = re.compile(r"[,;]\s+|\s+-\s+")


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
    return [c for c in CLAUSE_BREAK.split(sentence) if c.strip()]


def _loose_header(sentence: str, lex: Lexicon) -> tuple[str | None, str]:
    """A header the recogniser wrote with a comma ("Subjective, patient ...") or bare ("Plan continue ...")."""
    low = sentence.lstrip().lower()
    lead = len(sentence) - len(sentence.lstrip())
    for name in lex.header_names:
        if not low.startswith(name) or len(low) <= len(name):
            continue
        after = low[len(name):]
        rest = sentence[lead + len(name):]
        if after.startswith(","):
            rest = rest[1:].strip()
            if rest:
                return lex.header_section(name), rest
            continue
        if not after[0].isspace() or name not in lex.loose_headers:
            continue
        rest = rest.strip()
        first = re.sub(r"[^\w']", "", rest.split(" ", 1)[0].lower()) if rest else ""
        if first and first not in lex.header_not_before and not first.isdigit():
            return lex.header_section(name), rest
    return None, sentence


def strip_header(sentence: str, lex: Lexicon) -> tuple[str | None, str]:
    """(section, rest) when the sentence opens with a spoken section header."""
    m = _HEADER.match(sentence)
    if m:
        section = lex.header_section(m.group(1))
        if section is not None:
            return section, sentence[m.end():].strip()
    return _loose_header(sentence, lex)


def _split_run_on_headers(sentence: str, lex: Lexicon) -> list[str]:
    """ "... 105 degrees, assessment, patient is ..." -> two sentences, at a header run on after a comma."""
    if not lex.loose_headers:
        return [sentence]
    names = "|".join(re.escape(h) for h in sorted(lex.loose_headers, key=len, reverse=True))
    pieces = re.split(rf",\s+(?=(?:{names})\b)", sentence, flags=re.IGNORECASE)
    out = [pieces[0]]
    for piece in pieces[1:]:
        section, _ = _loose_header(piece, lex)
        if section is None:
            out[-1] = f"{out[-1]}, {piece}"
        else:
            out[-1] = out[-1].rstrip(" ,") + "."
            out.append(piece[0].upper() + piece[1:])
    return out


def sentences_of(
    transcript: Sequence[pb.TranscriptSegment], roles: Sequence[str], lex: Lexicon
) -> list[Sentence]:
    """All sentences, in order, with spoken headers attached to what follows them."""
    out: list[Sentence] = []
    for i, seg in enumerate(transcript):
        pending: str | None = None
        pos = 0
        for whole in split_text(seg.text):
            for raw in _split_run_on_headers(whole, lex):
                section, rest = strip_header(raw, lex)
                if section is not None:
                    pending = section
                    if not rest:
                        continue
                out.append(Sentence(text=rest, seg=i, pos=pos, role=roles[i], header=pending))
                pos += 1
    return out
