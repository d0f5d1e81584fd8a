"""The JSON a run prints (shared/eval/README.md, "The output a run must give")."""

from __future__ import annotations

from typing import Any

from proto import scribe_pb2 as pb

SECTIONS = ("subjective", "objective", "assessment", "plan")
# A session the client did not stop (SessionEvent.end_reason): said in the result beside the note.
ENDINGS = {
    "idle": "the session was never stopped: it was finalised after its idle bound with no audio or connection; "
            "the note covers the audio received",
    "ingest_lost": "the session was not stopped: the ingest recording it went away; the note covers the "
                   "audio that reached the pipeline",
}


def _span(span: pb.EvidenceSpan) -> dict[str, float]:
    return {"start_s": round(span.start_s, 2), "end_s": round(span.end_s, 2)}


def _item(item: pb.NoteItem) -> dict[str, Any]:
    out: dict[str, Any] = {"text": item.text, "evidence": [_span(e) for e in item.evidence]}
    if item.needs_review:
        out["needs_review"] = True
    return out


def flag_to_dict(flag: pb.Flag) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": flag.kind, "message": flag.message, "cpt": flag.cpt or None}
    if flag.dismissed:
        out["dismissed"] = True
        out["dismiss_reason"] = flag.dismiss_reason
    return out


def result_to_dict(result: pb.CodingResult) -> dict[str, Any]:
    draft = result.draft
    return {
        "session_id": result.session_id,
        "transcript": [
            {
                "start_s": round(s.start_s, 2),
                "end_s": round(s.end_s, 2),
                "speaker": s.speaker,
                "text": s.text,
                "raw_text": s.raw_text,
            }
            for s in draft.transcript
        ],
        "note": {name: [_item(i) for i in getattr(draft.note, name)] for name in SECTIONS},
        "codes": [
            {
                "cpt": c.cpt,
                "units": c.units,
                "minutes": c.minutes,
                "start": c.start or None,
                "stop": c.stop or None,
                "modifiers": list(c.modifiers),
                "rationale": c.rationale,
                "evidence": [_span(e) for e in c.evidence],
                **({"needs_review": True, "confidence": round(c.confidence, 2), "runner_up": c.runner_up or None,
                    "review_reason": c.review_reason} if c.needs_review else {}),
            }
            for c in result.codes
        ],
        "billing_method": result.billing_method,
        "flags": [flag_to_dict(f) for f in result.flags],
        **({"ended": {"reason": draft.end_reason, "message": ENDINGS.get(draft.end_reason, draft.end_reason)}}
           if draft.end_reason else {}),
    }
