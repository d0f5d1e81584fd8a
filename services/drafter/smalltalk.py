"""Keep small talk (weather, sport, family, parking, scheduling) out of the note."""

from __future__ import annotations

import re
from collections.abc import Callable

from services.drafter.lexicon import Lexicon
from services.drafter.sentences import split_clauses


def is_small_talk(text: str, lex: Lexicon) -> bool:
    """True when a sentence or clause is chatter rather than care."""
    return lex.is_strong_smalltalk(text) or not lex.has_clinical(text)


def _cut_chatter_phrase(clause: str, lex: Lexicon) -> str:
    """Remove the prepositional phrase that carries a strong chatter word, if one does."""
    for _ in range(3):
        m = next((m for p in lex.smalltalk_strong if (m := p.search(clause))), None)
        if m is None:
            return clause
        words_before = clause[: m.start()].split()
        cut_from = None
        for k in range(len(words_before) - 1, max(-1, len(words_before) - 6), -1):
            w = words_before[k].lower()
            two = " ".join(words_before[k - 1 : k + 1]).lower() if k > 0 else ""
            if two in lex.smalltalk_prepositions:
                cut_from = k - 1
                break
            if w in lex.smalltalk_prepositions:
                cut_from = k
                break
        if cut_from is None:
            return ""
        head = " ".join(words_before[:cut_from])
        tail = clause[m.end() :].lstrip()
        first = tail.split(" ", 1)
        if first and re.sub(r"\W", "", first[0]).lower() in lex.smalltalk_tails:
            tail = first[1] if len(first) > 1 else ""
        clause = f"{head} {tail}".strip()
    return "" if lex.is_strong_smalltalk(clause) else clause


def _any_term(clause: str, lex: Lexicon) -> bool:
    """A clinical word or a named intervention: more than a bare measure."""
    return any(p.search(clause) for p in lex.clinical) or lex.has_intervention(clause)


def strip_small_talk(sentence: str, lex: Lexicon) -> str:
    """The sentence without its chatter clauses; "" when nothing clinical is left.

    A clause with a strong chatter word ("the Steelers game", "the cold front") is dropped,
    or, inside a clinical clause, cut back to the phrase that carries it; a clause with
    only a weak chatter word ("my husband") is dropped when it has no clinical content.
    """
    if not lex.has_clinical(sentence):
        return ""
    if not lex.is_strong_smalltalk(sentence) and not lex.is_weak_smalltalk(sentence):
        return sentence
    kept: list[str] = []
    after_chatter = False
    for clause in split_clauses(sentence):
        if after_chatter and not _any_term(clause, lex):
            continue  # "... by the stadium exit, we sat there 20 minutes": the number belongs to the chatter
        if lex.is_strong_smalltalk(clause):
            if not lex.has_clinical(clause):
                after_chatter = True
                continue
            clause = _cut_chatter_phrase(clause, lex)
            if not clause or not lex.has_clinical(clause):
                continue
        elif lex.is_weak_smalltalk(clause) and not lex.has_clinical(clause):
            continue
        kept.append(clause.strip())
    text = ", ".join(kept).strip(" ,")
    if not text or not lex.has_clinical(text):
        return ""
    if text[-1] not in ".!?":
        text += "."
    return text


# Where a clause turns to what happened around it ("My back was sore after I watched six hours of
# baking shows"): the part from the conjunction on is judged alone.
_TURN = re.compile(r"\s+(?=(?:after|while|when|whenever|before|because|since|until|and then|but|so)\s)", re.IGNORECASE)

CareCheck = Callable[[str], bool]


def _never(_: str) -> bool:
    return False


def is_everyday_chatter(clause: str, lex: Lexicon, care: CareCheck = _never) -> bool:
    """A clause about a show, a meal, a relative, a pet or an outing whose only clinical evidence is an
    everyday word ("night", "car", "work", "sat", "back", "better"), or none at all, with no limitation
    said in it: chatter, unless `care` (the sentence model) places it as a care report."""
    if not lex.is_chat_topic(clause) or lex.says_limitation(clause):
        return False
    if lex.has_clinical(clause) and not lex.everyday_only(clause):
        return False
    return not care(clause)


def _goes_with_chatter(clause: str, lex: Lexicon) -> bool:
    """A clause right after a chatter clause that says nothing of care on its own (no clinical word
    but an everyday one, or only a number, and no limitation): it goes on with the chatter."""
    if lex.says_limitation(clause):
        return False
    return not _any_term(clause, lex) or lex.everyday_only(clause)


def drop_everyday_chatter(sentence: str, lex: Lexicon, care: CareCheck = _never) -> str:
    """The sentence without its everyday-chatter clauses (see `is_everyday_chatter`); "" when no
    clinical clause is left. A clause with real clinical words keeps its own chatter-free part:
    "My back was sore after I watched six hours of baking shows" -> "My back was sore."
    """
    if not lex.is_chat_topic(sentence):
        return sentence
    if is_everyday_chatter(sentence, lex, care):
        return ""
    kept: list[str] = []
    changed = after_chatter = False
    for clause in split_clauses(sentence):
        parts = _TURN.split(clause.strip())
        head = parts[0]
        if is_everyday_chatter(clause, lex, care) or (after_chatter and _goes_with_chatter(clause, lex)):
            changed = after_chatter = True
            continue  # "we drove to the lake house, we sat in the car 3 hours": the rest is the outing's
        after_chatter = False
        if len(parts) > 1:
            tails = [t for t in parts[1:] if not is_everyday_chatter(t, lex, care) or lex.says_limitation(clause)]
            if len(tails) < len(parts) - 1 and lex.has_clinical(head) and not is_everyday_chatter(head, lex, care):
                clause = " ".join([head, *tails])
                changed = True
        kept.append(clause.strip())
    if not changed:
        return sentence
    text = ", ".join(c for c in kept if c).strip(" ,.")
    if not text or not lex.has_clinical(text):
        return ""
    return text + "."
