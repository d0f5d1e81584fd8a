"""The coder's entry point: a draft in, CPT codes with units, modifiers and flags out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from proto import scribe_pb2 as pb
from services.coder import modifiers
from services.coder.blocks import find_visit
from services.coder.flags import METHOD_NAMES, CodeLine, build_flags
from services.coder.rules import CodingRules, PayerRules
from services.coder.text import format_clock
from services.coder.units import units_for_code, units_for_method
from services.coder.visit import Block, Visit

_FALLBACK_PAYER = PayerRules("unknown", "Unknown payer", "per_code", False, False, "59")


def billing_method(ctx: pb.SessionContext, payer: PayerRules) -> str:
    """The context's method overrides the payer default, except for payers whose method is fixed (Medicare)."""
    if payer.method_fixed:
        return payer.billing_method
    return ctx.billing_method or payer.billing_method


def _service_date(ctx: pb.SessionContext) -> dt.date:
    try:
        return dt.date.fromisoformat(ctx.date) if ctx.date else dt.date.today()
    except ValueError:
        return dt.date.today()


def _lines(visit: Visit, rules: CodingRules) -> list[CodeLine]:
    by_code: dict[str, CodeLine] = {}
    for index, block in enumerate(visit.blocks):
        line = by_code.get(block.cpt)
        if line is None:
            line = by_code[block.cpt] = CodeLine(block.cpt, rules.code(block.cpt).timed, [])
        line.blocks.append((index, block))
    return list(by_code.values())


def _span(line: CodeLine) -> tuple[str, str]:
    blocks = [b for _, b in line.blocks]
    if not all(b.has_times for b in blocks):
        return "", ""
    start = min(b.start for b in blocks if b.start is not None)
    stop = max(b.stop for b in blocks if b.stop is not None)
    return format_clock(start), format_clock(stop)


def _evidence(visit: Visit, draft: pb.DraftUpdate, blocks: list[tuple[int, Block]]) -> list[pb.EvidenceSpan]:
    segs = sorted({s.seg for index, _ in blocks for s in visit.block_sentences(index)}
                  | {seg for _, b in blocks for seg in b.segs})
    spans = []
    for i in segs:
        if 0 <= i < len(draft.transcript):
            seg = draft.transcript[i]
            spans.append(pb.EvidenceSpan(start_s=seg.start_s, end_s=seg.end_s))
    return spans


def code_draft(draft: pb.DraftUpdate, rules: CodingRules) -> pb.CodingResult:
    """Suggest the visit's CPT codes, units (under the billing method in force), modifiers and flags."""
    ctx = draft.context
    payer = rules.payers.get(ctx.payer, rules.payers.get("commercial", _FALLBACK_PAYER))
    method = billing_method(ctx, payer)
    visit = find_visit(draft, rules)
    lines = _lines(visit, rules)

    timed = [line for line in lines if line.timed]
    for line, units in zip(timed, units_for_method(method, [line.minutes for line in timed]), strict=True):
        line.units = units
        line.supported_alone = units_for_code(line.minutes)
    for line in lines:
        if not line.timed:
            line.units = line.supported_alone = 1

    day = _service_date(ctx)
    hits = modifiers.ptp_hits([(line.cpt, [(b.start, b.stop) for _, b in line.blocks]) for line in lines], rules, day)
    therapy_mod = modifiers.therapy_modifier(rules, payer, ctx.discipline)
    distinct = modifiers.distinct_modifier(payer)
    total_timed = sum(line.minutes for line in timed)

    result = pb.CodingResult(session_id=draft.session_id, version=draft.version, is_final=draft.is_final,
                             billing_method=method)
    for line in lines:
        mods = [therapy_mod] if therapy_mod else []
        notes = []
        for hit in hits:
            if hit.column2 == line.cpt and hit.modifier_indicator == 1 and hit.separate:
                mods.append(distinct)
                notes.append(f"{distinct}: distinct from {hit.column1} (NCCI PTP edit), done in a separate block")
            elif hit.column2 == line.cpt and hit.modifier_indicator == 0:
                notes.append(f"NCCI PTP edit with {hit.column1} has modifier indicator 0: not separately payable")
        start, stop = _span(line)
        evidence = _evidence(visit, draft, line.blocks)
        doubt = min((b for _, b in line.blocks), key=lambda b: b.confidence)
        result.codes.append(pb.CodeSuggestion(
            cpt=line.cpt, units=line.units, minutes=line.minutes, start=start, stop=stop, modifiers=mods,
            rationale=_rationale(line, rules, method, total_timed, start, stop, evidence, notes),
            evidence=evidence, timed=line.timed, units_stated=line.units_stated,
            needs_review=any(b.needs_review for _, b in line.blocks), confidence=doubt.confidence,
            runner_up=doubt.runner_up if doubt.needs_review else "",
            review_reason=_review_reason(doubt) if doubt.needs_review else "",
        ))
    result.flags.extend(build_flags(visit, lines, draft, rules, method, hits, distinct))
    result.draft.CopyFrom(draft)
    return result


def _review_reason(block: Block) -> str:
    """Why the classifier doubts a block's code, in catalogue terms (never the patient's words)."""
    return (f"{block.cpt} at {block.confidence:.0%}; runner-up {block.runner_up or 'none'}. "
            f"Nearest catalogue activities: {block.why or 'none'}. Confirm the code or change it.")


def _rationale(line: CodeLine, rules: CodingRules, method: str, total_timed: int, start: str, stop: str,
               evidence: list[pb.EvidenceSpan], notes: list[str]) -> str:
    info = rules.code(line.cpt)
    parts = [f"{line.cpt} {info.descriptor or 'service'}."]
    if start and stop:
        parts.append(f"Documented {start}-{stop} ({line.minutes} min).")
    elif line.minutes:
        parts.append(f"Documented duration {line.minutes} min, no clock times.")
    else:
        parts.append("No time documented.")
    if line.timed:
        parts.append(f"{line.units} unit(s) under {METHOD_NAMES[method]}"
                     + (f" ({total_timed} total timed minutes)." if method == "cms" else "."))
    else:
        parts.append("Untimed: 1 unit.")
    parts.extend(notes)
    if evidence:
        where = ", ".join(f"{e.start_s:.0f}-{e.end_s:.0f}s" for e in evidence[:6])
        parts.append(f"Evidence: transcript {where}.")
    return " ".join(parts)


def apply_dismissals(result: pb.CodingResult, dismissals: Mapping[tuple[str, str], str]) -> pb.CodingResult:
    """A copy of `result` with the flags the therapist dismissed marked as such.

    `dismissals` maps (flag kind, CPT code) to the therapist's reason. Every flag of that kind on that
    code gets `dismissed` set and the reason kept (a flag without a code matches the key (kind, "")).
    A dismissal that matches no flag is ignored; `result` itself is not changed.
    """
    out = pb.CodingResult()
    out.CopyFrom(result)
    for flag in out.flags:
        reason = dismissals.get((flag.kind, flag.cpt))
        if reason is not None:
            flag.dismissed = True
            flag.dismiss_reason = reason
    return out
