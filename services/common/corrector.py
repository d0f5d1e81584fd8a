"""One general corrector of misheard therapy terms, driven by the lexicon in `lexicon/*.tsv`.

A recogniser trained on everyday speech writes a therapy term it does not know as the nearest everyday
words ("the ra band" for theraband, "Bird balance" for Berg balance). Instead of one rule per mishearing,
every run of one to five recognised words is compared with every spoken form in the lexicon, by spelling
(edit distance over the letters, spaces ignored, so splits and joins cost nothing) and by sound (a
Metaphone key). A close match is accepted only when the words heard cannot stand as they are:

- a heard word that is no English at all (next to absent from `wordfreq`'s counts) close to a term;
- otherwise context must support the term: one of its cue words beside it, a score after a measure's
  name that fits its range, the term in this session's own context (diagnosis, goals, vocabulary), or
  the rest of a multi-word term heard right ("bird balance scale", "hill raises").

And it is refused when it would change the speaker's wording rather than repair a mishearing: a term
said exactly in other words (a synonym, an acronym's expansion), only hyphens or capitals, another ending
of the same word ("chin tuck"/"chin tucks"), a function word replaced, a clear English word dropped, or
two terms about equally near ("austereior": posterior or anterior? left as heard). A lexicon phrase
split by a comma ("modified, independent") loses the comma when its cue is near.

The raw text is never lost (segments keep `raw_text`); `tests/data/corrector_negatives.txt` holds
ordinary sentences that must come out unchanged, `tests/data/corrector_positives.tsv` mishearings that
must be repaired, and `bench/terms.py` scores it on saved recognition.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein
from wordfreq import zipf_frequency

from proto import scribe_pb2 as pb
from services.common import spoken
from services.common.term_index import LEXICON_DIR, Term, TermIndex, letters, sound_key, term_index
from services.common.vocabulary import to_written

# A word at or above this Zipf frequency (once per million words of English text) is ordinary English.
COMMON_ZIPF = 3.0
# Below this (about once in 30 million words) a word is not English as said in a clinic ("rabbin",
# "gastrock"): a run holding one that is close to a term is a mishearing. Between the two ("lunged",
# "hamstrung") a word is rare but real, and a rewrite needs context like any other.
UNKNOWN_ZIPF = 1.5
# English's closed classes, the adverbs a speaker opens a sentence with ("now step up"), and the number
# words: general grammar, not therapy data.
_FUNCTION_WORDS = frozenset("""
a an the this that these those some any each every no all both either neither my your his her its our their
i me you he him she it we us they them who whom whose which what whoever
of to in on at by for from with without into onto upon over under about above below between through during
before after against among around off out up down near like than as per via
and or but nor so yet if then because while when where whether though although unless until till
is am are was were be been being do does did done have has had having will would shall should can could
may might must not
now then here there just also very too well okay ok yes yeah next again back still even only ever never
always really please let's lets
""".split()) | frozenset(spoken.VALUES) | frozenset(spoken.SCALES)

# Letter similarity (1 - normalised edit distance) a heard run needs to a spoken form.
MIN_SIMILARITY = 0.8
# With the same Metaphone key, the spelling may differ more ("rabbin" / "raband").
MIN_SIMILARITY_SAME_SOUND = 0.6
# Words either side searched for a term's cue words, and words after a measure's name searched for its score.
CUE_WINDOW = 6
SCORE_WINDOW = 5
# Short forms are easy to hit by chance: a heard run under this many letters is never rewritten by sound.
MIN_LETTERS = 4
# Words that are all real English are a mishearing of a term only when they sound like it or are spelt
# within this many letters of it; further off they are the speaker's own wording.
MAX_REAL_WORD_EDITS = 2
MAX_RUN_WORDS = 5
# An English word heard clearly may leave the text only inside the term's letters ("moral" in
# "tibiofemoral", "super" ~ "supra"): partial similarity (0-100) of the word within the written letters.
KEPT_WORD_RATIO = 70
# Nearest spoken forms tried for one heard run, best first.
NEAREST_TRIED = 3
# Two terms whose similarity (plus SOUND_BONUS for the same Metaphone key) is within this margin are
# equally likely: neither is written.
AMBIGUITY_MARGIN = 0.05
SOUND_BONUS = 0.1
# Heard runs whose nearest keys are kept (a few MB); everyday words recur, so most runs are found here.
SIMILAR_CACHE_SIZE = 200_000

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Correction:
    """A rewrite the corrector made: the character span of the heard words and what replaced them."""

    start: int
    end: int
    heard: str
    written: str
    category: str
    similarity: float
    supported_by: str  # "spelling", "session", "score", "cue", "anchor", "rare word"
    distance: int  # letters changed
    words: int  # words heard


@cache
def _zipf(word: str) -> float:
    return float(zipf_frequency(word.lower(), "en"))


def _score_fits(term: Term, after: list[str]) -> bool:
    """A number within the words after a measure's name that lies in its score range ("45", "45/56")."""
    if term.score_range is None:
        return False
    low, high = term.score_range
    for word in after[:SCORE_WINDOW]:
        m = _NUMBER.match(word)
        if m:
            return low <= float(m[0]) <= high
    return False


class Corrector:
    """Rewrites misheard lexicon terms in recognised text.

    `session_text` is this visit's own context (diagnosis, goals, vocabulary): a lexicon term said there
    is expected in the session, so a close match to it needs no other support.
    """

    def __init__(self, session_text: Iterable[str] = (), directory: Path = LEXICON_DIR) -> None:
        self.index = term_index(directory)
        self.session: set[str] = set()
        for text in session_text:
            words = [m[0] for m in _WORD.finditer(text)]
            for i in range(len(words)):
                for j in range(i + 1, min(len(words), i + MAX_RUN_WORDS) + 1):
                    term = self.index.exact.get(letters("".join(words[i:j])))
                    if term is not None:
                        self.session.add(term.written)

    def corrections(self, text: str) -> list[Correction]:
        words = list(_WORD.finditer(text))
        lowered = [m[0].lower() for m in words]
        runs: list[tuple[int, int, str]] = []  # (first word, last word + 1, letters)
        for i in range(len(words)):
            for n in range(1, MAX_RUN_WORDS + 1):
                j = i + n
                if j > len(words) or (n > 1 and _gap(text, words[j - 2].end(), words[j - 1].start())):
                    break
                key = letters("".join(lowered[i:j]))
                # a run of function words only ("and the") could only be rewritten by swallowing them
                if len(key) >= MIN_LETTERS and not key.isdigit() and not all(map(_is_function_word, lowered[i:j])):
                    runs.append((i, j, key))
        if not runs:
            return []
        # Words heard exactly as a lexicon term are right as they stand: a rewrite may not swallow them
        # ("of tibialis anterior" is not a mishearing of "tibialis anterior").
        exact = [(i, j, len(key)) for i, j, key in runs if key in self.index.exact]
        candidates: list[Correction] = []
        for (i, j, key), row in zip(runs, self._similar_keys([key for _, _, key in runs]), strict=True):
            nearest, tied = self._nearest(key, row)
            found = [c for term, similarity in nearest
                     if (c := self._candidate(text, words, lowered, i, j, key, term, similarity, exact)) is not None]
            if tied:
                # Terms about as near as each other ("austereior": posterior or anterior?): a guess could
                # invert a finding, so only one that the context alone supports is written.
                found = [c for c in found if c.supported_by in ("cue", "session", "score")]
                if len(found) != 1:
                    continue
            if found:
                candidates.append(found[0])
        return _non_overlapping(candidates + self._comma_splits(text, words, lowered))

    def _candidate(self, text: str, words: list[re.Match[str]], lowered: list[str], i: int, j: int, key: str,
                   term: Term, similarity: float, exact: list[tuple[int, int, int]]) -> Correction | None:
        """The rewrite of words i..j as `term`, or None when it is not safe."""
        heard_words = lowered[i:j]
        if self._breaks_a_term(heard_words, term) or _covers_exact(i, j, key, term, self.index, exact, lowered):
            return None
        heard = text[words[i].start():words[j - 1].end()]
        # the term's form nearest to what was heard (the written form first among equals)
        distance, _, form = min((Levenshtein.distance(key, letters(f)), f != term.written, f)
                                for f in (*term.spoken, term.written))
        support = self._support(term, lowered, i, j, heard, key, similarity, distance)
        if not support:
            return None
        replacement = _rewrite(form, term, key, heard_words, lowered[j:j + 4])
        said_as_form = form.lower().split() == heard_words
        if (any(_inflected(key, letters(r)) or _other_wording(heard_words, r)
                for r in ((replacement,) if said_as_form else (form, replacement)))
                or _lowers_case(heard, replacement)):
            return None
        if j - i == 1 and _zipf(heard_words[0]) >= COMMON_ZIPF and (
                support in ("session", "score") or _zipf(letters(replacement)) >= COMMON_ZIPF):
            return None  # one everyday word ("tight", "hands") becomes a term only beside its cue
        return Correction(words[i].start(), words[j - 1].end(), heard, replacement, term.category, similarity,
                          support, distance, j - i)

    def _comma_splits(self, text: str, words: list[re.Match[str]], lowered: list[str]) -> list[Correction]:
        """A lexicon phrase word for word with a comma inside, its cue or the session's context near: the
        comma goes, the words stay as heard."""
        out = []
        for i in range(len(words)):
            for j in range(i + 2, min(len(words), i + MAX_RUN_WORDS) + 1):
                gaps = [text[words[k].end():words[k + 1].start()] for k in range(i, j - 1)]
                if any(g.strip() not in ("", ",") for g in gaps):
                    break
                term = self.index.phrases.get(tuple(lowered[i:j]))
                if term is None or all(g.strip() == "" for g in gaps):
                    continue
                before, after = lowered[max(0, i - CUE_WINDOW):i], lowered[j:j + CUE_WINDOW]
                if (term.written not in self.session and not _cue_near(term, lowered[i:j], before, after)
                        and all(_zipf(w) >= COMMON_ZIPF for w in lowered[i:j] if w.isalpha())):
                    continue  # "the plan was modified, independent review followed": no cue, no join
                heard = text[words[i].start():words[j - 1].end()]
                joined = " ".join(m[0] for m in words[i:j])
                out.append(Correction(words[i].start(), words[j - 1].end(), heard, joined, term.category, 1.0,
                                      "comma", 0, j - i))
        return out

    def _similar_keys(self, queries: list[str]) -> list[dict[int, float]]:
        """For each query, the lexicon keys within reach (similarity by index). Only keys of a length that
        can reach MIN_SIMILARITY_SAME_SOUND are compared (the index is sorted by length), and a query seen
        before is answered from the index's cache (everyday words recur in every session)."""
        cache = self.index.similar
        todo = sorted({q for q in queries if q not in cache})
        if len(cache) + len(todo) > SIMILAR_CACHE_SIZE:
            cache.clear()  # bounded memory; refilled as sessions go on
            todo = sorted(set(queries))
        by_length: dict[int, list[str]] = {}
        for key in todo:
            by_length.setdefault(len(key), []).append(key)
        lengths = self.index.lengths
        for length, keys in by_length.items():
            lo = bisect.bisect_left(lengths, math.ceil(length * MIN_SIMILARITY_SAME_SOUND))
            hi = bisect.bisect_right(lengths, math.floor(length / MIN_SIMILARITY_SAME_SOUND))
            if lo >= hi:
                cache.update((key, {}) for key in keys)
                continue
            scores = process.cdist(keys, self.index.keys[lo:hi], scorer=Levenshtein.normalized_similarity,
                                   score_cutoff=MIN_SIMILARITY_SAME_SOUND, workers=1)
            for key, row in zip(keys, scores, strict=True):
                cache[key] = {lo + int(k): round(float(row[k]), 4) for k in row.nonzero()[0]}  # float32 in
        return [cache[q] for q in queries]

    def _nearest(self, key: str, row: dict[int, float]) -> tuple[list[tuple[Term, float]], bool]:
        """The nearest spoken forms, best first: a close spelling, then one that sounds the same, then the
        closest (which only an anchored unknown word can still carry, see `_support`). A few are kept, as
        the nearest may be another term's odd form at the same distance. True with them when two are
        about as near as each other (see `corrections`)."""
        if key in self.index.exact:  # heard exactly as a form: that term or nothing
            return [(self.index.exact[key], 1.0)], False
        sound = sound_key(key)
        ranked = sorted(row, key=lambda k: (row[k] < MIN_SIMILARITY and self.index.sounds[k] != sound,
                                            -row[k], self.index.sounds[k] != sound))
        nearest: dict[str, tuple[Term, float]] = {}
        scores: list[float] = []
        for k in ranked:
            if self.index.owners[k].written not in nearest:
                nearest[self.index.owners[k].written] = (self.index.owners[k], row[k])
                scores.append(row[k] + (SOUND_BONUS if self.index.sounds[k] == sound else 0.0))
            if len(nearest) == NEAREST_TRIED:
                break
        tied = len(scores) > 1 and max(scores[1:]) >= scores[0] - AMBIGUITY_MARGIN
        return list(nearest.values()), tied

    def _breaks_a_term(self, heard_words: list[str], term: Term) -> bool:
        """A heard word that is itself a lexicon term must survive in the rewrite ("hip" in "hip abduction")."""
        target = letters(term.written) + " " + " ".join(letters(f) for f in term.spoken)
        return any(len(w) >= 3 and w in self.index.exact and w not in target for w in map(letters, heard_words)) \
            and len(heard_words) > 1

    def _same_sound(self, heard_words: list[str], term: Term) -> bool:
        sound = sound_key(letters("".join(heard_words)))
        return any(sound_key(letters(f)) == sound for f in term.spoken)

    def _support(self, term: Term, lowered: list[str], i: int, j: int, heard: str, key: str, similarity: float,
                 distance: int) -> str:
        """Why this rewrite is safe, or "" when it is not (the rules are in the module docstring). `key`: the
        heard letters; `distance`: their edits to the term's nearest form."""
        heard_words = lowered[i:j]
        if heard == term.written or self.index.exact.get(key, term) is not term:
            return ""  # already written so, or heard exactly as another term: leave it
        before, after = lowered[max(0, i - CUE_WINDOW):i], lowered[j:j + CUE_WINDOW]
        context = ""
        if term.written in self.session:
            context = "session"
        elif term.score_range and _score_fits(term, after):
            context = "score"
        elif _cue_near(term, heard_words, before, after):
            context = "cue"
        zipfs = [_zipf(w) for w in heard_words if w.isalpha()]
        if key == letters(term.written):
            # The same letters: spacing ("thera band"), a hyphen, or casing. Casing alone ("rest" -> "ReST")
            # needs context; a split needs a part that is not an everyday word, or context.
            if heard.lower() == term.written.lower():
                return context
            return "spelling" if any(z < COMMON_ZIPF for z in zipfs) else context
        if similarity >= 1.0 and not _spelling_of(key, term):
            # Heard exactly as one of the term's spoken forms that is spelt differently. An expansion of an
            # acronym ("timed up and go" for TUG) or a synonym is the clinician's wording: left. Everyday
            # words that sound like the term ("new step" for NuStep) are rewritten only with context.
            said = next((f for f in term.spoken if letters(f) == key), "")
            if said.split() != heard_words:
                # The form's letters split otherwise ("ash worth" for "ashworth"): a spacing slip of it.
                return "spelling" if any(z < COMMON_ZIPF for z in zipfs) else context
            acronym = _is_acronym(term.written)
            sounds_as_written = sound_key(key) == sound_key(letters(term.written))
            if (len(said.split()) >= 2 and acronym) or not sounds_as_written:
                return ""  # an expansion, or a synonym ("gaze stability"): the speaker's own wording
            return context
        garbled = any(z < UNKNOWN_ZIPF for z in zipfs)
        if context in ("cue", "session", "score") and garbled and similarity >= MIN_SIMILARITY_SAME_SOUND:
            return context  # a word that is no English, the term's cue beside it ("blue the rabben")
        if _anchored(heard_words, term, unknown_word=True):
            return "anchor"  # a colour or body part heard right beside a word that is not English
        same_sound = self._same_sound(heard_words, term)
        if similarity < MIN_SIMILARITY and not same_sound:
            return ""
        if len(heard_words) == 1 and similarity < MIN_SIMILARITY and context != "session":
            return ""  # one everyday word that only sounds like a term ("pull" / "pulleys")
        if all(z >= UNKNOWN_ZIPF for z in zipfs) and not same_sound and distance > MAX_REAL_WORD_EDITS:
            return ""  # real words that differ from the term by more than a slip: other wording ("gaze stability")
        if context:
            return context
        if _anchored(heard_words, term):
            return "anchor"
        if any(z < UNKNOWN_ZIPF for z in zipfs) and similarity >= MIN_SIMILARITY:
            return "rare word"
        return ""

    def correct(self, text: str) -> str:
        out, last = [], 0
        for c in self.corrections(text):
            out.append(text[last:c.start])
            out.append(c.written)
            last = c.end
        out.append(text[last:])
        return "".join(out)


def _anchored(heard: list[str], term: Term, unknown_word: bool = False) -> bool:
    """Heard word for word as one of the term's spoken forms but for words that sound alike ("bird balance
    scale" for "berg balance scale"). The words heard the same must be content words (not "for", "at", a
    number) holding at least half of the form's words and 40 % of its letters, and a word heard differently
    must be no function word itself; a two-word form allows only a near miss (one letter, or the same
    sound). With `unknown_word`, the one word heard differently is no English at all ("green meravan" for
    "green theraband"): then half its letters right and a quarter of the form's letters anchored suffice."""
    for form in term.spoken:
        said = form.split()
        if len(said) < 2 or len(said) != len(heard):
            continue
        same = [h == s for h, s in zip(heard, said, strict=True)]
        anchors = [s for s, eq in zip(said, same, strict=True) if eq]
        share = 0.25 if unknown_word else 0.4
        if (2 * len(anchors) < len(said) or sum(map(len, anchors)) < share * len("".join(said))
                or any(_is_function_word(w) for w in anchors)):
            continue
        differing = [(h, s) for h, s, eq in zip(heard, said, same, strict=True) if not eq]
        if any(_is_function_word(h) for h, _ in differing):
            continue
        if unknown_word:
            if len(differing) == 1 and _zipf(differing[0][0]) < UNKNOWN_ZIPF and len(differing[0][0]) >= MIN_LETTERS \
                    and Levenshtein.normalized_similarity(*differing[0]) >= 0.5:
                return True
            continue
        near = _words_near if len(said) == 2 else _words_alike
        # An everyday word is taken for a term's word only when it sounds the same ("hill"/"heel",
        # "chew"/"shoe"); spelt close is not enough ("line"/"lying" may be what was said).
        if all(near(h, s) and (_zipf(h) < COMMON_ZIPF or sound_key(h) == sound_key(s)) for h, s in differing):
            return True
    return False


def _is_function_word(word: str) -> bool:
    """Articles, prepositions, pronouns, conjunctions, auxiliaries and numbers ("for", "at", "that", "two")
    carry no evidence of a term: never an anchor of one, never the mishearing of one."""
    return word.isdigit() or word.lower() in _FUNCTION_WORDS


def _words_alike(heard: str, said: str) -> bool:
    return (Levenshtein.normalized_similarity(heard, said) >= 0.5
            or sound_key(heard) == sound_key(said))


def _words_near(heard: str, said: str) -> bool:
    return Levenshtein.distance(heard, said) <= 1 or (
        min(len(heard), len(said)) >= 4 and sound_key(heard) == sound_key(said))


def _gap(text: str, end: int, start: int) -> bool:
    """True when a run of words may not continue across this gap (a sentence or clause break)."""
    return bool(re.search(r"[.,;:!?]", text[end:start]))


def _cue_near(term: Term, heard: list[str], before: list[str], after: list[str]) -> bool:
    """A cue word of the term near the heard words. One real English word heard ("slung" for "sling")
    needs its cue right beside it (two words either side): further off, the cue is chance."""
    if len(heard) == 1 and heard[0].isalpha() and _zipf(heard[0]) >= UNKNOWN_ZIPF:
        before, after = before[-2:], after[:2]
    return any(w in term.cues for w in (*before, *after)) or _two_word_cue(term.cues, before, after)


def _two_word_cue(cues: frozenset[str], before: list[str], after: list[str]) -> bool:
    """A cue of two words ("balance scale") counts when the neighbouring words say it."""
    spaced = {c for c in cues if " " in c}
    if not spaced:
        return False
    near = " ".join(before) + " | " + " ".join(after)
    return any(c in near for c in spaced)


def _inflected(heard: str, written: str) -> bool:
    """One is the other with an ending ("chin tuck" / "chin tucks", "lunged" / "lunges"): another form
    of the same word, said so on purpose. ("fristo" / "fristoe" is a misspelling, not an ending.)"""
    if heard == written:
        return False
    short, long = sorted((heard, written), key=len)
    if any(long == short + end for end in _ENDINGS):
        return True
    stem = re.sub(_ENDING, "", long)
    return bool(stem) and re.sub(_ENDING, "", short) == stem and short != stem + "e"


_ENDINGS = ("s", "es", "d", "ed", "ing")
_ENDING = r"(?:es|s|ed|d|ing)$"


def _other_wording(heard: list[str], replacement: str) -> bool:
    """The change is not a mishearing repaired but wording changed: only hyphens or capitals differ
    ("single leg stance" / "single-leg stance") where every word heard is English; words are added
    ("transfer bench" / "tub transfer bench", "Hawkins Kennedy" / "Hawkins-Kennedy test"); a function word
    is replaced or swallowed ("stand from a" / "stand frame"; a pure split like "the ra band" may join); or
    a word only changes its ending ("step" / "steps")."""
    new = [w for w in re.split(r"[\s-]+", replacement.lower()) if w]
    old = [w for part in heard for w in part.split("-") if w]
    if new == old:
        return all(_zipf(w) >= UNKNOWN_ZIPF for w in old if w.isalpha())
    if len(new) > len(old) and all(w in new for w in old):
        return True
    lead = 0  # function words that begin the term's own letters ("the ra band" -> "theraband") may join it
    while lead < len(old) and _is_function_word(old[lead]) and letters(replacement).startswith(
            letters("".join(old[:lead + 1]))):
        lead += 1
    if letters(replacement) != letters("".join(old)) and any(
            _is_function_word(w) and w not in new for w in old[lead:]):
        return True
    garbled = any(_zipf(w) < UNKNOWN_ZIPF for w in old if w.isalpha())
    if len(new) != len(old) and letters(replacement) != letters("".join(old)) and any(
            len(w) >= MIN_LETTERS and _zipf(w) >= COMMON_ZIPF and w not in new
            and fuzz.partial_ratio(w, letters(replacement)) < KEPT_WORD_RATIO for w in old):
        return True  # an English word heard clearly is dropped ("goldman fristo test" -> "Goldman Fristoe")
    if len(new) == len(old):
        differing = [(h, n) for h, n in zip(old, new, strict=True) if h != n]
        if not garbled and any(_zipf(h) >= COMMON_ZIPF and not _words_alike(h, n) for h, n in differing):
            return True  # "stern negotiation" is not "stair training"
        if any(len(h) >= MIN_LETTERS and n.endswith(h) and len(n) - len(h) >= 3 for h, n in differing):
            return True  # "glottic" inside "supraglottic": the term began before the run; a longer run has it
        if any(_is_function_word(h) for h, _ in differing):
            return True
        if differing and all(_inflected(h, n) for h, n in differing):
            return True
    return False


def _lowers_case(heard: str, replacement: str) -> bool:
    """A change of casing only is made towards capitals (an acronym or a name), never away from them."""
    if heard.lower() != replacement.lower():
        return False
    return sum(c.isupper() for c in replacement) <= sum(c.isupper() for c in heard)


def _is_acronym(written: str) -> bool:
    """"TUG", "GFTA-3", "6MWT": one token, capitals or digits."""
    return " " not in written and (written.isupper() or any(c.isdigit() for c in written))


def _spelling_of(key: str, term: Term) -> bool:
    """Letters close to the written form's: a variant spelling, not another wording."""
    return Levenshtein.normalized_similarity(key, letters(term.written)) >= MIN_SIMILARITY


def _rewrite(form: str, term: Term, heard_key: str, heard_words: list[str], following: list[str]) -> str:
    """What replaces the heard words. A split of one of the term's spoken forms ("modified ash worth") is
    joined as that form, in the written form's casing ("Modified Ashworth"); anything else becomes the
    written form, less the words the speaker says next anyway ("eply maneuver" -> "Epley" + " maneuver",
    not "Epley maneuver maneuver")."""
    if letters(form) == heard_key and form.split() != heard_words and not _spelling_of(heard_key, term):
        cased = {w.lower(): w for w in re.findall(r"[\w'-]+", term.written)}
        return " ".join(cased.get(w, w) for w in form.split())
    said = form.split()
    for k in range(1, len(said)):  # a form that says more than the written one ("bosu ball" for Bosu)
        if letters("".join(said[:k])) == letters(term.written):
            return " ".join([term.written, *said[k:]])
        if letters("".join(said[-k:])) == letters(term.written):
            return " ".join([*said[:-k], term.written])
    written_words = term.written.lower().split()
    if len(said) < len(written_words) and written_words[:len(said)] == said:
        return " ".join(term.written.split()[:len(said)])  # the name's head, as said ("Oswestry", "Epley")
    if len(said) >= 2 and _is_acronym(term.written):
        # The speaker said the name an acronym stands for ("goldman fristo test" for GFTA-3): keep their
        # wording, spelt right and capitalised as a name.
        return " ".join(w if _is_function_word(w) else w[:1].upper() + w[1:] for w in said)
    written = term.written.split()
    for keep in range(1, len(written)):
        tail = [w.lower() for w in written[keep:]]
        if following[:len(tail)] == tail:
            return " ".join(written[:keep])
    return term.written


def _covers_exact(i: int, j: int, key: str, term: Term, index: TermIndex, exact: list[tuple[int, int, int]],
                  lowered: list[str]) -> bool:
    """The run holds, as a proper part, words heard exactly as a lexicon term that the rewrite would lose:
    the same term ("of tibialis anterior", "quadricep is": the term is already there and only an edge
    word would be swallowed), or another term holding half the run's letters that the target does not
    contain ("dorsi flexion" may become "dorsiflexion", which keeps "flexion")."""
    target = letters(term.written)
    for a, b, _ in exact:
        if (a, b) == (i, j) or a < i or b > j:
            continue
        part = letters("".join(lowered[a:b]))
        if index.exact[part] is term and " ".join(lowered[a:b]) in {f.lower() for f in (*term.spoken, term.written)}:
            return True  # heard word for word (a split "ash worth" is no term heard right)
        if len(part) >= 0.5 * len(key) and part not in target:
            return True
    return False


def _non_overlapping(candidates: list[Correction]) -> list[Correction]:
    """The best rewrites that do not overlap: fewest letters changed first, then the most content words
    ("bird balance scale" over "bird balance"), then the fewest words (an edge word like "is" or "of" that
    costs nothing to add is not taken into the term)."""
    chosen: list[Correction] = []
    def content_words(c: Correction) -> int:
        return sum(not _is_function_word(w.lower()) for w in _WORD.findall(c.heard))

    for c in sorted(candidates, key=lambda c: (c.distance, -content_words(c), c.words, -c.similarity, c.start)):
        if all(c.end <= o.start or c.start >= o.end for o in chosen):
            chosen.append(c)
    return sorted(chosen, key=lambda c: c.start)


@cache
def default_corrector() -> Corrector:
    _zipf("the")  # load the word counts now, not on a live segment (about half a second)
    return Corrector()


def correct_terms(text: str, session_text: Iterable[str] = ()) -> str:
    """`text` with misheard lexicon terms rewritten (see the module docstring for when)."""
    texts = tuple(t for t in session_text if t)
    corrector = _session_corrector(texts) if texts else default_corrector()
    return corrector.correct(text)


@lru_cache(maxsize=64)
def _session_corrector(session_text: tuple[str, ...]) -> Corrector:
    return Corrector(session_text)


def context_text(context: pb.SessionContext) -> tuple[str, ...]:
    """The context fields whose lexicon terms a session is expected to say."""
    return (context.diagnosis, *context.goals, *context.vocabulary)


def write_recognised(raw: str, session_text: Iterable[str] = ()) -> str:
    """The written form of what the recogniser wrote: spoken forms written (numbers, times, scores), then
    misheard therapy terms corrected. The one path from raw recognition to a transcript's text."""
    return correct_terms(to_written(raw), session_text)
