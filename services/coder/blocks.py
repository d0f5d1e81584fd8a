"""Find a visit's services and their time blocks in the transcript.

Dictation: the therapist names each service and says its times ("Therapeutic exercise from
10:05 to 10:23") or only a duration ("about 12 minutes of therapeutic exercise").
Ambient: a block starts and stops at the minute (session start + start_s) of the therapist
utterance that opens or closes the activity; adjacent blocks of one code merge.

Over the ~400-line guideline on purpose: the dictation and ambient paths share the sentence model
(sections, closings, block membership) that the flags read back, and splitting them would put that
shared state behind a second interface. Split when a third capture mode arrives.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from proto import scribe_pb2 as pb
from services.coder import classify, detect
from services.coder.rules import CodingRules
from services.coder.text import find_durations, find_ranges, find_units, parse_clock, split_sentences

THERAPIST_ROLES = ("therapist", "")
_SECTION_RE = re.compile(
    r"^\s*(subjective|objective|assessment|plan|goals?|long[\s-]term goals?|short[\s-]term goals?)\s*(?:[.:,-]|$)",
    re.IGNORECASE,
)
_CLOSE_RE = re.compile(
    r"\b(?:that'?s it for|that is it for|that finishes|that's the end of|that is the end of|end of (?:the )?"
    r"(?:group|class|session|evaluation|eval)|(?:is|are) (?:done|finished|complete)|done with|we're done|"
    r"we are done|finished with|all done|that completes|that'?s your home program|that wraps up|"
    r"let'?s wrap up|we'?re finished|we are finished|that'?s enough (?:of|for))\b|^\s*(?:okay,?\s*|good,?\s*)?done\b",
    re.IGNORECASE,
)
_OPENER_RE = re.compile(
    r"\b(?:let'?s|let us)\s+(?:start|begin|get started|do|go|work|try|move|warm up|practice|head)\b"
    r"|\b(?:i'll|i will|i'm going to|we'll|we will|we're going to|going to)\s+(?:start|begin|do|work|practice|go)\b"
    r"|^\s*(?:okay,?\s*|alright,?\s*|good,?\s*|great,?\s*)?(?:now|first|next|then)\b|\bnow\b"
    r"|\btime for\b|\b(?:start|begin)(?:ning)?\s+(?:with|on)\b|\bover to the\b|\blet me show you\b",
    re.IGNORECASE,
)
_PLAN_RE = re.compile(
    r"\b(?:next (?:visit|time|week|session|appointment)|at home|keep doing|continue (?:doing|with)|see you|"
    r"tomorrow|before (?:your )?next|plan is|we'll progress|we will progress)\b",
    re.IGNORECASE,
)
_DOING_RE = re.compile(
    r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty)\s+"
    r"(?:sets?|reps?|repetitions|times|minutes?|seconds?|laps)\b|\bsets? of\b|\bgrade\s+\w+|"
    r"^\s*(?:lie|sit|stand|walk|pull|push|lift|hold|step|squeeze|reach|bend|relax|slide)\b",
    re.IGNORECASE,
)
_ASSESS_RE = re.compile(
    r"\b(?:let me|let's|i'll|i will|i'm going to|going to|we'll|now i'll)\s+"
    r"(?:check|test|measure|assess|look at|screen|examine|time|see how|take a look)\b"
    r"|\b(?:check(?:ing)?|test(?:ing)?|measur(?:e|ing))\s+your\b",
    re.IGNORECASE,
)
_CONTAINER_CLOSE_RE = re.compile(r"\b(?:group|class|session|today|evaluation|eval|assessment)\b", re.IGNORECASE)
_CONTAINER_KINDS = ("group", "evaluation", "reevaluation")


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


def statement_text(transcript: Sequence[pb.TranscriptSegment]) -> str:
    """Everything said except questions (a question about diabetes is not a history of diabetes)."""
    return " ".join(t for seg in transcript for t in split_sentences(seg.text) if not t.rstrip().endswith("?"))


def _anchor(context: pb.SessionContext) -> int | None:
    return parse_clock(context.session_start)


def _kind(rules: CodingRules, cpt: str) -> str:
    return rules.code(cpt).kind


def find_visit(draft: pb.DraftUpdate, rules: CodingRules) -> Visit:
    ctx = draft.context
    if ctx.mode == "ambient":
        visit = _ambient(draft.transcript, ctx, rules)
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
                if ranges:
                    if current >= 0 and not blocks[current].has_times:
                        _set_times(blocks[current], ranges[0].start, ranges[0].stop)
                    else:
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


def _utterance_code(texts: Sequence[str], ctx: pb.SessionContext, rules: CodingRules,
                    full_text: str) -> tuple[str | None, bool]:
    """(code the sentences point at, whether it was named outright)."""
    text = " ".join(t for t in texts if not _PLAN_RE.search(t) and not t.rstrip().endswith("?")
                    and not _ASSESS_RE.search(t)
                    and not (detect.is_goal_link(t, rules.lexicon) and not _OPENER_RE.search(t)))
    if not text:
        return None, False
    for kind, _s, _e in classify.eval_mentions(text, rules):
        if _OPENER_RE.search(text):
            code = _eval_code(kind, full_text, ctx, rules)
            if code:
                return code, True
    named = classify.named_services(text, rules, ctx.discipline)
    if named:
        return named[0].cpt, True
    return classify.best_code(classify.keyword_scores(text, rules, ctx.discipline)), False


def _ambient(transcript: Sequence[pb.TranscriptSegment], ctx: pb.SessionContext, rules: CodingRules) -> Visit:
    anchor = _anchor(ctx) or 0
    sentences: list[Sentence] = []
    blocks: list[Block] = []
    current = -1
    pending: str | None = None
    full_text = statement_text(transcript)

    def minute(t: float) -> int:
        return anchor + int(t // 60)

    def open_block(cpt: str, seg_index: int, t: float) -> int:
        blocks.append(Block(cpt, start=minute(t), kind=_kind(rules, cpt)))
        return len(blocks) - 1

    for i, seg in enumerate(transcript):
        if seg.speaker not in THERAPIST_ROLES:
            sentences.append(Sentence(i, seg.text, "", current, False, seg.speaker))
            continue
        texts = split_sentences(seg.text) or [seg.text]
        close_at = -1
        if current >= 0:
            for k, t in enumerate(texts):
                if _CLOSE_RE.search(t) and (blocks[current].kind not in _CONTAINER_KINDS
                                            or _CONTAINER_CLOSE_RE.search(t)):
                    close_at = k
        if close_at >= 0:
            # "Bike is done, now we'll work on balance, ...": a recogniser often joins the close and the next
            # opener with commas; what follows the closing phrase is the next activity's opener.
            closing = texts[close_at]
            ends = [m.end() for m in _CLOSE_RE.finditer(closing)]
            tail = closing[ends[-1]:].lstrip(" ,;:-") if ends else ""
            if tail and _OPENER_RE.search(tail):
                texts = [*texts[:close_at], closing[:ends[-1]], tail, *texts[close_at + 1:]]
            block = blocks[current]
            for t in texts[: close_at + 1]:
                sentences.append(Sentence(i, t, "", current, True))
            block.stop = minute(seg.start_s)
            block.segs.append(i)
            current = -1
            rest = texts[close_at + 1:]
            code, _named = _utterance_code(rest, ctx, rules, full_text)
            if code and any(_DOING_RE.search(t) for t in rest):
                current = open_block(code, i, seg.start_s)
                blocks[current].segs.append(i)
                pending = None
            elif code and any(_OPENER_RE.search(t) for t in rest):
                pending = code
            else:
                pending = None
            for t in rest:
                sentences.append(Sentence(i, t, "", current))
            continue
        code, named = _utterance_code(texts, ctx, rules, full_text)
        opener = any(_OPENER_RE.search(t) for t in texts if not _PLAN_RE.search(t))
        doing = any(_DOING_RE.search(t) for t in texts if not _PLAN_RE.search(t))
        if current < 0:
            start_code = None
            if pending is not None:
                start_code = code if (code and named) else pending
            elif code and (opener or (named and doing) or (doing and opener)):
                start_code = code
            elif code and named and _kind(rules, code) not in _CONTAINER_KINDS and not seg.text.rstrip().endswith("?"):
                start_code = code
            pending = None
            if start_code is not None:
                current = open_block(start_code, i, seg.start_s)
        elif code and code != blocks[current].cpt:
            block = blocks[current]
            container = block.kind in _CONTAINER_KINDS
            same_score = classify.keyword_scores(" ".join(texts), rules, ctx.discipline).get(block.cpt, 0.0)
            switch = (named and (opener or not container)) or (not container and opener and same_score == 0)
            if switch:
                block.stop = minute(seg.start_s)
                current = open_block(code, i, seg.start_s)
        for t in texts:
            sentences.append(Sentence(i, t, "", current))
        if current >= 0:
            blocks[current].segs.append(i)
    if current >= 0:
        last = blocks[current].segs[-1] if blocks[current].segs else len(transcript) - 1
        blocks[current].stop = minute(transcript[last].end_s)
    return _merge_adjacent(Visit(blocks, sentences))


def _merge_adjacent(visit: Visit, gap: int = 2) -> Visit:
    """One block per run of the same code: "bike is done, now heel slides" stays one 97110 block."""
    blocks = visit.blocks
    mapping: dict[int, int] = {}
    merged: list[Block] = []
    for index, block in enumerate(blocks):
        prev = merged[-1] if merged else None
        if (prev is not None and prev.cpt == block.cpt and prev.stop is not None and block.start is not None
                and block.start - prev.stop <= gap):
            prev.stop = block.stop
            prev.segs.extend(block.segs)
            prev.units_stated = max(prev.units_stated, block.units_stated)
            mapping[index] = len(merged) - 1
        else:
            merged.append(block)
            mapping[index] = len(merged) - 1
    for s in visit.sentences:
        if s.block >= 0:
            s.block = mapping[s.block]
    return Visit(merged, visit.sentences)


# ---------------------------------------------------------------- evaluations


def _ensure_evaluation(visit: Visit, transcript: Sequence[pb.TranscriptSegment], ctx: pb.SessionContext,
                       rules: CodingRules) -> None:
    """An evaluation visit bills its evaluation code even when no sentence names it."""
    if ctx.note_type != "evaluation" or any(b.kind == "evaluation" for b in visit.blocks):
        return
    code = classify.evaluation_code("evaluation", statement_text(transcript), ctx.discipline, rules)
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
