"""Speaker roles per segment: "therapist" | "patient" | "other"."""

from __future__ import annotations

import math
from collections.abc import Sequence

from proto import scribe_pb2 as pb
from services.drafter.lexicon import Lexicon, load_lexicon
from services.drafter.sentences import split_text

THERAPIST, PATIENT, OTHER = "therapist", "patient", "other"
# A pitch this close to the midpoint of the two voice groups (as a share of their distance)
# says nothing about who spoke: content decides.
PITCH_UNSURE = 0.2


def content_score(text: str, lex: Lexicon) -> float:
    """Positive: sounds like the therapist (instructs, measures, asks); negative: the patient."""
    score = 0.0
    for sentence in split_text(text):
        for pattern, weight in lex.role_cues:
            if pattern.search(sentence):
                score += weight
        if lex.is_coaching(sentence) or lex.is_task(sentence):
            score += 1.0
        if lex.has_measure(sentence) and not lex.topic_pain.search(sentence):
            score += 0.5
    return score


def _scores(transcript: Sequence[pb.TranscriptSegment], lex: Lexicon) -> list[float]:
    scores = [content_score(seg.text, lex) for seg in transcript]
    # Turn-taking: a line right after a therapist's question is likely the answer.
    for i in range(1, len(scores)):
        prev = transcript[i - 1].text.rstrip()
        if prev.endswith("?") and scores[i - 1] > 0:
            scores[i] -= 1.5
    return scores


def _two_means(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    for _ in range(20):
        a = [v for v in values if abs(v - lo) <= abs(v - hi)]
        b = [v for v in values if abs(v - lo) > abs(v - hi)]
        if not a or not b:
            break
        nlo, nhi = sum(a) / len(a), sum(b) / len(b)
        if (nlo, nhi) == (lo, hi):
            break
        lo, hi = nlo, nhi
    return lo, hi


def _semitones(hz: float) -> float:
    return 12.0 * math.log2(hz / 100.0)


def assign_roles(
    transcript: Sequence[pb.TranscriptSegment], context: pb.SessionContext, lex: Lexicon | None = None
) -> list[str]:
    """Role of each segment. Dictation: all therapist. Ambient: content, helped by voice pitch.

    When segment pitches fall into two clearly separated groups, each group takes the role its
    content points to overall, and a segment follows its group unless its own content is
    strongly the other way. A segment far from both groups (a third voice) is "other".
    """
    lex = lex or load_lexicon()
    if context.mode == "dictation":
        return [THERAPIST] * len(transcript)
    scores = _scores(transcript, lex)
    roles = [THERAPIST if s >= 0 else PATIENT for s in scores]
    pitched = [(i, _semitones(seg.voice_pitch_hz)) for i, seg in enumerate(transcript) if seg.voice_pitch_hz > 0]
    if len(pitched) < 4:
        return roles
    lo, hi = _two_means([st for _, st in pitched])
    if hi - lo < lex.pitch_separation_semitones:
        return roles
    group = {i: (0 if abs(st - lo) <= abs(st - hi) else 1) for i, st in pitched}
    total = [0.0, 0.0]
    for i, g in group.items():
        total[g] += scores[i]
    if total[0] == total[1]:
        return roles
    group_role = [THERAPIST, PATIENT] if total[0] > total[1] else [PATIENT, THERAPIST]
    tolerance = max(1.5, (hi - lo) / 2)
    middle = (lo + hi) / 2
    for i, st in pitched:
        centre = lo if group[i] == 0 else hi
        if abs(st - centre) > tolerance:
            roles[i] = OTHER
            continue
        if abs(st - middle) < PITCH_UNSURE * (hi - lo) and scores[i] != 0:
            continue  # a voice between the two groups: its content decides
        role = group_role[group[i]]
        strong = abs(scores[i]) >= 4.0
        roles[i] = role if not strong or (scores[i] > 0) == (role == THERAPIST) else roles[i]
    return roles
