"""Turn a transcript sentence into note text: drop fillers, rewrite to third person.

Every rewrite is a fixed word-level substitution from the lexicon; numbers are never
touched (`clean_sentence` asserts the digits it returns are the digits it was given).
"""

from __future__ import annotations

import re

from services.drafter.lexicon import Lexicon

_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_FIRST_PERSON = re.compile(r"\b(I|I'm|I've|I'll|I'd|me|my|mine|myself|we|we're|our|us)\b", re.IGNORECASE)
_SECOND_PERSON = re.compile(r"\b(you|your|you're|yourself)\b", re.IGNORECASE)


def strip_fillers(text: str, lex: Lexicon) -> str:
    """Leading "Okay,", "Good.", "Now" etc. removed; "" when the sentence is only filler."""
    text = text.strip()
    for _ in range(6):
        if any(p.search(text) for p in lex.filler_whole):
            return ""
        before = text
        for p in lex.filler_leading:
            text = p.sub("", text, count=1).strip()
        if text == before:
            break
    if not text or any(p.search(text) for p in lex.filler_whole):
        return ""
    return text


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
    """Mechanical third-person phrasing; a patient line that cannot be rewritten is quoted."""
    if role == "patient":
        rewritten = _apply(lex.rewrite_patient, text)
        if _FIRST_PERSON.search(rewritten) or _SECOND_PERSON.search(rewritten):
            return f'Patient states: "{_cap(text)}"'
        if rewritten.lower().startswith("patient"):
            return _cap(rewritten)
        return _cap("Patient reports " + _lower_first(rewritten))
    rewritten = _apply(lex.rewrite_therapist, text)
    if re.search(r"\b(I|me|my)\b", rewritten):
        return _cap(text)  # the therapist speaking of themself: keep the words as said
    return _cap(rewritten)


def clean_sentence(text: str, role: str, lex: Lexicon) -> str:
    """Note text for one sentence, or "" when nothing is left after the fillers."""
    body = strip_fillers(text, lex)
    if not body:
        return ""
    out = third_person(body, role, lex)
    if sorted(_DIGITS.findall(out)) != sorted(_DIGITS.findall(body)):
        return _cap(body)  # never let a rewrite change a number
    return out
