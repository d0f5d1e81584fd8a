"""Documentation gaps a reviewer or payer would catch, one Flag each (see the eval README table).

Messages say what is missing and where (code, block times), never patient words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proto import scribe_pb2 as pb
from services.coder import detect
from services.coder.modifiers import PtpHit
from services.coder.rules import CodingRules
from services.coder.text import format_clock
from services.coder.visit import THERAPIST_ROLES, Block, Visit

# single_deficit_97530: the one deficit named this often, in a block of at least this many sentences.
SINGLE_DEFICIT_MENTIONS = 2
SINGLE_DEFICIT_MIN_SENTENCES = 2
# ... and, in an ambient session (where the code is inferred from what was done), only when the activity
# classifier is not sure the block is 97530: a task it is sure is functional serves more than the deficit named.
SINGLE_DEFICIT_SURE = 0.95
METHOD_NAMES = {"cms": "the CMS total-time method", "per_code": "the per-code method"}
# Every kind of flag build_flags raises: a dismissal naming another kind is refused at the API.
KINDS = ("missing_times", "under_8_minutes", "overlapping_times", "units_not_supported", "missing_goal_link",
         "missing_laterality", "missing_outcome_measure", "missing_skilled_cues", "single_deficit_97530",
         "ptp_modifier_needed")


@dataclass
class CodeLine:
    """One billed code: its blocks and the units it gets under the method in force."""

    cpt: str
    timed: bool
    blocks: list[tuple[int, Block]]  # (index in the visit, block)
    units: int = 0
    supported_alone: int = 0

    @property
    def minutes(self) -> int:
        return sum(b.minutes for _, b in self.blocks)

    @property
    def units_stated(self) -> int:
        return sum(b.units_stated for _, b in self.blocks)


def where(block: Block) -> str:
    if block.start is not None and block.stop is not None:
        return f"{block.cpt} block {format_clock(block.start)}-{format_clock(block.stop)}"
    if block.duration:
        return f"{block.cpt} block ({block.duration} minutes, no clock times)"
    return f"{block.cpt} block (no times)"


def _flag(kind: str, message: str, cpt: str = "") -> pb.Flag:
    return pb.Flag(kind=kind, message=message, cpt=cpt)


def build_flags(visit: Visit, lines: Sequence[CodeLine], draft: pb.DraftUpdate, rules: CodingRules, method: str,
                ptp: Sequence[PtpHit], distinct: str) -> list[pb.Flag]:
    ctx = draft.context
    lex = rules.lexicon
    ambient = ctx.mode == "ambient"
    flags: list[pb.Flag] = []
    therapist = [s for s in visit.sentences if s.speaker in THERAPIST_ROLES]

    # Times: missing, overlapping, too short.
    timed_blocks = [(i, b) for line in lines if line.timed for i, b in line.blocks]
    for line in lines:
        if not line.timed:
            continue
        for _, block in line.blocks:
            if not block.has_times:
                said = f"only a duration of {block.duration} minutes was said" if block.duration else \
                    "no time or duration was documented"
                flags.append(_flag("missing_times", f"{block.cpt} has no start or stop time ({said})", block.cpt))
        if 0 < line.minutes < 8 or (line.minutes == 0 and all(b.has_times for _, b in line.blocks)):
            got = f"gets {line.units} unit(s) from the visit total" if line.units else "earns no unit"
            msg = f"{line.cpt} has {line.minutes} minutes, under 8, and {got} under {METHOD_NAMES[method]}"
            flags.append(_flag("under_8_minutes", msg, line.cpt))
    for x in range(len(timed_blocks)):
        for y in range(x + 1, len(timed_blocks)):
            a, b = timed_blocks[x][1], timed_blocks[y][1]
            if not (a.has_times and b.has_times):
                continue
            assert a.start is not None and a.stop is not None and b.start is not None and b.stop is not None
            overlap = min(a.stop, b.stop) - max(a.start, b.start)
            if overlap > 0:
                later = b if (b.start, b.stop) >= (a.start, a.stop) else a
                flags.append(_flag("overlapping_times",
                                   f"{where(a)} overlaps {where(b)} by {overlap} minutes", later.cpt))

    # Units said aloud beyond what the time supports.
    for line in lines:
        stated = line.units_stated
        if stated and stated > line.units:
            if line.timed:
                why = f"{line.minutes} minutes support {line.units} under {METHOD_NAMES[method]}"
            else:
                why = f"an untimed code is billed as {line.units} unit"
            flags.append(_flag("units_not_supported",
                               f"{line.cpt}: {stated} units stated but {why}; supported units: {line.units}",
                               line.cpt))

    # Goal links (missing_goal_link). Satisfied, for a block, by
    #  1. a sentence of the block that ties the work to a function: a goal marker ("toward", "so you can",
    #     "your goal"), a purpose with a functional object ("to help with the stairs"), "for getting up ...";
    #  2. a sentence of the block that names what one of the context's goals is about ("the low couch",
    #     "the cupboard", "your grandchildren"), in any wording, outside talk of the plan;
    #  3. such a sentence said for the whole visit: outside every block, or closing one ("all of this
    #     builds toward cooking again"); in an ambient session, anywhere (one conversation: "that's your
    #     goal" said once ties the session's work to it);
    #  4. for an evaluation, any goal set in the visit (the evaluation writes the plan of care).
    # A patient's own report (subjective) never links: it is the patient's words, not the therapist's.
    goals = detect.GoalTerms.of(ctx.goals, lex)

    def goal_ok(s_section: str, text: str) -> bool:
        if s_section == "goal":
            return True
        return s_section != "subjective" and (detect.is_goal_link(text, lex) or goals.named_in(text))

    visit_goal = any(goal_ok(s.section, s.text) for s in therapist if ambient or s.block < 0 or s.closing)
    any_goal = any(goal_ok(s.section, s.text) or (s.section != "subjective" and detect.is_goal_statement(s.text, lex))
                   for s in therapist)
    for line in lines:
        for index, block in line.blocks:
            own = any(goal_ok(s.section, s.text) for s in visit.block_sentences(index)
                      if s.speaker in THERAPIST_ROLES)
            if block.kind in ("evaluation", "reevaluation") and any_goal:
                own = True
            if not (own or visit_goal):
                flags.append(_flag("missing_goal_link",
                                   f"{where(block)} has no sentence tying it to a functional goal", block.cpt))

    # Laterality.
    if ctx.discipline != "SLP":
        diag_regions = detect.extremity_regions(ctx.diagnosis, lex, include_incidental=True)
        side_sources = [ctx.diagnosis, *ctx.goals, *(k.replace("_", " ") for k in ctx.baseline)]
        side_sources += [s.text for s in therapist]
        sided = detect.sided_regions(side_sources, lex)
        for line in lines:
            for index, block in line.blocks:
                text = " ".join(s.text for s in visit.block_sentences(index) if s.speaker in THERAPIST_ROLES)
                needed = detect.focus_regions(text, lex) | diag_regions
                missing = sorted(needed - sided)
                if missing:
                    limb = " and ".join(f"{r} extremity" for r in missing)
                    flags.append(_flag("missing_laterality",
                                       f"{where(block)} treats the {limb} but no side (left, right, bilateral) "
                                       "is named", block.cpt))

    # Outcome measure for therapeutic exercise.
    if ctx.note_type != "evaluation" and any(line.cpt == "97110" for line in lines):
        baseline = dict(ctx.baseline)
        if not any(detect.is_compared_measure(s.text, lex, baseline) for s in therapist):
            flags.append(_flag("missing_outcome_measure",
                               "97110 is billed but no measure is compared to a baseline or earlier value", "97110"))

    # Skilled cueing, and the one-deficit 97530.
    for line in lines:
        for index, block in line.blocks:
            texts = [s.text for s in visit.block_sentences(index) if s.speaker in THERAPIST_ROLES]
            if block.cpt in ("97530", "97112") and not detect.has_cues(texts, lex, ambient):
                flags.append(_flag("missing_skilled_cues",
                                   f"{where(block)} documents no skilled cueing or clinical decision", block.cpt))
            if block.cpt == "97530":
                # Precision first: one deficit named again and again, and nothing else, over a block long
                # enough to judge; a functional task names its deficits rarely, so silence is no evidence.
                found = detect.deficit_mentions(" ".join(texts), lex)
                functional = ambient and block.confidence >= SINGLE_DEFICIT_SURE
                if len(found) == 1 and sum(found.values()) >= SINGLE_DEFICIT_MENTIONS \
                        and len(texts) >= SINGLE_DEFICIT_MIN_SENTENCES and not functional:
                    deficit = next(iter(found)).replace("_", " ")
                    flags.append(_flag("single_deficit_97530",
                                       f"{where(block)} addresses one deficit only ({deficit}); "
                                       "97110 may fit better", block.cpt))

    # PTP pairs.
    for hit in ptp:
        if hit.modifier_indicator != 1:
            continue
        if hit.separate:
            msg = (f"{hit.column2} is a column-two code of {hit.column1} (NCCI PTP edit, modifier indicator 1); "
                   f"done in a separate time block, so {distinct} is appended to {hit.column2}")
        else:
            msg = (f"{hit.column2} is a column-two code of {hit.column1} (NCCI PTP edit, modifier indicator 1) "
                   "and their times overlap: document separate blocks before adding a distinct-service modifier")
        flags.append(_flag("ptp_modifier_needed", msg, hit.column2))
    return _dedupe(flags)


def _dedupe(flags: list[pb.Flag]) -> list[pb.Flag]:
    """At most one flag per (kind, code): two blocks of one code with the same gap are one thing to fix;
    the message says how many blocks it concerns."""
    first: dict[tuple[str, str], pb.Flag] = {}
    count: dict[tuple[str, str], int] = {}
    for f in flags:
        key = (f.kind, f.cpt)
        count[key] = count.get(key, 0) + 1
        first.setdefault(key, f)
    out = []
    for key, f in first.items():
        if count[key] > 1:
            f.message = f"{f.message} (and {count[key] - 1} more block(s) of {f.cpt or 'the visit'})"
        out.append(f)
    return out
