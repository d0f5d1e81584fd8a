"""Which code a stretch of therapist speech is: the intervention catalogue read two ways.

1. Phrases: names, synonyms, equipment and verbs of the catalogue's entries, matched on word stems
   ("bridges" = "bridging"). A phrase several codes share counts for each of them in part.
2. Nearest neighbours: the sentence model (MiniLM, the drafter's) embeds the speech and every
   entry's names and spoken lines; the code whose closest line leads the other codes' closest lines
   (each measured from that code's typical similarity to unrelated lines) gets that lead as evidence.

`ActivityModel.evidence` gives both per code for one sentence; `decide` turns a block's summed
evidence into a probability per code (a softmax over the weighted evidence), the best code, its
runner-up and why. `bench/classifier.py` measures it (leave one entry out, held-out descriptions).
The model is optional: with SCRIBE_EMBEDDINGS=0 or no model installed, phrases alone decide.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from services.coder.catalogue import Catalogue, PhraseHit, load_default_catalogue, stems
from services.coder.rules import CodingRules

log = logging.getLogger("scribe.coder")

Encoder = Callable[[Sequence[str]], list[list[float]]]

# Phrase weights: a name or synonym says what the activity is; a verb hints. Equipment alone weighs
# nothing: a step, a ball, cones or a mat serve strength, balance, gait and functional work alike
# (bench/segmenter_fit.py found 0 better than 1.5 on the seen cases; with the costs fitted beside it,
# bench/holdout scored better and ../shared/eval/unseen the same on codes). It still marks "Now the
# cones" as moving on to something named.
NAME_WEIGHT = 3.0
EQUIPMENT_WEIGHT = 0.0
VERB_WEIGHT = 0.3
# A sentence's nearest catalogue line must be this similar to say anything about an activity, and
# its code is evidence only by its lead over the next code's nearest line (most sentences of a session
# are near several codes' lines: "keep your back straight" fits any exercise).
SIMILARITY_FLOOR = 0.45
MAX_MARGIN = 0.15
# Logit per unit of evidence (set by hand; bench/classifier.py measures the result).
PHRASE_SCALE = 1.0
NEIGHBOUR_SCALE = 5.0
# A block's code is left to the therapist (needs_review) below this probability.
REVIEW_BELOW = 0.6
# The catalogue lines read per sentence, nearest first (enough to reach every code's nearest line).
NEIGHBOURS_READ = 200
_CACHE_MAX = 20000


@dataclass
class Evidence:
    """Per-code evidence of one stretch of speech (summable over a block's sentences)."""

    phrase: dict[str, float] = field(default_factory=dict)
    neighbour: dict[str, float] = field(default_factory=dict)  # similarity above the floor, per code
    hits: list[tuple[str, str]] = field(default_factory=list)  # (phrase said, entry id)
    nearest: list[tuple[float, str]] = field(default_factory=list)  # (similarity, entry id), best first

    def add(self, other: Evidence) -> None:
        for code, v in other.phrase.items():
            self.phrase[code] = self.phrase.get(code, 0.0) + v
        for code, v in other.neighbour.items():
            self.neighbour[code] = self.neighbour.get(code, 0.0) + v
        self.hits.extend(other.hits)
        self.nearest = sorted([*self.nearest, *other.nearest], reverse=True)[:5]

    def scaled(self, factor: float) -> Evidence:
        return Evidence({c: v * factor for c, v in self.phrase.items()},
                        {c: v * factor for c, v in self.neighbour.items()}, list(self.hits), list(self.nearest))

    def logits(self, codes: Iterable[str]) -> dict[str, float]:
        return {c: PHRASE_SCALE * self.phrase.get(c, 0.0) + NEIGHBOUR_SCALE * self.neighbour.get(c, 0.0)
                for c in codes}


@dataclass(frozen=True)
class CodeGuess:
    cpt: str
    confidence: float  # probability of `cpt` among the codes allowed
    runner_up: str = ""
    runner_up_confidence: float = 0.0
    why: str = ""

    @property
    def needs_review(self) -> bool:
        return self.confidence < REVIEW_BELOW


def softmax(logits: dict[str, float]) -> dict[str, float]:
    if not logits:
        return {}
    top = max(logits.values())
    exp = {c: math.exp(v - top) for c, v in logits.items()}
    total = sum(exp.values())
    return {c: v / total for c, v in exp.items()}


class ActivityModel:
    """The catalogue with (optionally) its embeddings; `evidence` per sentence, `decide` per block."""

    def __init__(self, catalogue: Catalogue, rules: CodingRules, encoder: Encoder | None = None,
                 cache_dir: Path | None = None, model_key: str = "") -> None:
        """`cache_dir` keeps the catalogue's embeddings between runs, keyed by the catalogue's text and
        `model_key` (the model's fingerprint); without a key nothing is cached on disk."""
        self.catalogue = catalogue
        self.rules = rules
        self.encoder = encoder
        self._cache: dict[str, np.ndarray] = {}
        self._doc_entry: np.ndarray = np.zeros(0, dtype=np.int32)
        self._docs: np.ndarray = np.zeros((0, 0), dtype=np.float32)
        self._bias: dict[str, float] = {}
        self._codes = sorted({e.cpt for e in catalogue.interventions})
        if encoder is not None:
            self._docs, self._doc_entry = self._embed_catalogue(encoder, cache_dir if model_key else None,
                                                                model_key)
            self._bias = self._code_bias()

    # ---------------------------------------------------------------- catalogue embeddings

    def documents(self) -> list[tuple[str, int]]:
        """(text, entry index): each entry's names in one line, and each of its spoken lines."""
        out: list[tuple[str, int]] = []
        for i, e in enumerate(self.catalogue.interventions):
            out.append((", ".join(e.names), i))
            out.extend((line, i) for line in e.spoken)
        return out

    def _embed_catalogue(self, encoder: Encoder, cache_dir: Path | None,
                         model_key: str) -> tuple[np.ndarray, np.ndarray]:
        docs = self.documents()
        entry = np.array([i for _, i in docs], dtype=np.int32)
        key = hashlib.sha256(("\n".join(t for t, _ in docs) + "|" + model_key).encode()).hexdigest()[:20]
        path = (cache_dir / f"catalogue-{key}.npy") if cache_dir is not None else None
        if path is not None and path.is_file():
            try:
                matrix = np.load(path)
                if matrix.shape[0] == len(docs):
                    return matrix.astype(np.float32), entry
            except (OSError, ValueError):
                pass
        matrix = np.asarray(encoder([t for t, _ in docs]), dtype=np.float32)
        if path is not None:
            try:  # write then rename: a reader never sees half a file
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
                np.save(tmp, matrix)
                tmp.replace(path)
            except OSError as exc:
                log.warning("coder: cannot cache the catalogue embeddings (%s)", type(exc).__name__)
        return matrix, entry

    def _code_bias(self) -> dict[str, float]:
        """How close an unrelated line comes to each code's nearest line, on average: a code with many
        entries (97110) is near everything by sheer number, so its similarity counts from there.
        Measured on the catalogue itself: the other codes' lines against this code's."""
        codes = np.array([self.catalogue.interventions[int(i)].cpt for i in self._doc_entry])
        sims = self._docs @ self._docs.T
        out: dict[str, float] = {}
        for code in sorted(set(codes)):
            mine = codes == code
            if mine.all():
                out[code] = 0.0
                continue
            out[code] = float(sims[~mine][:, mine].max(axis=1).mean())
        return out

    def embed(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Sentence embeddings, cached per text (a live session re-codes the same sentences)."""
        if self.encoder is None:
            return []
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            if len(self._cache) > _CACHE_MAX:
                self._cache.clear()
            for t, v in zip(missing, self.encoder(missing), strict=True):
                self._cache[t] = np.asarray(v, dtype=np.float32)
        return [self._cache[t] for t in texts]

    # ---------------------------------------------------------------- evidence

    def allowed_codes(self, discipline: str) -> list[str]:
        return [c for c in self._codes if c in self.rules.codes
                and (not discipline or discipline in self.rules.codes[c].disciplines)]

    def phrase_evidence(self, text: str, discipline: str, allowed: Sequence[str] | None = None) -> Evidence:
        allowed_set = set(allowed if allowed is not None else self.allowed_codes(discipline))
        ev = Evidence()
        entries = self.catalogue.interventions
        by_span: dict[tuple[int, int, str], list[PhraseHit]] = {}
        for hit in self.catalogue.index.find(stems(text)):
            by_span.setdefault((hit.start, hit.end, hit.kind), []).append(hit)
        spread = self.catalogue.index.spread
        n_codes = max(2, len(self._codes))
        for (_s, _e, kind), hits in by_span.items():
            codes = {entries[h.entry].cpt for h in hits if entries[h.entry].cpt in allowed_set}
            if not codes:
                continue
            weight = {"name": NAME_WEIGHT, "equipment": EQUIPMENT_WEIGHT}.get(kind, VERB_WEIGHT)
            used_by = spread.get(tuple(stems(hits[0].phrase)), 1)
            weight *= math.log(n_codes / used_by + 1e-9) / math.log(n_codes) if used_by < n_codes else 0.0
            for code in codes:  # a phrase shared by several codes counts for each in part
                ev.phrase[code] = ev.phrase.get(code, 0.0) + weight / len(codes)
            if kind != "verb":
                ev.hits.append((hits[0].phrase, entries[hits[0].entry].id))
        return ev

    def neighbour_evidence(self, vector: np.ndarray, allowed: Sequence[str],
                           exclude_entry: int | None = None, sims: np.ndarray | None = None) -> Evidence:
        """`sims`: the vector's similarity to every catalogue line, when already computed in a batch."""
        ev = Evidence()
        if self._docs.size == 0:
            return ev
        if sims is None:
            sims = self._docs @ vector
        entries = self.catalogue.interventions
        best: dict[str, float] = {}
        top = min(NEIGHBOURS_READ, len(sims))
        part = np.argpartition(-sims, top - 1)[:top]
        order = part[np.argsort(-sims[part])]
        nearest: list[tuple[float, str]] = []
        for k in order:
            i = int(self._doc_entry[k])
            if exclude_entry is not None and i == exclude_entry:
                continue
            code = entries[i].cpt
            if code not in allowed:
                continue
            sim = float(sims[k]) - self._bias.get(code, 0.0)
            if code not in best:
                best[code] = sim
            if len(nearest) < 3:
                nearest.append((sim, entries[i].id))
        ranked = sorted(best.items(), key=lambda kv: -kv[1])
        if ranked and ranked[0][1] + self._bias.get(ranked[0][0], 0.0) >= SIMILARITY_FLOOR:
            lead = ranked[0][1] - (ranked[1][1] if len(ranked) > 1 else SIMILARITY_FLOOR)
            if lead > 0:
                ev.neighbour = {ranked[0][0]: min(lead, MAX_MARGIN)}
        ev.nearest = nearest
        return ev

    def evidence(self, texts: Sequence[str], discipline: str, contexts: Sequence[str] | None = None) -> list[Evidence]:
        """Phrase evidence of each text, and neighbour evidence of its context (the text itself unless
        `contexts` gives each a wider window: one short sentence says little on its own), embedded in
        one batch."""
        allowed = self.allowed_codes(discipline)
        out = [self.phrase_evidence(t, discipline, allowed) for t in texts]
        if self.encoder is not None and texts:
            windows = list(contexts) if contexts is not None else list(texts)
            vectors = self.embed(windows)
            # one matrix product for the whole session: a product per sentence took most of the coding time
            sims = self._docs @ np.stack(vectors).T if self._docs.size else None
            treating = [c for c in allowed if self.rules.code(c).kind != "group"]
            for n, (ev, vector) in enumerate(zip(out, vectors, strict=True)):
                near = self.neighbour_evidence(vector, treating, sims=None if sims is None else sims[:, n])
                ev.neighbour, ev.nearest = near.neighbour, near.nearest
        return out

    # ---------------------------------------------------------------- decision

    def decide(self, evidence: Evidence, discipline: str, candidates: Sequence[str] | None = None) -> CodeGuess | None:
        """The most probable code of a block from its summed evidence; None when nothing points anywhere."""
        codes = list(candidates) if candidates is not None else self.allowed_codes(discipline)
        logits = evidence.logits(codes)
        if not codes or max(logits.values(), default=0.0) <= 0.0:
            return None
        probs = softmax(logits)
        ranked = sorted(probs.items(), key=lambda kv: (-kv[1], kv[0]))
        best, p = ranked[0]
        second, q = ranked[1] if len(ranked) > 1 else ("", 0.0)
        return CodeGuess(best, p, second, q, self.explain(evidence, best, second))

    def explain(self, evidence: Evidence, best: str, second: str) -> str:
        """Names of the catalogue entries behind each of the two codes, never the patient's words."""
        entries = {e.id: e for e in self.catalogue.interventions}

        def names(code: str) -> str:
            said = [entries[i].name for _, i in evidence.hits if entries[i].cpt == code]
            near = [entries[i].name for _, i in evidence.nearest if entries[i].cpt == code]
            picked = list(dict.fromkeys([*said, *near]))[:3]
            return ", ".join(picked) if picked else "no catalogue entry"

        parts = [f"{best}: {names(best)}"]
        if second:
            parts.append(f"{second}: {names(second)}")
        return "; ".join(parts)


@functools.lru_cache(maxsize=2)
def _model(model_path: str) -> ActivityModel:
    from services.coder.rules import load_default_rules
    from services.common.sentence_model import cache_dir, model_fingerprint, shared_encoder

    encoder = shared_encoder(model_path)
    try:
        key = model_fingerprint(model_path)
    except OSError:
        key = ""  # a model we cannot fingerprint is embedded afresh each time, never cached wrongly
    return ActivityModel(load_default_catalogue(), load_default_rules(), encoder, cache_dir(), key)


_installed: ActivityModel | None = None


def install(model: ActivityModel | None) -> None:
    """Put an activity model behind the coder (None: phrases only, no sentence model)."""
    global _installed
    _installed = model


def current(rules: CodingRules) -> ActivityModel:
    """The installed model, or one reading the catalogue by phrases only."""
    if _installed is not None:
        return _installed
    return _phrases_only(id(rules), rules)


_phrase_models: dict[int, ActivityModel] = {}


def _phrases_only(key: int, rules: CodingRules) -> ActivityModel:
    model = _phrase_models.get(key)
    if model is None:
        model = _phrase_models[key] = ActivityModel(load_default_catalogue(), rules)
    return model


def install_from_env() -> ActivityModel | None:
    """The sentence model behind the coder unless SCRIBE_EMBEDDINGS says off or it is not installed."""
    from services.common.sentence_model import default_model_path, embeddings_enabled

    if not embeddings_enabled():
        install(None)
        return None
    try:
        path = default_model_path()
    except ImportError:
        install(None)
        return None
    model = _model(path)
    install(model)
    return model
