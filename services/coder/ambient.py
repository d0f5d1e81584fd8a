"""Ambient sessions: where each activity the therapist leads starts and stops, and what it is.

The session is a sequence of therapist sentences. Each carries evidence for the codes (the
intervention catalogue, read by `activity.ActivityModel`) and conversational cues (data/segmentation.toml):
an announcement leads a new activity, a wrap-up ends one, plan and interview talk is not treatment,
counting, dosing and instructions are treatment in progress. A Viterbi pass labels every sentence with
the code of the activity it belongs to, or "none": switching activity costs less where an announcement
or a wrap-up says the therapist moves on, so a block follows what the therapist leads, not where the
first recognised exercise happens to be named. Sentences with no evidence (praise, counting, chat
during an exercise) stay in the activity around them: every stretch of therapist-led treatment belongs
to some block.

Block times follow the therapist: a block starts at the sentence that opens it and stops at its
wrap-up, or where the next activity is announced.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from proto import scribe_pb2 as pb
from services.coder import classify
from services.coder.activity import ActivityModel, Evidence
from services.coder.catalogue import stems
from services.coder.lexicon import PhraseSet
from services.coder.rules import CodingRules
from services.coder.text import parse_clock, split_sentences
from services.coder.visit import THERAPIST_ROLES, Block, Sentence, Visit
from services.common import spoken
from services.common.errors import RulesError

CUES_FILE = Path(__file__).resolve().parent / "data" / "segmentation.toml"

NONE, PRE, EVAL = "none", "pre", "eval"
# Costs (in the units of the evidence logits) of the labelling's moves. SWITCH, SWITCH_ANNOUNCED,
# SWITCH_NAMED, SWITCH_LED and START were fitted on the seen ambient cases by bench/segmenter_fit.py
# (2026-12-07), then kept because the held-out sets scored better or the same with them.
SWITCH = 3.0  # from one activity to another, unannounced
SWITCH_ANNOUNCED = 2.5  # ... at an announcement
SWITCH_NAMED = 4.0  # ... at "Now X" / "Next, the Y" naming only the next item, no kind of activity
SWITCH_LED = 5.0  # ... at a sentence that only opens with "now", "next" ("Now push")
START = 1.25  # from no activity into one
START_ANNOUNCED = 0.5
START_LED = 1.5
END = 3.0  # from an activity to none
END_AFTER_WRAPUP = 0.0
STAY_AFTER_WRAPUP = 1.5
EVAL_EXIT = 4.0  # from the evaluation to treatment
EVAL_EXIT_AFTER_WRAPUP = 0.5  # the same activity going on after the therapist ended it
EVAL_EXIT_ANNOUNCED = 1.5  # treatment announced after the evaluation
EVAL_EXIT_AFTER_GOALS = 1.0  # the plan of care is set: the evaluation is over, what comes next is not it
EVAL_EXIT_UNLED = 1.0  # ... once the therapist leads something (announces, "now ...", moves on)
# Evidence for "none": talk about the plan and goodbyes, the interview before treatment.
PLAN_WEIGHT = 1.5
INTERVIEW_WEIGHT = 0.8
DOING_WEIGHT = 1.0  # treatment in progress argues against "none"
BEFORE_GOALS_SCALE = 1.0  # an evaluation's treatment evidence before the therapist sets the goals (PT, OT:
# their tests are measures and questions, and goals said only at the end must not halve the treatment)
EVAL_BASE = 0.6  # in an evaluation visit, a sentence with no treatment evidence is part of the evaluation
# ... but a sentence doing treatment (an instruction, sets, the therapist's hands) is the evaluation's
# only when little else is said: tests are instructions too, so it keeps a little; measuring is the
# evaluation's own work.
EVAL_DOING = 0.2
# A speech-language examination is itself a run of tasks (naming, repeating, following commands, trial
# sips): there an instruction is the evaluation's as much as any other sentence.
EVAL_DOING_BY_DISCIPLINE = {"SLP": EVAL_BASE}
# ... and before the goals are set its tasks' evidence for treatment codes counts this much there.
BEFORE_GOALS_SCALE_BY_DISCIPLINE = {"SLP": 0.5}
EVAL_MEASURE = 0.6
TEST_REACH = 3  # an instruction is a test when a measurement is read off within this many sentences
# The therapist's hands doing the work, the patient passive, is manual therapy whatever it is called.
MANUAL_CODE = "97140"
HANDS_ON_WEIGHT = 2.0
# A category named in an announcement ("some balance now") counts as much as an intervention's name.
CATEGORY_WEIGHT = 3.0
# Sets and repetitions dosed ("3x10", "15 reps") or counted aloud are the mark of therapeutic exercise:
# a dosed sentence counts this much for 97110 (functional and balance work is rarely dosed in sets).
DOSE_CODE = "97110"
DOSE_WEIGHT = 1.0
_DOSE = re.compile(r"\b\d+\s*x\s*\d+\b|\bsets? of \d+\b|\b\d+\s+(?:reps|repetitions)\b", re.IGNORECASE)
# Repetitions counted aloud ("eight, nine, ten", "13, 14, 15"): three numbers in a row.
_NUMBER = rf"(?:\d+|{spoken.words_upto(20, zero=False)})"
_COUNTED = re.compile(rf"\b{_NUMBER}\W+{_NUMBER}\W+{_NUMBER}\b", re.IGNORECASE)
# The sentence model reads each sentence with this many therapist sentences on either side.
CONTEXT_LINES = 2
# A plan or a measurement names activities without doing them: its evidence counts this much.
TALKED_ABOUT = 0.25
GOAL_LIST_REACH = 6  # sentences after "the goals are ..." that may list them
# A labelled stretch with less evidence than this in all is not an activity of its own.
MIN_RUN_EVIDENCE = 6.0
MIN_ANNOUNCED_RUN_EVIDENCE = 2.0  # ... unless the therapist announced it
MIN_LED_LINES = 3  # ... or led it: this many instructions, sets or hands-on sentences after no activity
MIN_RUN_LINES = 5  # ... or is this many sentences long, two or more pointing to its own code (by this margin)
POINTING_MARGIN = 0.5
ANNOUNCE_REACH = 3  # sentences into an activity begun from none where its announcement may still come
NO_LEANING = 0.05  # a sentence pointing to one code over another by less says nothing of where an edge is
# The most evidence one sentence gives a code: a sentence naming three exercises is one sentence.
MAX_SENTENCE_EVIDENCE = 6.0
# Sentences addressed to several people that make a session a class even with no group named.
GROUP_ADDRESSES = 5
# Two stretches of one code with this little "none" between them are one block.
MERGE_GAP_MIN = 2
# A block that ends with no wrap-up stops at the next off-task sentence when it comes this soon.
STOP_REACH_S = 90.0


@dataclass(frozen=True)
class Cues:
    announce: PhraseSet
    lead: PhraseSet
    continue_after_lead: PhraseSet
    wrap_strong: PhraseSet
    wrap_weak: PhraseSet
    plan: PhraseSet
    session_end: PhraseSet
    preview: PhraseSet
    measure: PhraseSet
    purpose: PhraseSet
    interview: PhraseSet
    counting: PhraseSet
    positions: PhraseSet
    imperatives: frozenset[str]
    not_verbs: frozenset[str]
    openers: PhraseSet
    determiners: PhraseSet
    transit: PhraseSet
    hands_on: PhraseSet
    plan_of_care: PhraseSet
    categories: dict[str, PhraseSet]
    group: PhraseSet


def _list(data: dict[str, object], table: str, key: str) -> list[str]:
    section = data.get(table)
    value = section.get(key) if isinstance(section, dict) else None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RulesError(f"{CUES_FILE} [{table}] {key} must be a list of strings")
    return value


@functools.lru_cache(maxsize=1)
def load_cues(path: Path = CUES_FILE) -> Cues:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesError(f"cannot read the segmentation cues {path}: {exc}") from None
    return Cues(
        announce=PhraseSet.of(_list(data, "announce", "strong")),
        lead=PhraseSet.of(_list(data, "announce", "lead")),
        continue_after_lead=PhraseSet.of(_list(data, "announce", "continue_after_lead")),
        wrap_strong=PhraseSet.of(_list(data, "wrapup", "strong")),
        wrap_weak=PhraseSet.of(_list(data, "wrapup", "weak")),
        plan=PhraseSet.of(_list(data, "plan", "phrases")),
        session_end=PhraseSet.of(_list(data, "session_end", "phrases")),
        preview=PhraseSet.of(_list(data, "preview", "phrases")),
        measure=PhraseSet.of(_list(data, "measure", "phrases")),
        purpose=PhraseSet.of(_list(data, "purpose", "phrases")),
        interview=PhraseSet.of(_list(data, "interview", "phrases")),
        counting=PhraseSet.of(_list(data, "doing", "counting")),
        positions=PhraseSet.of(_list(data, "doing", "positions")),
        imperatives=frozenset(_list(data, "doing", "imperatives")),
        not_verbs=frozenset(_list(data, "doing", "not_verbs")),
        openers=PhraseSet.of(_list(data, "doing", "openers")),
        determiners=PhraseSet.of(_list(data, "announce", "determiners")),
        transit=PhraseSet.of(_list(data, "announce", "transit")),
        hands_on=PhraseSet.of([*_list(data, "hands_on", "agent"), *_list(data, "hands_on", "passive")]),
        plan_of_care=PhraseSet.of(_list(data, "plan_of_care", "phrases")),
        categories={code: PhraseSet.of(_list(data, "categories", code))
                    for code in (data.get("categories") or {})},
        group=PhraseSet.of(_list(data, "group", "address")),
    )


@dataclass
class Line:
    """One therapist sentence on the session clock, with what it says about the activities."""

    seg: int
    text: str
    t: float  # start of its utterance, seconds
    end_t: float
    first_in_seg: bool
    evidence: Evidence = field(default_factory=Evidence)
    announce: bool = False
    transit: bool = False  # moving to where the next activity happens, without naming it
    led: bool = False  # opens with "now", "next", ...: a new activity if it names one, else the same going on
    named_only: bool = False  # led, naming only an item ("Next, the cutting board"): perhaps the same activity
    wrapup: bool = False
    settle: bool = False  # praise or sitting down: may end an activity, does not have to
    plan: bool = False
    session_end: bool = False
    preview: bool = False
    question: bool = False
    measure: bool = False
    purpose: bool = False
    interview: bool = False
    doing: bool = False
    hands_on: bool = False
    group: bool = False
    dosed: bool = False  # sets and repetitions given ("3x10"): therapeutic exercise
    tested: bool = False  # an instruction whose result is read off next ("Push against me." "4-/5."): a test
    after_goals: bool = False  # said after the therapist set the goals
    before_goals: bool = False  # said before the therapist set them (when they are set at all)
    goal_listed: bool = False  # one of the goals being listed after the therapist starts setting them


_WORD = re.compile(r"[a-z']+")
# A result read off: a score ("31/80", "4-/5") or a number with a unit of time, distance or angle. Said
# with no instruction ("4 seconds.", "54 centimeters") it is a measurement; with one ("hold 30
# seconds") it is the dose.
# "That's the strength for ...", "This is what lets you ...": what the work is for, said about it.
_PURPOSE_STATEMENT = re.compile(r"^(?:that's|that is|this is|it's|those are|these are)\b.*\b(?:for|you need|lets you|"
                                r"helps you|gets you)\b")
READING_WORDS = 8  # a reading is said short ("4 seconds, good"), or as a statement ("... is 54 centimeters")
_SCORE = re.compile(r"\b\d+[+-]?\s*/\s*\d+\b")
_READING = re.compile(r"\b\d+(?:\.\d+)?\s*(?:seconds?|secs?|centimet(?:er|re)s?|cm|millimet(?:er|re)s?|mm|"
                      r"inch(?:es)?|feet|met(?:er|re)s?|degrees?|percent|%)(?!\w)", re.IGNORECASE)
_STATEMENT = re.compile(r"\b(?:is|are|was|were|isn't|aren't|wasn't|weren't)\b")
_PRAISE = re.compile(r"\s*(?:very |really |that's a |that was a |what a )?(?:nice|good|great|perfect|excellent|"
                     r"awesome|beautiful|lovely|better)\s+(?!job\b|work\b)[a-z]+", re.IGNORECASE)


def _strip_openers(text: str, cues: Cues) -> str:
    rest = text.strip().lower()
    for _ in range(4):
        m = cues.openers.regex.match(rest) if cues.openers.regex is not None else None
        if not m:
            break
        rest = rest[m.end():].lstrip(" ,.;:-!")
    return rest


def _names_at_head(head: str, cues: Cues, model: ActivityModel) -> bool:
    """An activity named first in a sentence ("Wall squats, back flat", "The cones now") introduces it."""
    rest = head
    if _STATEMENT.search(" ".join(rest.split()[:8])):  # "Turning with a cup is what you do at home": about it
        return False
    m = cues.determiners.regex.match(rest) if cues.determiners.regex is not None else None
    if m:
        rest = rest[m.end():].lstrip()
    if any(names.regex is not None and names.regex.match(rest) for names in cues.categories.values()):
        return True
    words = stems(rest)
    return any(h.start == 0 and h.kind == "name" for h in model.catalogue.index.find(words[:6]))


def read_cues(text: str, cues: Cues, verbs: frozenset[str], model: ActivityModel | None = None) -> dict[str, bool]:
    """The conversational cues of one sentence."""
    low = text.lower()
    question = low.rstrip().endswith("?")
    head = _strip_openers(text, cues)
    lead = cues.lead.regex.match(head) if cues.lead.regex is not None else None
    if lead is None and cues.lead.regex is not None:
        lead = cues.lead.regex.match(low.strip())
        head_of_lead = low.strip()
    else:
        head_of_lead = head
    plan = cues.plan.found(text)
    # "we'll meet twice a week", "let's go over your home program": talk about later, not an activity begun
    announce = cues.announce.found(text) and not question and not plan
    led = False
    if lead and not announce:
        after = head_of_lead[lead.end():].lstrip(" ,")
        led = bool(after) and not (cues.continue_after_lead.regex is not None
                                   and cues.continue_after_lead.regex.match(after))
    first = _WORD.match(head)
    instructs = first is not None and (first.group(0) in cues.imperatives or first.group(0) in verbs)
    reads_off = len(low.split()) <= READING_WORDS or _STATEMENT.search(low) is not None  # not a dose
    measure = cues.measure.found(text) or bool(_SCORE.search(text)) or (
        not instructs and not question and reads_off and bool(_READING.search(text)))
    wrapup = cues.wrap_strong.found(text)
    settle = cues.wrap_weak.found(text)
    praise = _PRAISE.match(low) is not None  # "Nice turn", "Good step": about what was just done
    if not announce and not question and not measure and not wrapup and not praise and model is not None:
        announce = _names_at_head(head, cues, model)
    imperative = not praise and instructs
    doing = (imperative or cues.counting.found(text) or cues.positions.found(text)) and not measure
    return {
        "announce": announce,
        "led": led and not announce,
        "transit": cues.transit.found(text) and not any(c.found(text) for c in cues.categories.values()),
        "wrapup": wrapup,
        "settle": settle,
        "plan": plan,
        "session_end": cues.session_end.found(text) and (wrapup or settle or plan),
        "preview": cues.preview.found(text),
        "question": question,
        "measure": measure,
        "purpose": cues.purpose.found(text) or _PURPOSE_STATEMENT.match(head) is not None,
        "interview": cues.interview.found(text) or (question and not doing),
        "doing": doing and not question,
        "hands_on": cues.hands_on.found(text),
        "group": cues.group.found(text),
    }


_NEXT_CLAUSE = re.compile(r"[,;]\s+(?=(?:and\s+)?(?:now|next|then|so now|okay|ok|alright|let's|let us|we'll|we will|"
                          r"we're going to|we are going to|time for|time to)\b)", re.IGNORECASE)


def _clauses(sentences: Sequence[str], cues: Cues) -> list[str]:
    """A spoken sentence that ends one activity and opens the next ("The bike is done, now we'll work on
    balance") is two lines: the close belongs to the one, the opening to the other."""
    out: list[str] = []
    for sentence in sentences:
        parts = _NEXT_CLAUSE.split(sentence)
        head = parts[0]
        for part in parts[1:]:
            if cues.wrap_strong.found(head) and not cues.announce.found(head):
                out.append(head)
                head = part
            else:
                head = f"{head}, {part}"
        out.append(head)
    return out


def session_lines(transcript: Sequence[pb.TranscriptSegment], model: ActivityModel, discipline: str,
                  cues: Cues) -> list[Line]:
    verbs = _catalogue_verbs(model) - cues.not_verbs
    lines: list[Line] = []
    for i, seg in enumerate(transcript):
        if seg.speaker not in THERAPIST_ROLES:
            continue
        for k, text in enumerate(_clauses(split_sentences(seg.text) or [seg.text], cues)):
            line = Line(i, text, seg.start_s, seg.end_s, k == 0)
            for name, value in read_cues(text, cues, verbs, model).items():
                setattr(line, name, value)
            lines.append(line)
    setting_goals = [i for i, ln in enumerate(lines) if cues.plan_of_care.found(ln.text) and not ln.question]
    goals_at = setting_goals[0] if setting_goals else None
    if goals_at is not None:
        for ln in lines[goals_at + 1:]:
            ln.after_goals = True
        for ln in lines[:goals_at]:
            ln.before_goals = True
    # The goals being set ("here's what I want us working toward: one, walking to the store ...") name
    # functions, not activities being done: the sentences that list them, up to the next thing the
    # therapist leads, are talk about the plan.
    for i in setting_goals:
        for nxt in lines[i + 1:i + 1 + GOAL_LIST_REACH]:
            # (a dose is the treatment begun: goals are not given in sets and repetitions)
            if nxt.announce or nxt.led or nxt.wrapup or nxt.hands_on or nxt.question or _DOSE.search(nxt.text):
                break
            nxt.goal_listed = True
    # "Step over to the corner" moves to the next place: its words ("step over") are not the activity.
    for i, ln in enumerate(lines):
        # the therapist's hands starting work is a new activity begun, however it is worded
        if ln.hands_on and not ln.announce and (i == 0 or not lines[i - 1].hands_on):
            ln.led = True
        ahead = lines[i + 1:i + 1 + TEST_REACH]
        ln.tested = ln.doing and any(nxt.measure and not nxt.dosed for nxt in ahead)
    texts = [_without(cues.transit, ln.text) if ln.transit else ln.text for ln in lines]
    windows = [" ".join(texts[a:b]) for a, b in _windows(lines)]
    allowed = set(model.allowed_codes(discipline))
    for line, ev in zip(lines, model.evidence(texts, discipline, windows), strict=True):
        named = [code for code, names in cues.categories.items() if code in allowed and names.found(line.text)]
        if line.led and (ev.hits or named):  # "Now the cones", "Next is balance": moving on to something named
            line.announce, line.led, line.named_only = True, False, not named
        if line.plan or line.measure or line.purpose or line.preview or line.question or line.goal_listed:
            ev = ev.scaled(TALKED_ABOUT)  # "keep doing the bridges at home": named, not being done
        elif (line.wrapup or line.settle) and not line.announce:
            ev = ev.scaled(TALKED_ABOUT)  # "you can hop off now": says it ends, not what it was
        # "we're going to do some balance" names what follows; "that's it for balance" what it closes.
        if line.announce or line.wrapup:
            for code in named:
                ev.phrase[code] = ev.phrase.get(code, 0.0) + CATEGORY_WEIGHT
        dose = _DOSE.search(line.text) or _COUNTED.search(line.text)
        line.dosed = DOSE_CODE in allowed and bool(dose) and not (line.plan or line.measure)
        if line.hands_on and MANUAL_CODE in allowed:
            ev.phrase[MANUAL_CODE] = ev.phrase.get(MANUAL_CODE, 0.0) + HANDS_ON_WEIGHT
        line.evidence = ev
    return lines


def _without(phrases: PhraseSet, text: str) -> str:
    return phrases.regex.sub(" ", text) if phrases.regex is not None else text


@functools.lru_cache(maxsize=4)
def _catalogue_verbs(model: ActivityModel) -> frozenset[str]:
    """The first word of every catalogue verb: an imperative that starts treatment ("Squeeze ...")."""
    out = set()
    for e in model.catalogue.interventions:
        for v in e.verbs:
            words = v.lower().split()
            if words:
                out.add(words[0])
    return frozenset(out)


def _windows(lines: Sequence[Line]) -> list[tuple[int, int]]:
    """For each sentence, the sentences the sentence model reads with it: up to CONTEXT_LINES on
    either side, never across an announcement (the sentences before it belong to another activity)."""
    out = []
    for i in range(len(lines)):
        a = i
        while a > 0 and i - a < CONTEXT_LINES and not lines[a].announce:
            a -= 1
        b = i + 1
        while b < len(lines) and b - i <= CONTEXT_LINES and not lines[b].announce:
            b += 1
        out.append((a, b))
    return out


# ---------------------------------------------------------------- labelling


def _dose(line: Line, code: str) -> float:
    """What a dosed sentence adds for `code` (kept apart from the catalogue evidence: an evaluation's
    scaling of treatment evidence does not apply to it)."""
    return DOSE_WEIGHT if line.dosed and code == DOSE_CODE else 0.0


def _emissions(line: Line, states: Sequence[str], codes: Sequence[str], evaluation: bool = False,
               eval_doing: float = EVAL_DOING, before_goals_scale: float = BEFORE_GOALS_SCALE) -> list[float]:
    logits = line.evidence.logits(codes)
    if evaluation and line.before_goals:  # an evaluation's tests look like treatment until the goals are set
        logits = {c: v * before_goals_scale for c, v in logits.items()}
    if line.dosed:  # ... but a test is not dosed in sets: this is treatment wherever the goals are set
        logits[DOSE_CODE] = logits.get(DOSE_CODE, 0.0) + _dose(line, DOSE_CODE)
    out = []
    for s in states:
        if s in (NONE, PRE):
            score = (PLAN_WEIGHT if line.plan else 0.0) + (INTERVIEW_WEIGHT if line.interview else 0.0)
            out.append(score - (DOING_WEIGHT if line.doing else 0.0))
        elif s == EVAL:
            # Setting the goals closes an evaluation (the plan of care is its last part): after them a
            # sentence is no longer the evaluation's by default.
            if line.after_goals:
                # ... but the plan of care being set (goals listed, visits a week) is still the evaluation's
                base = EVAL_BASE if line.goal_listed else 0.0
            elif line.measure:
                base = EVAL_BASE + EVAL_MEASURE
            else:
                treating = (line.doing or line.dosed or line.hands_on) and not line.tested
                base = eval_doing if treating else EVAL_BASE
            out.append(base + (INTERVIEW_WEIGHT if line.interview else 0.0))
        else:
            out.append(min(logits.get(s, 0.0), MAX_SENTENCE_EVIDENCE))
    return out


def _move_cost(prev: str, state: str, line: Line, before: Line | None, ended: bool = False) -> float:
    """Cost of moving from `prev` (the state of `before`) to `state` at `line`; inf if not allowed.
    `ended`: the therapist has ended the session before `line`: only "none" follows."""
    if ended and state not in (NONE, PRE):
        return float("inf")
    wrapped = before is not None and (before.wrapup or before.session_end)
    if prev == state:
        return STAY_AFTER_WRAPUP if wrapped and state not in (NONE, PRE, EVAL) else 0.0
    if state == PRE or (state == EVAL and prev != PRE):
        return float("inf")  # the pre-evaluation talk and the evaluation come first, once
    if state == NONE:
        return END_AFTER_WRAPUP if wrapped else END
    if state == EVAL:  # from the greeting: an evaluation visit's evaluation comes first, whatever is said
        return 0.0
    if prev in (NONE, PRE):
        return START_ANNOUNCED if (line.announce or wrapped) else START_LED if line.led else START
    if prev == EVAL:  # an evaluation tests function too: it ends when the therapist ends it
        if wrapped:
            return EVAL_EXIT_AFTER_WRAPUP
        if line.after_goals:  # the evaluation goes on until the therapist starts the treatment
            led = line.announce or line.led or line.transit
            return EVAL_EXIT_AFTER_GOALS if led else EVAL_EXIT_AFTER_GOALS + EVAL_EXIT_UNLED
        return EVAL_EXIT_ANNOUNCED if line.announce else EVAL_EXIT
    if wrapped:  # the last activity is over: the next one starts as from no activity
        return START_ANNOUNCED if line.announce else START_LED if line.led else START
    if line.announce:
        return SWITCH_NAMED if line.named_only else SWITCH_ANNOUNCED
    return SWITCH_LED if line.led else SWITCH


def label(lines: Sequence[Line], codes: Sequence[str], evaluation: bool, discipline: str = "") -> list[str]:
    """The most likely state of each sentence: Viterbi over the sentences' emissions minus the cost of
    each move (cheap where the therapist announces or wraps up, dear elsewhere)."""
    if not lines:
        return []
    eval_doing = EVAL_DOING_BY_DISCIPLINE.get(discipline, EVAL_DOING)
    before_goals_scale = BEFORE_GOALS_SCALE_BY_DISCIPLINE.get(discipline, BEFORE_GOALS_SCALE)
    states = [PRE, EVAL, NONE, *codes] if evaluation else [NONE, *codes]
    start = PRE if evaluation else NONE
    score = [(0.0 if s == start else -_move_cost(start, s, lines[0], None)) + e
             for s, e in zip(states, _emissions(lines[0], states, codes, evaluation, eval_doing, before_goals_scale),
                                             strict=True)]
    back: list[list[int]] = []
    ended = False
    for line, before in zip(lines[1:], lines, strict=False):
        ended = ended or before.session_end
        emit = _emissions(line, states, codes, evaluation, eval_doing, before_goals_scale)
        new_score, pointers = [], []
        for s in states:
            moves = [score[k] - _move_cost(p, s, line, before, ended) for k, p in enumerate(states)]
            best_k = max(range(len(states)), key=moves.__getitem__)
            new_score.append(moves[best_k])
            pointers.append(best_k)
        score = [v + e for v, e in zip(new_score, emit, strict=True)]
        back.append(pointers)
    j = max(range(len(states)), key=score.__getitem__)
    path = [j]
    for pointers in reversed(back):
        j = pointers[j]
        path.append(j)
    return [states[k] for k in reversed(path)]


# ---------------------------------------------------------------- blocks


@dataclass
class Run:
    state: str
    lines: list[Line]


def _runs(lines: Sequence[Line], labels: Sequence[str]) -> list[Run]:
    runs: list[Run] = []
    for line, state in zip(lines, labels, strict=True):
        if runs and runs[-1].state == state:
            runs[-1].lines.append(line)
        else:
            runs.append(Run(state, [line]))
    return runs


# The same exercise going on: another set of it, or repetitions counted aloud ("second set", "8, 9, 10").
_NEXT_SET = re.compile(r"\b(?:first|second|third|fourth|next|last|final|another|one more)\s+(?:set|round)\b",
                       re.IGNORECASE)


def _goes_on(line: Line) -> bool:
    """Another set or repetitions counted: says the exercise under way goes on, not which one it is."""
    counted = bool(_COUNTED.search(line.text)) and len(_WORD.findall(line.text)) <= 6
    return counted or bool(_NEXT_SET.search(line.text))


def _evidence_for(line: Line, code: str) -> float:
    """What one sentence says for `code`: the catalogue's evidence and its dose."""
    return line.evidence.logits([code])[code] + _dose(line, code)


def _run_evidence(run: Run, code: str) -> float:
    return sum(min(_evidence_for(ln, code), MAX_SENTENCE_EVIDENCE) for ln in run.lines)


def _absorb_weak_runs(runs: list[Run]) -> list[Run]:
    """A stretch labelled with a code on too little evidence (a stray word) joins what it interrupts,
    and an evaluation's tests labelled as treatment go back to the evaluation (see `_is_test`)."""
    out: list[Run] = []
    for run in runs:
        if run.state not in (NONE, PRE, EVAL):
            previous = out[-1] if out else None
            before = previous.state if previous is not None else NONE
            if before == EVAL and _is_test(run):
                run = Run(EVAL, run.lines)
            elif not _stands_alone(run, previous):
                run = Run(before, run.lines)
        if out and out[-1].state == run.state:
            out[-1].lines.extend(run.lines)
        else:
            out.append(run)
    return out


def _stands_alone(run: Run, previous: Run | None) -> bool:
    """Whether a treatment stretch is an activity of its own rather than a stray word in what it interrupts.

    Weak evidence over a long stretch is not a stray word: treatment the therapist leads after no
    activity, or a long stretch whose sentences point to its own code rather than the one before, is an
    activity of its own however unsure its code (dropping it would take its minutes out of the claim,
    or give them to the wrong code)."""
    total = _run_evidence(run, run.state)
    before = previous.state if previous is not None else NONE
    # opened by an announcement, a wrap-up of the one before, or the evaluation's plan of care
    announced = run.lines[0].announce or (previous is not None and (previous.lines[-1].wrapup or (
        before == EVAL and run.lines[0].after_goals)))
    # nothing done in it (no instruction, sets or hands-on work): an activity named, not led
    led = sum(1 for ln in run.lines if ln.doing or ln.dosed or ln.hands_on)
    # (an announced stretch as long as an activity is one, even when no instruction is recognised)
    if not led and not (announced and len(run.lines) >= MIN_RUN_LINES):
        return False
    if total >= (MIN_ANNOUNCED_RUN_EVIDENCE if announced else MIN_RUN_EVIDENCE):
        return True
    if before in (NONE, PRE):
        return led >= MIN_LED_LINES
    # more than one of its sentences points to its own code rather than the one before (one strong
    # sentence is a stray word; "second set" and counting go on with whatever exercise is under way,
    # and plan talk names what is not being done), and in all they point there clearly
    pointing = sum(1 for ln in run.lines if not (ln.plan or _goes_on(ln))
                   and _margin(ln, run.state, before) >= POINTING_MARGIN)
    return before != EVAL and len(run.lines) >= MIN_RUN_LINES and pointing >= 2 and \
        total - _run_evidence(run, before) >= MIN_ANNOUNCED_RUN_EVIDENCE


def _is_test(run: Run) -> bool:
    """A stretch of an evaluation before the goals are set, where results are read off and nothing is
    dosed: the evaluation's tests (a pegboard timed, a walk measured), however much they look like
    treatment. The goals come at the end of an evaluation; treatment after them."""
    return (all(ln.before_goals for ln in run.lines) and any(ln.measure for ln in run.lines)
            and not any(ln.dosed for ln in run.lines))


def _margin(line: Line, code: str, other: str) -> float:
    return _evidence_for(line, code) - _evidence_for(line, other)


def _move_edges_to_cues(runs: list[Run]) -> list[Run]:
    """Where one activity follows another, put the edge at the therapist's cue.

    Between the last sentence that points to the first activity and the first that points to the next,
    the labelling may cut anywhere: sentences with no evidence cost the same on either side, and a switch
    at "Now ..." costs more than one at a plain sentence (SWITCH_LED, since "Now push" mostly goes on with
    the same activity), so the cut tends to land just before the therapist moves on. An edge at no cue
    goes to the last sentence there led with "now", "next" or a move to another place; with none it stays.
    (Announcements there were tried too and moved held-out edges the wrong way: an activity named ahead,
    "after this we'll do the stairs", is said while the one before goes on.)"""
    for a, b in zip(runs, runs[1:], strict=False):
        if a.state in (NONE, PRE) and b.state not in (NONE, PRE, EVAL):
            _start_at_announcement(a, b)
            continue
        if a.state in (NONE, PRE, EVAL) or b.state in (NONE, PRE, EVAL) or a.state == b.state:
            continue
        joined = a.lines + b.lines
        cut = len(a.lines)
        here = joined[cut]
        if here.announce or here.led or here.transit or joined[cut - 1].wrapup:
            continue  # already at a cue
        first = cut
        while first > 0 and _margin(joined[first - 1], a.state, b.state) <= NO_LEANING:
            first -= 1
        last = cut
        while last < len(joined) - 1 and _margin(joined[last], b.state, a.state) <= NO_LEANING:
            last += 1
        window = range(max(first, 1), last + 1)
        led = [i for i in window if joined[i].led or joined[i].transit]
        if led and led[-1] != cut:
            a.lines, b.lines = joined[:led[-1]], joined[led[-1]:]
    return [r for r in runs if r.lines]


def _start_at_announcement(idle: Run, activity: Run) -> None:
    """An activity begun from no activity starts at the therapist's announcement, not at a reading or a
    word of it said just before ("Knee bend is 100 degrees." "Today we'll begin with joint mobilisation.")."""
    ahead = activity.lines[:ANNOUNCE_REACH + 1]
    at = next((i for i, ln in enumerate(ahead) if ln.announce), None)
    if not at:
        return
    if sum(_evidence_for(ln, activity.state) for ln in ahead[:at]) < MIN_ANNOUNCED_RUN_EVIDENCE:
        idle.lines.extend(activity.lines[:at])
        del activity.lines[:at]


def _start_t(run: Run, previous: Run | None) -> float:
    """The opening sentence's time; but when the previous activity's wrap-up shares an utterance with
    only a move to the next place ("Done with those. Cane in hand, out to the corridor."), the
    activity itself starts with the next utterance."""
    first = run.lines[0]
    if previous is not None and previous.lines[-1].seg == first.seg and previous.lines[-1].wrapup:
        here = [ln for ln in run.lines if ln.seg == first.seg]
        later = [ln for ln in run.lines if ln.seg != first.seg]
        if later and all(ln.transit for ln in here):
            return later[0].t
    return first.t


def _stop_t(run: Run, following: Run | None, following_start: float | None) -> float:
    last = run.lines[-1]
    if any(ln.wrapup or ln.session_end for ln in run.lines[-2:]):
        return max(ln.t for ln in run.lines[-2:] if ln.wrapup or ln.session_end)
    if following is not None and following.state not in (NONE, PRE) and following_start is not None:
        return following_start
    if following is not None:
        first = following.lines[0]
        if first.wrapup or first.settle or first.t - last.end_t <= STOP_REACH_S:
            return first.t  # the therapist's closing words, or the talk that follows at once
    return last.end_t


def ambient_visit(transcript: Sequence[pb.TranscriptSegment], ctx: pb.SessionContext, rules: CodingRules,
                  model: ActivityModel, evaluation_code: str | None) -> Visit:
    """Blocks and sentences of an ambient session (see the module docstring)."""
    lines = session_lines(transcript, model, ctx.discipline, load_cues())
    return visit_from_lines(transcript, lines, ctx, rules, model, evaluation_code)


def visit_from_lines(transcript: Sequence[pb.TranscriptSegment], lines: Sequence[Line], ctx: pb.SessionContext,
                     rules: CodingRules, model: ActivityModel, evaluation_code: str | None) -> Visit:
    anchor = parse_clock(ctx.session_start) or 0
    codes = [c for c in model.allowed_codes(ctx.discipline) if rules.code(c).kind == "treatment"]
    labels = label(lines, codes, evaluation_code is not None, ctx.discipline)
    runs = _move_edges_to_cues(_absorb_weak_runs(_runs(lines, labels)))
    group = _is_group(lines, model, ctx, rules)

    def minute(t: float) -> int:
        return anchor + int(t // 60)

    blocks: list[Block] = []
    line_block: dict[int, int] = {}  # id(line) -> block index
    starts = [(_start_t(r, runs[n - 1] if n else None)) for n, r in enumerate(runs)]
    for n, run in enumerate(runs):
        if run.state in (NONE, PRE):
            continue
        following = runs[n + 1] if n + 1 < len(runs) else None
        start_t = starts[n]
        stop_t = _stop_t(run, following, starts[n + 1] if following is not None else None)
        if run.state == EVAL:
            assert evaluation_code is not None
            block = Block(evaluation_code, kind=rules.code(evaluation_code).kind)
        else:
            total = Evidence()
            for ln in run.lines:
                total.add(ln.evidence)
                total.phrase[DOSE_CODE] = total.phrase.get(DOSE_CODE, 0.0) + _dose(ln, DOSE_CODE)
            guess = model.decide(total, ctx.discipline, codes)
            cpt = guess.cpt if guess is not None else run.state
            block = Block(cpt, kind="treatment")
            if guess is not None:
                block.confidence, block.runner_up, block.why = guess.confidence, guess.runner_up, guess.why
                block.needs_review = guess.needs_review
        block.start, block.stop = minute(start_t), minute(stop_t)
        block.segs = sorted({ln.seg for ln in run.lines})
        blocks.append(block)
        for ln in run.lines:
            line_block[id(ln)] = len(blocks) - 1
    if group:
        blocks, line_block = _as_group(blocks, line_block, rules)
    sentences = _sentences(transcript, lines, line_block)
    return _drop_empty(_merge_same_code(Visit(blocks, sentences)))


def _drop_empty(visit: Visit) -> Visit:
    """A treatment block that starts and stops in the same minute is a stray sentence, not a service."""
    keep = [i for i, b in enumerate(visit.blocks) if b.kind != "treatment" or b.minutes > 0]
    if len(keep) == len(visit.blocks):
        return visit
    mapping = {old: new for new, old in enumerate(keep)}
    for s in visit.sentences:
        s.block = mapping.get(s.block, -1)
    return Visit([visit.blocks[i] for i in keep], visit.sentences)


def _sentences(transcript: Sequence[pb.TranscriptSegment], lines: Sequence[Line],
               line_block: dict[int, int]) -> list[Sentence]:
    """Every sentence with its block: a therapist's its own, anyone else's the block being led then."""
    by_seg: dict[int, list[Line]] = {}
    for ln in lines:
        by_seg.setdefault(ln.seg, []).append(ln)
    out: list[Sentence] = []
    current = -1
    for i, seg in enumerate(transcript):
        if seg.speaker in THERAPIST_ROLES:
            for ln in by_seg.get(i, []):
                current = line_block.get(id(ln), -1)
                out.append(Sentence(i, ln.text, "", current, ln.wrapup, seg.speaker))
        else:
            out.append(Sentence(i, seg.text, "", current, False, seg.speaker))
    return out


def _is_group(lines: Sequence[Line], model: ActivityModel, ctx: pb.SessionContext, rules: CodingRules) -> bool:
    """A class: the therapist addresses several people, or names the group."""
    if "97150" not in rules.codes or not classify.allowed(rules, "97150", ctx.discipline):
        return False
    addressed = sum(1 for ln in lines if ln.group)
    named = sum(1 for ln in lines if ln.evidence.phrase.get("97150", 0.0) >= 3.0)
    # "everybody" slips into one-on-one talk ("that's hard for everybody"): a class shows in both
    # ways, or in addressing the room again and again.
    return (named >= 1 and addressed >= 2) or addressed >= GROUP_ADDRESSES


def _as_group(blocks: list[Block], line_block: dict[int, int], rules: CodingRules
              ) -> tuple[list[Block], dict[int, int]]:
    """A group session bills the class once (97150), from its first activity to its end."""
    treatment = [b for b in blocks if b.kind == "treatment"]
    if not treatment:
        return blocks, line_block
    group = Block("97150", start=treatment[0].start, stop=treatment[-1].stop, kind="group",
                  segs=sorted({s for b in treatment for s in b.segs}))
    kept = [b for b in blocks if b.kind != "treatment"]
    index = {id(b): n for n, b in enumerate(kept)}
    new_blocks = [*kept, group]
    remap: dict[int, int] = {}
    for line_id, n in line_block.items():
        b = blocks[n]
        remap[line_id] = index[id(b)] if id(b) in index else len(new_blocks) - 1
    return new_blocks, remap


def _merge_same_code(visit: Visit) -> Visit:
    """One block per run of a code: two stretches with only a short pause between them are one."""
    merged: list[Block] = []
    mapping: dict[int, int] = {}
    for index, block in enumerate(visit.blocks):
        prev = merged[-1] if merged else None
        if (prev is not None and prev.cpt == block.cpt and prev.stop is not None and block.start is not None
                and block.start - prev.stop <= MERGE_GAP_MIN):
            prev.stop = block.stop
            prev.segs.extend(block.segs)
            prev.needs_review = prev.needs_review and block.needs_review
            mapping[index] = len(merged) - 1
        else:
            merged.append(block)
            mapping[index] = len(merged) - 1
    for s in visit.sentences:
        if s.block >= 0:
            s.block = mapping[s.block]
    return Visit(merged, visit.sentences)
