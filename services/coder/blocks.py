"""Find a visit's services and their time blocks in the transcript.

Dictation: the therapist names each service and says its times ("Therapeutic exercise from
10:05 to 10:23") or only a duration ("about 12 minutes of therapeutic exercise").
Ambient: `services/coder/ambient.py` labels the session's sentences; this module adds the
evaluation code an ambient evaluation bills.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from proto import scribe_pb2 as pb
from services.coder import activity, classify
from services.coder.ambient import ambient_visit
from services.coder.rules import CodingRules
from services.coder.text import find_durations, find_ranges, find_units, parse_clock, split_sentences
from services.coder.visit import THERAPIST_ROLES, Block, Sentence, Visit

# A clock range said with no service names one by what is described in it: some catalogue name of the
# code must be said (equipment alone is not enough). A duration ("hold 30 seconds", "ice for 10 minutes"
# are durations too) only when the activity is plain: at least two catalogue names of its code.
DESCRIBED_RANGE_EVIDENCE = 1.0
DESCRIBED_DURATION_EVIDENCE = 2 * activity.NAME_WEIGHT
_SECTION_RE = re.compile(
    r"^\s*(subjective|objective|assessment|plan|goals?|long[\s-]term goals?|short[\s-]term goals?)\s*(?:[.:,-]|$)",
    re.IGNORECASE,
)


def statements(transcript: Sequence[pb.TranscriptSegment], therapist_only: bool = False) -> list[str]:
    """The sentences said except questions (a question about diabetes is not a history of diabetes)."""
    return [t for seg in transcript if not therapist_only or seg.speaker in THERAPIST_ROLES
            for t in split_sentences(seg.text) if not t.rstrip().endswith("?")]


def statement_text(transcript: Sequence[pb.TranscriptSegment]) -> str:
    """Everything said except questions, as one text."""
    return " ".join(statements(transcript))


def _anchor(context: pb.SessionContext) -> int | None:
    return parse_clock(context.session_start)


def _kind(rules: CodingRules, cpt: str) -> str:
    return rules.code(cpt).kind


def find_visit(draft: pb.DraftUpdate, rules: CodingRules) -> Visit:
    ctx = draft.context
    if ctx.mode == "ambient":
        visit = ambient_visit(draft.transcript, ctx, rules, activity.current(rules),
                              _ambient_evaluation(draft.transcript, ctx, rules))
    else:
        visit = _dictation(draft.transcript, ctx, rules)
    _ensure_evaluation(visit, draft.transcript, ctx, rules)
    return visit


# ---------------------------------------------------------------- dictation


def _eval_code(kind: str, text: str, ctx: pb.SessionContext, rules: CodingRules) -> str | None:
    if kind == "evaluation" and ctx.note_type != "evaluation":
        return None
    return classify.evaluation_code(kind, text, ctx.discipline, rules)


def _dictation(transcript: Sequence[pb.TranscriptSegment], ctx: pb.SessionContext, rules: CodingRules) -> Visit:
    anchor = _anchor(ctx)
    sentences: list[Sentence] = []
    blocks: list[Block] = []
    section = ""
    section_seg = -1  # the utterance whose header opened the current section
    current = -1
    pending_range: tuple[int, int] | None = None
    full_text = statement_text(transcript)
    for i, seg in enumerate(transcript):
        if seg.speaker not in THERAPIST_ROLES:
            sentences.append(Sentence(i, seg.text, section, -1, False, seg.speaker))
            continue
        for n, text in enumerate(split_sentences(seg.text)):
            head = _SECTION_RE.match(text)
            if head:
                section = head.group(1).lower().split()[-1].rstrip("s")
                section = "goal" if section.startswith("goal") else section
                section_seg = i
                current = -1
                text = text[head.end():].strip()
                if not text:
                    continue
            sent = Sentence(i, text, section)
            sentences.append(sent)
            # A short name ("Manual from 2:30 to 2:39") names a service outside the subjective, assessment
            # and plan, or when it opens a later utterance than the one that named the section.
            heads_ok = section not in ("subjective", "assessment", "plan", "goal") or (n == 0 and i != section_seg)
            mentions = _dictated_services(text, ctx, rules, full_text, allow_heads=heads_ok)
            ranges = find_ranges(text, anchor)
            durations = find_durations(text) if not ranges else []
            units = find_units(text)
            if units:
                target = current
                if mentions:
                    target = _find_or_make(blocks, mentions[0], rules, allow_new=True)
                elif target < 0 and blocks:
                    target = len(blocks) - 1
                if target >= 0:
                    blocks[target].units_stated = units[0][0]
                    blocks[target].segs.append(i)
                    sent.block = target
                    current = target
                if not (mentions and (ranges or durations)):
                    continue  # "Bill two units of that": the units only; else also the service's time
            if not mentions:
                if ranges and current >= 0 and not blocks[current].has_times:
                    _set_times(blocks[current], ranges[0].start, ranges[0].stop)
                elif ranges or (durations and (current < 0 or blocks[current].has_times or blocks[current].duration)):
                    # a time with no service named: the service it describes, or (a range) for a later name
                    bar = DESCRIBED_RANGE_EVIDENCE if ranges else DESCRIBED_DURATION_EVIDENCE
                    described = _described_service(text, ctx, rules, blocks, bar)
                    if described is not None:
                        if ranges:
                            _set_times(described, ranges[0].start, ranges[0].stop)
                        else:
                            described.duration = durations[0][0]
                        current = len(blocks)
                        blocks.append(described)
                        sent.section = section = ""
                    elif ranges:
                        pending_range = (ranges[0].start, ranges[0].stop)
                if current >= 0 and section not in ("subjective", "assessment", "plan", "goal"):
                    sent.block = current
                    blocks[current].segs.append(i)
                continue
            in_reference_section = section in ("subjective", "assessment", "plan", "goal")
            if len(mentions) == 1 and len(durations) > 1:
                # "We did ten minutes on the bike, therapeutic exercise 20 minutes in all": the service's own
                # duration is the one said nearest its name.
                at = _mention_start(text, mentions[0], rules, ctx)
                durations = sorted(durations, key=lambda d: abs(d[1][0] - at))
            for k, cpt in enumerate(mentions):
                has_time = k < len(ranges) or k < len(durations)
                if in_reference_section and not has_time:
                    continue
                if not has_time and not _leads_sentence(text, cpt, rules, ctx):
                    existing = [b for b in range(len(blocks)) if blocks[b].cpt == cpt]
                    if not existing:
                        continue
                index = _find_or_make(blocks, cpt, rules, allow_new=True,
                                      has_time=has_time)
                block = blocks[index]
                if k < len(ranges):
                    _set_times(block, ranges[k].start, ranges[k].stop)
                elif k < len(durations) and not block.has_times:
                    block.duration = durations[k][0]
                elif pending_range is not None and not block.has_times:
                    _set_times(block, *pending_range)
                    pending_range = None
                block.segs.append(i)
                sent.block = index
                sent.section = section = ""  # a billed service starts the treatment part of the note
                current = index
    if pending_range is not None:
        untimed = [b for b in blocks if not b.has_times and b.duration is None]
        if len(untimed) == 1:
            _set_times(untimed[0], *pending_range)
    if not any(b.kind == "treatment" for b in blocks):
        _dictation_fallback(blocks, sentences, ctx, rules)
    return Visit(blocks, sentences)


def _mention_start(text: str, cpt: str, rules: CodingRules, ctx: pb.SessionContext) -> int:
    for m in classify.named_services(text, rules, ctx.discipline) + classify.explicit_codes(text, rules,
                                                                                            ctx.discipline):
        if m.cpt == cpt:
            return m.start
    return 0


def _set_times(block: Block, start: int, stop: int) -> None:
    block.start, block.stop, block.duration = start, stop, None


def _leads_sentence(text: str, cpt: str, rules: CodingRules, ctx: pb.SessionContext) -> bool:
    """A service named at the head of a sentence ("Manual therapy to the right knee.") is a billed service."""
    head = " ".join(text.split()[:6])
    if cpt in text:
        return True
    if _kind(rules, cpt) in ("evaluation", "reevaluation"):
        return bool(classify.eval_mentions(head, rules))
    return any(m.cpt == cpt and m.start <= 25 for m in classify.named_services(head, rules, ctx.discipline))


# Between a short name and its duration: "Manual, 12 minutes", "Neuro for about 10 minutes", "Balance x 8 min".
_HEAD_GAP_RE = re.compile(r"[\s,:;\-–]*(?:(?:for|x|times|about|approximately|roughly|around|total|of)\b[\s,]*)*",
                          re.IGNORECASE)


def _dictated_services(text: str, ctx: pb.SessionContext, rules: CodingRules, full_text: str,
                       allow_heads: bool = True) -> list[str]:
    found: list[tuple[int, str]] = []
    for m in classify.explicit_codes(text, rules, ctx.discipline):
        found.append((m.start, m.cpt))
    for m in classify.named_services(text, rules, ctx.discipline):
        if _kind(rules, m.cpt) == "group" and not re.search(r"\bgroup\b.*\b(?:session|therapy|treatment|class)|"
                                                            r"(?:session|therapy|treatment|class)\b.*\bgroup\b|"
                                                            r"^\s*group\b", text, re.IGNORECASE):
            continue
        found.append((m.start, m.cpt))
    for kind, start, _end in classify.eval_mentions(text, rules):
        code = _eval_code(kind, full_text, ctx, rules)
        if code:
            found.append((start, code))
    if not found and allow_heads:
        for m in classify.head_services(text, rules, ctx.discipline):
            if find_ranges(text, None) or any(span[0] < m.start or _HEAD_GAP_RE.fullmatch(text[m.end:span[0]])
                                              for _, span in find_durations(text)):
                found.append((m.start, m.cpt))
    out: list[str] = []
    for _, cpt in sorted(found):
        if cpt not in out:
            out.append(cpt)
    return out


def _described_service(text: str, ctx: pb.SessionContext, rules: CodingRules, blocks: Sequence[Block],
                       min_evidence: float) -> Block | None:
    """A time dictated with no service named ("10:20 to 10:32 tandem stance on foam, eyes closed"): the
    service is what the sentence describes, read from the intervention catalogue like an ambient
    activity; billed for the therapist to confirm (needs_review). None unless a catalogue name is said,
    the best code's phrase evidence reaches `min_evidence`, and the code is not billed already."""
    model = activity.current(rules)
    codes = [c for c in model.allowed_codes(ctx.discipline) if _kind(rules, c) == "treatment"]
    evidence = model.evidence([text], ctx.discipline)[0]
    if not evidence.hits:
        return None
    guess = model.decide(evidence, ctx.discipline, codes)
    if guess is None or evidence.phrase.get(guess.cpt, 0.0) < min_evidence or any(b.cpt == guess.cpt for b in blocks):
        return None
    return Block(guess.cpt, kind="treatment", confidence=guess.confidence, runner_up=guess.runner_up, why=guess.why,
                 needs_review=True)


def _find_or_make(blocks: list[Block], cpt: str, rules: CodingRules, allow_new: bool, has_time: bool = False) -> int:
    for index in range(len(blocks) - 1, -1, -1):
        b = blocks[index]
        if b.cpt == cpt and (not has_time or not b.has_times):
            return index
    blocks.append(Block(cpt, kind=_kind(rules, cpt)))
    return len(blocks) - 1


def _dictation_fallback(blocks: list[Block], sentences: list[Sentence], ctx: pb.SessionContext,
                        rules: CodingRules) -> None:
    """No treatment named: treatment described by its interventions (e.g. SLP naming drills)."""
    totals: dict[str, float] = {}
    for s in sentences:
        # Sentences of a billed block (an evaluation's test results) describe that service, not a treatment.
        if s.speaker not in THERAPIST_ROLES or s.section in ("subjective", "assessment", "plan", "goal") \
                or s.block >= 0:
            continue
        for cpt, score in classify.keyword_scores(s.text, rules, ctx.discipline).items():
            if _kind(rules, cpt) == "treatment":
                totals[cpt] = totals.get(cpt, 0.0) + score
    strong = [cpt for cpt, score in totals.items() if score >= 2]
    for cpt in sorted(strong, key=lambda c: -totals[c]):
        blocks.append(Block(cpt, kind="treatment"))
        index = len(blocks) - 1
        for s in sentences:
            if s.block < 0 and s.section not in ("subjective", "assessment", "plan", "goal") \
                    and cpt in classify.keyword_scores(s.text, rules, ctx.discipline):
                s.block = index
                blocks[index].segs.append(s.seg)


# ---------------------------------------------------------------- ambient


# ---------------------------------------------------------------- evaluations


def _ambient_evaluation(transcript: Sequence[pb.TranscriptSegment], ctx: pb.SessionContext,
                        rules: CodingRules) -> str | None:
    """The evaluation code an ambient session bills: an evaluation visit's, or a re-evaluation said."""
    text = statement_text(transcript)
    if ctx.note_type == "evaluation":
        return classify.evaluation_code(_visit_kind(transcript, rules), text, ctx.discipline, rules)
    # Any other visit (a progress visit re-tests too, but a progress report is not billed on its own) bills a
    # re-evaluation only when one is said as such.
    if any(kind == "reevaluation" for kind, _s, _e in classify.eval_mentions(text, rules)):
        return classify.evaluation_code("reevaluation", text, ctx.discipline, rules)
    return None


def _visit_kind(transcript: Sequence[pb.TranscriptSegment], rules: CodingRules) -> str:
    """What a visit booked as an evaluation is: a first evaluation, or a re-evaluation said as one."""
    return "reevaluation" if classify.says_reevaluation_visit(statements(transcript, therapist_only=True),
                                                              rules) else "evaluation"


def _ensure_evaluation(visit: Visit, transcript: Sequence[pb.TranscriptSegment], ctx: pb.SessionContext,
                       rules: CodingRules) -> None:
    """An evaluation visit bills its evaluation code even when no sentence names it."""
    if ctx.note_type != "evaluation" or any(b.kind == "evaluation" for b in visit.blocks):
        return
    code = classify.evaluation_code(_visit_kind(transcript, rules), statement_text(transcript), ctx.discipline,
                                    rules)
    if code is None:
        return
    block = Block(code, kind="evaluation")
    if ctx.mode == "ambient" and transcript:
        anchor = _anchor(ctx) or 0
        first_treatment = min((b.start for b in visit.blocks if b.start is not None), default=None)
        therapist = [s for s in transcript if s.speaker in THERAPIST_ROLES]
        if therapist:
            block.start = anchor + int(therapist[0].start_s // 60)
            block.stop = first_treatment if first_treatment is not None else anchor + int(transcript[-1].end_s // 60)
    visit.blocks.insert(0, block)
    for s in visit.sentences:
        if s.block >= 0:
            s.block += 1
    for s in visit.sentences:
        if s.block < 0 and s.speaker in THERAPIST_ROLES and s.section not in ("plan",):
            s.block = 0
