"""Turn a transcript sentence into note text: drop fillers, rewrite to third person.

Every rewrite is a fixed word-level substitution from the lexicon; numbers are never
touched (`clean_sentence` asserts the digits it returns are the digits it was given).
"""

from __future__ import annotations

import re

from services.common import spoken
from services.drafter.lexicon import Lexicon
from services.drafter.sentences import CLAUSE_BREAK, split_clauses

_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_FIRST_PERSON = re.compile(r"\b(I|I'm|I've|I'll|I'd|me|my|mine|myself|we|we're|our|us)\b", re.IGNORECASE)
_SECOND_PERSON = re.compile(r"\b(you|your|you're|yourself)\b", re.IGNORECASE)
# A person addressed by name ("Go ahead with the cane, Dolores." "Mr. Osei, sit tall."): the name says
# nothing clinical and is often not the patient's (a caregiver, a child): it stays out of the note.
_HONORIFIC = r"(?:(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+)"
_VOCATIVE_HEAD = re.compile(rf"^{_HONORIFIC}[A-Z][a-z]+,\s*")
_VOCATIVE_MID = re.compile(rf",\s+{_HONORIFIC}?([A-Z][a-z]+)(?=\s*(?:[,.!?]|$))")
# Capitalised mid-sentence for other reasons than being a name addressed.
_NOT_NAMES = frozenset({"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January",
                        "February", "March", "April", "May", "June", "July", "August", "September", "October",
                        "November", "December", "Okay", "Ok", "God"})


def _strip_leading(text: str, lex: Lexicon) -> str:
    text = text.strip()
    for _ in range(6):
        if _is_filler(text, lex):
            return ""
        before = text
        for p in lex.filler_leading:
            text = p.sub("", text, count=1).strip()
        if text == before:
            break
    return "" if not text or _is_filler(text, lex) else text


def _is_filler(text: str, lex: Lexicon) -> bool:
    return any(p.search(text) for p in lex.filler_whole)


_NEGATION = re.compile(r"^\W*(no|not|never|nope)\b", re.IGNORECASE)
_COUNT = re.compile(rf"^\W*(\d+|{spoken.words_upto(10)})\W*$", re.IGNORECASE)


def _droppable(clause: str, lex: Lexicon) -> bool:
    """A clause that is only filler; never a "no" (it carries meaning) nor a lone number of a list."""
    return not _NEGATION.search(clause) and not _COUNT.search(clause) and not _strip_leading(clause, lex)


def strip_fillers(text: str, lex: Lexicon) -> str:
    """Leading "Okay,", "Good.", "Now" etc. removed; "" when the sentence is only filler.

    A recogniser joins sentences with commas ("That finishes the bike, all of it builds
    toward ..."; "Let me check that knee, flexion is ..."): filler and transition clauses
    are dropped from the front of such a run-on, and when a rule matches the run-on as a whole,
    only the clauses it matches are dropped and the rest is kept.
    """
    text = text.strip()
    out = _strip_leading(text, lex)
    if out:
        for _ in range(6):
            m = CLAUSE_BREAK.search(out)
            if m is None or not _droppable(out[: m.start()], lex):
                break
            out = _strip_leading(out[m.end():], lex)
        return out
    clauses = split_clauses(text)
    if len(clauses) < 2:
        return ""
    kept = [_strip_leading(c, lex) or c for c in clauses if not _droppable(c, lex)]
    kept = [c for c in kept if c and not _COUNT.search(c)]
    if not kept:
        return ""
    joined = ", ".join(c.rstrip(" ,.") for c in kept)
    return joined + "."


def _cap(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!?":
        text += "."
    return text


def _lower_first(text: str) -> str:
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _apply(rules: list[tuple[re.Pattern[str], str]], text: str) -> str:
    for pattern, repl in rules:
        text = pattern.sub(repl, text)
    return text.strip()


def third_person(text: str, role: str, lex: Lexicon) -> str:
    """Mechanical third-person phrasing; a patient line that cannot be rewritten is quoted, and so is a
    caregiver's (a third voice in an ambient session)."""
    if role == "patient":
        rewritten = _apply(lex.rewrite_patient, text)
        if _FIRST_PERSON.search(rewritten) or _SECOND_PERSON.search(rewritten):
            return f'Patient states: "{_cap(text)}"'
        if rewritten.lower().startswith("patient"):
            return _cap(rewritten)
        return _cap("Patient reports " + _lower_first(rewritten))
    if role == "other":  # a caregiver or companion in the room: their report, in their words
        return f'Caregiver reports: "{_cap(text)}"'
    rewritten = _apply(lex.rewrite_therapist, text)
    if re.search(r"\b(I|me|my)\b", rewritten):
        return _cap(text)  # the therapist speaking of themself: keep the words as said
    return _cap(rewritten)


def drop_vocatives(text: str, lex: Lexicon) -> str:
    """The sentence without a name it addresses someone by (a clinical word, e.g. a test named after
    someone and listed in the lexicon, is kept)."""
    def mid(m: re.Match[str]) -> str:
        name = m.group(1)
        return m.group(0) if name in _NOT_NAMES or lex.has_clinical(name) else ""
    out = _VOCATIVE_MID.sub(mid, _VOCATIVE_HEAD.sub("", text.strip()))
    return out[:1].upper() + out[1:] if out else out


def clean_sentence(text: str, role: str, lex: Lexicon) -> str:
    """Note text for one sentence, or "" when nothing is left after the fillers."""
    body = strip_fillers(drop_vocatives(text, lex), lex)
    if not body:
        return ""
    out = third_person(body, role, lex)
    if sorted(_DIGITS.findall(out)) != sorted(_DIGITS.findall(body)):
        return _cap(body)  # never let a rewrite change a number
    return out
