"""A visit as the coder sees it: the sentences said, and the time blocks of the services billed."""

from __future__ import annotations

from dataclasses import dataclass, field

THERAPIST_ROLES = ("therapist", "")


@dataclass
class Sentence:
    seg: int
    text: str
    section: str = ""
    block: int = -1  # index into the visit's blocks, -1 = outside every block
    closing: bool = False  # part of the utterance that closes its block
    speaker: str = "therapist"


@dataclass
class Block:
    cpt: str
    start: int | None = None  # minute of the day
    stop: int | None = None
    duration: int | None = None  # minutes said, when no clock times were
    segs: list[int] = field(default_factory=list)
    units_stated: int = 0
    kind: str = "treatment"
    # How sure the activity classifier is of `cpt` (ambient blocks); the runner-up and why, for review.
    confidence: float = 1.0
    runner_up: str = ""
    why: str = ""
    needs_review: bool = False

    @property
    def minutes(self) -> int:
        if self.start is not None and self.stop is not None:
            return max(0, self.stop - self.start)
        return self.duration or 0

    @property
    def has_times(self) -> bool:
        return self.start is not None and self.stop is not None


@dataclass
class Visit:
    blocks: list[Block]
    sentences: list[Sentence]

    def block_sentences(self, index: int) -> list[Sentence]:
        return [s for s in self.sentences if s.block == index]

    def block_text(self, index: int) -> str:
        return " ".join(s.text for s in self.block_sentences(index))
