"""SOAP note from a transcript: a pure function of the segments and the session context."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from proto import scribe_pb2 as pb
from services.common import spoken
from services.drafter import evidence
from services.drafter.clean import clean_sentence, strip_fillers
from services.drafter.lexicon import SECTIONS, Lexicon, load_lexicon
from services.drafter.roles import PATIENT, THERAPIST, assign_roles
from services.drafter.sections import AMBIGUOUS, care, classify, kind_of, prefetcher, rescue, section_scores
from services.drafter.sentences import RUN_ON_BREAK, Sentence, sentences_of, split_clauses, split_text
from services.drafter.smalltalk import drop_everyday_chatter, strip_small_talk

_PROMPT = re.compile(r"\b(tell me|describe|show me) (about|what|how|where|when)\b[^.?!]*", re.IGNORECASE)
_NUMBER_WORDS = re.compile(rf"\b(\d+|{spoken.words_upto(10)})\b", re.IGNORECASE)
_ROLES = (THERAPIST, PATIENT, "other")
# The next activity announced ("So, let's ..."), not a recap of the results.
_ANNOUNCE = re.compile(
    r"^(let[\u2019']s|we[\u2019']re going|we[\u2019']ll|i[\u2019']m going|i[\u2019']ll|now|next|first|today we)\b",
    re.IGNORECASE)
# A result of a test or measure (not a home dosage such as "2x10" or "30 seconds").
_TEST_RESULT = re.compile(r"(°|\b(degrees?|percent|score)\b|%|\b\d[+-]?/\d+\b)", re.IGNORECASE)
_KIND_RANK = {"measure": 3, "pain": 3, "impression": 2, "goal_link": 2, "hep": 2}
MAX_PROGRESS_LINES = 6
# A header said in an earlier segment decides only for sentences the rules barely place.
CARRY_BELOW = 2.0
# A run-on clause scoring this much for assessment or plan starts a new sentence.
SPLIT_AT = 4.0


@dataclass
class _Item:
    section: str
    kind: str
    seg: int
    role: str
    texts: list[str] = field(default_factory=list)
    segs: set[int] = field(default_factory=set)
    prefix: str = ""

    @property
    def text(self) -> str:
        body = " ".join(self.texts)
        return f"{self.prefix}: {body}" if self.prefix else body


def resolve_roles(
    transcript: Sequence[pb.TranscriptSegment], context: pb.SessionContext, lex: Lexicon
) -> list[str]:
    """Roles already on the segments where set; assigned from content and voice where not."""
    if context.mode == "dictation":
        return [THERAPIST] * len(transcript)
    if all(seg.speaker for seg in transcript):
        return [seg.speaker if seg.speaker in _ROLES else "other" for seg in transcript]
    assigned = assign_roles(transcript, context, lex)
    return [
        (seg.speaker if seg.speaker in _ROLES else "other") if seg.speaker else assigned[i]
        for i, seg in enumerate(transcript)
    ]


def _section_for(sent: Sentence, text: str, carried: str | None, context: pb.SessionContext,
                 lex: Lexicon, reported: bool = False) -> tuple[str | None, str]:
    c = classify(text, sent.role, lex)
    if sent.header is not None and sent.role == THERAPIST and not text.rstrip().endswith("?"):
        return sent.header, kind_of(sent.header, text, lex)
    if reported and sent.role == THERAPIST and c.score < AMBIGUOUS and not text.rstrip().endswith("?"):
        # "Patient reports pain 2/10. She is walking at home with a cane ...": a sentence that rules
        # barely place, right after a report in the same segment, goes on with the report.
        return "subjective", kind_of("subjective", text, lex)
    if c.section is None:
        return None, ""
    if carried and context.mode == "dictation" and c.score < CARRY_BELOW:
        return carried, kind_of(carried, text, lex)
    return c.section, c.kind


def _question_topic(transcript: Sequence[pb.TranscriptSegment], roles: Sequence[str], seg: int,
                    lex: Lexicon) -> tuple[str, int | None]:
    """Body part (or "Pain") the therapist asked about just before a patient's answer."""
    for j in range(seg - 1, max(-1, seg - 3), -1):
        if roles[j] != THERAPIST:
            continue
        text = transcript[j].text
        prompt = _PROMPT.search(text)
        if "?" not in text and not prompt:
            return "", None
        question = prompt.group(0) if prompt else text[: text.rindex("?") + 1].split(". ")[-1]
        m = lex.topic_body.search(question)
        if m:
            return m.group(0)[0].upper() + m.group(0)[1:].lower(), j
        if lex.topic_pain.search(question):
            return "Pain", j
        return "", None
    return "", None


def _trim_preamble(text: str, lex: Lexicon) -> str:
    """Drop the "Dictating the daily note" clauses; keep diagnosis, visit number, post-op week."""
    kept = [c.strip() for c in split_clauses(text) if not lex.is_preamble(c)]
    out = ", ".join(kept).strip(" ,.")
    return out + "." if out else ""


def _run_on_parts(body: str, lex: Lexicon) -> list[str]:
    """A therapist's run-on sentence cut where a clause turns to the assessment or the plan.

    The recogniser often joins sentences with commas ("Your QuickDASH score is 45, that means
    moderate limitation ..."); a clause that scores strongly for assessment or plan, after a part
    that scores for another section, starts a new sentence.
    """
    breaks = list(RUN_ON_BREAK.finditer(body))
    if not breaks:
        return [body]
    parts: list[str] = []
    start = 0
    for k, m in enumerate(breaks):
        end = breaks[k + 1].start() if k + 1 < len(breaks) else len(body)
        tail = section_scores(body[m.end():end], lex)
        best = max(SECTIONS, key=lambda sec: tail[sec])
        if best not in ("assessment", "plan") or tail[best] < SPLIT_AT:
            continue
        if any(tail[sec] >= tail[best] for sec in SECTIONS if sec != best):
            continue
        head = section_scores(body[start:m.start()], lex)
        top = max(SECTIONS, key=lambda sec: head[sec])
        if head[top] < AMBIGUOUS or head[best] >= head[top]:
            continue
        parts.append(body[start:m.start()].rstrip(" ,;") + ".")
        start = m.end()
    parts.append(body[start:])
    return [p[0].upper() + p[1:] for p in parts if p.strip(" .,")]


def _is_recap(text: str, lex: Lexicon) -> bool:
    """ "So, stairs with one rail, 12 minutes on the bike, transfers with a light touch": a summary of results."""
    if not any(p.search(text) for p in lex.recap_opens):
        return False
    rest = text.split(",", 1)[-1].strip()
    if lex.is_task(rest) or lex.is_coaching(rest) or _ANNOUNCE.search(rest):
        return False  # "So, we'll start the rower, ...": the next activity, not a recap
    clauses = [c for c in split_clauses(text)[1:] if lex.has_clinical(c)]  # has_clinical covers measures, activities
    return len(clauses) >= lex.recap_min_clauses - 1 and len(split_clauses(text)) >= lex.recap_min_clauses


def _reasoned_section(text: str, lex: Lexicon, placed: str | None = None) -> tuple[str, str] | None:
    """Assessment or plan for a therapist's sentence that the section cues may outvote.

    A sentence saying what an activity is for ("working the calf is what gets you up a curb") is
    clinical reasoning, and an instruction for the time between visits ("bridges on the bed,
    2x10, every morning") is the plan, even when they name an exercise or carry a count (which alone
    would make them objective). An instruction that opens as one ("At home, ...", "Keep up ...")
    outranks a purpose said in it; a time-of-home word ("tonight", "twice a day") does not. The
    therapist's view of tolerance ("you tire after the second lap") takes a line only from objective
    (or from nowhere), never a report or a plan.
    """
    if text.rstrip().endswith("?"):
        return None
    if any(p.search(text) for p in lex.home_opens):
        return "plan", "hep"
    if lex.is_purpose(text):
        return "assessment", "goal_link"
    if lex.is_home_instruction(text):
        return "plan", "hep"
    if placed in ("objective", None) and lex.is_observation(text):
        return "assessment", "progress"
    if placed in ("objective", None) and _is_recap(text, lex):
        return "assessment", "progress"
    return None


def _heard_as_care(role: str, lex: Lexicon) -> Callable[[str], bool]:
    """Whether the sentence model hears a care report in a clause the everyday-chatter rule would drop."""

    def heard(clause: str) -> bool:
        return care(clause, role, lex).section is not None

    return heard


def _reports_chat(text: str, lex: Lexicon) -> bool:
    """A therapist's line the rules would file as the patient's report, not session work or a plan
    ("Sounds like the grandkids kept you up all night"): judged for everyday chatter like a patient's."""
    if lex.has_measure(text) or lex.has_intervention(text) or lex.is_task(text) or lex.is_coaching(text):
        return False
    return classify(text, THERAPIST, lex).section == "subjective"


def _draft_items(transcript: Sequence[pb.TranscriptSegment], context: pb.SessionContext,
                 roles: Sequence[str], lex: Lexicon) -> list[_Item]:
    items: list[_Item] = []
    carried: str | None = None
    hep = False
    report_seg = -1  # the segment whose last placed sentence was a therapist's subjective report
    for sent in sentences_of(transcript, roles, lex):
        if sent.header is not None and sent.role == THERAPIST:
            carried = sent.header
        dictated = sent.header is not None and sent.role == THERAPIST
        said, chatty = sent.text, False
        if sent.role != THERAPIST or (not dictated and _reports_chat(sent.text, lex)):
            # "I watched six hours of that cooking show": a patient's chatter held in by an everyday word
            said = drop_everyday_chatter(sent.text, lex, _heard_as_care(sent.role, lex))
            chatty = said != sent.text
        text = sent.text if dictated and not lex.is_strong_smalltalk(sent.text) else strip_small_talk(said, lex)
        if not text and not chatty and not lex.is_strong_smalltalk(sent.text) and not lex.is_weak_smalltalk(sent.text):
            body = strip_fillers(sent.text, lex)
            if body and sent.role == THERAPIST and not dictated and lex.is_purpose(body):
                text = body  # "This is how you'll manage the pill box on your own": a purpose, no clinical word
            elif body and rescue(body, sent.role, lex).section is not None:
                text = body  # no clinical word, but a sentence model places it
        topic, qseg = "", None
        rescued = False
        if sent.role == PATIENT:
            topic, qseg = _question_topic(transcript, roles, sent.seg, lex)
            if (not text and not chatty and topic and _NUMBER_WORDS.search(sent.text)
                    and not lex.is_strong_smalltalk(sent.text)):
                text, rescued = sent.text, True  # "About a two." answering "how bad is it today?"
        if text and lex.is_preamble(text):
            text = _trim_preamble(text, lex)
        body = strip_fillers(text, lex) if text else ""
        if not body:
            continue
        # One home instruction is one plan line, even with commas ("Keep the blue band, and do the rows
        # once a day"): the parts of it alone would read as session work.
        # A test result run on before it ("Flexion 110 degrees, keep the slides going every day") is
        # still cut off to stay in objective.
        whole = dictated or rescued or sent.role != THERAPIST or (
            _reasoned_section(body, lex) == ("plan", "hep") and not _TEST_RESULT.search(body))
        parts = [body] if whole else _run_on_parts(body, lex)
        for part in parts:
            if sent.role == THERAPIST and lex.closes_hep(part):
                hep = False
                continue
            if sent.role == THERAPIST and not dictated and lex.opens_hep(part) and not lex.has_measure(part):
                hep = True
                continue
            section: str | None = "subjective"
            kind = "pain"
            if not rescued:
                section, kind = _section_for(sent, part, carried, context, lex, report_seg == sent.seg)
            placed: list[tuple[str, str]] = [(section, kind)] if section is not None else []
            reasoned = _reasoned_section(part, lex, section) if sent.role == THERAPIST and not dictated else None
            if reasoned is not None and reasoned[0] != section:
                # A purpose or an observation said over a measured or named activity keeps the line in
                # objective as well (the data and the reasoning both belong to the note); a home
                # instruction's counts are its dosage, not a measure of this session: plan alone.
                keep = section == "objective" and reasoned[0] == "assessment" and (
                    lex.has_measure(part) or lex.has_intervention(part))
                placed = [*placed, reasoned] if keep else [reasoned]
            if not placed:
                continue
            report_seg = sent.seg if sent.role == THERAPIST and placed[0][0] == "subjective" else -1
            out = clean_sentence(part, sent.role, lex)
            if not out:
                continue
            for section, kind in placed:
                if hep and section == "objective":
                    section, kind = "plan", "hep"
                _add_item(items, section, kind, sent, out, topic, qseg, lex)
    return items


def _add_item(items: list[_Item], section: str, kind: str, sent: Sentence, out: str, topic: str,
              qseg: int | None, lex: Lexicon) -> None:
    """Append a sentence to the last item of its segment and section, or start a new item."""
    last = next((i for i in reversed(items[-2:]) if i.seg == sent.seg and i.section == section), None)
    if last is not None and items[-1].seg == sent.seg:  # no other segment's item in between
        last.texts.append(out)
        if _KIND_RANK.get(kind, 0) > _KIND_RANK.get(last.kind, 0):
            last.kind = kind
        return
    item = _Item(section=section, kind=kind, seg=sent.seg, role=sent.role, texts=[out], segs={sent.seg})
    if sent.role == PATIENT and section == "subjective":
        whole = " ".join(split_clauses(sent.text))
        if topic and qseg is not None and not (
            lex.topic_body.search(whole) or (topic == "Pain" and lex.topic_pain.search(whole))
        ):
            item.prefix = topic
            item.segs.add(qseg)
    items.append(item)


def _derived_assessment(items: list[_Item], lex: Lexicon) -> list[_Item]:
    """Progress against earlier values and the skilled cueing shown, restated for the assessment."""
    out: list[_Item] = []
    progress = [
        i for i in items if i.section == "objective" and lex.has_measure(i.text) and lex.is_progress(i.text)
    ][:MAX_PROGRESS_LINES]
    if progress:
        sentences: list[str] = []
        for i in progress:
            sentences.extend(t for t in i.texts if lex.is_progress(t))
        out.append(_Item("assessment", "progress", progress[0].seg, THERAPIST,
                         ["Progress against prior measures: " + " ".join(sentences)],
                         set().union(*(i.segs for i in progress))))
    has_skill_line = any(i.section == "assessment" and lex.is_skilled(i.text) for i in items)
    if not has_skill_line:
        clauses: list[str] = []
        segs: set[int] = set()
        for i in items:
            if i.section != "objective":
                continue
            for clause in (c for t in i.texts for s in split_text(t) for c in split_clauses(s)):
                c = clause.strip().rstrip(".")
                if lex.is_skilled(c) and c not in clauses:
                    clauses.append(c)
                    segs |= i.segs
        if clauses:
            out.append(_Item("assessment", "skilled_need", min(segs), THERAPIST,
                             ["Skilled cueing required: " + "; ".join(clauses) + "."], segs))
    return out


def draft_note(
    transcript: Sequence[pb.TranscriptSegment],
    context: pb.SessionContext,
    roles: Sequence[str] | None = None,
) -> pb.Note:
    """A SOAP note; every item carries the segments it came from as evidence."""
    lex = load_lexicon()
    transcript = list(transcript)
    roles = list(roles) if roles is not None else resolve_roles(transcript, context, lex)
    prefetch = prefetcher()
    if prefetch is not None:
        with prefetch():  # a dry run: the model records what it will be asked, then embeds it in one batch
            _draft_items(transcript, context, roles, lex)
    items = _draft_items(transcript, context, roles, lex)
    items += _derived_assessment(items, lex)
    note = pb.Note()
    seen: set[tuple[str, str]] = set()
    for section in SECTIONS:
        target = getattr(note, section)
        for item in (i for i in items if i.section == section):
            text = item.text
            if (section, text.lower()) in seen:
                continue
            seen.add((section, text.lower()))
            segs = [transcript[k] for k in sorted(item.segs)]
            target.append(
                pb.NoteItem(
                    text=text,
                    evidence=evidence.spans(transcript, item.segs),
                    needs_review=evidence.needs_review(text, segs, lex.word_probability),
                    kind=item.kind,
                )
            )
    return note
