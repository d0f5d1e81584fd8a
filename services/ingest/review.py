"""Review routes: the therapist dismisses a flag with a reason; the reason is kept and shown.

POST /v1/sessions/{id}/flags/dismiss   body: {"kind", "cpt", "reason"}  -> 200 {"flags": [...]}
"""

from __future__ import annotations

import json

from aiohttp import web

from proto import scribe_pb2 as pb
from services.coder.coding import apply_dismissals
from services.common.errors import InputError
from services.common.export import flag_to_dict
from services.common.store import SessionStore

MAX_REASON_CHARS = 500


def parse_dismissal(session_id: str, data: object) -> pb.FlagDismissal:
    """Validate a dismissal body; the reason is required (an auditor will ask for it)."""
    if not isinstance(data, dict):
        raise InputError("expected a JSON object {\"kind\", \"cpt\", \"reason\"}")
    kind, cpt, reason = data.get("kind"), data.get("cpt") or "", data.get("reason")
    if not isinstance(kind, str) or not kind:
        raise InputError("a dismissal needs the flag's kind")
    if not isinstance(cpt, str):
        raise InputError("cpt must be a string")
    if not isinstance(reason, str) or not reason.strip():
        raise InputError("a dismissal needs a reason")
    if len(reason) > MAX_REASON_CHARS:
        raise InputError(f"the reason is longer than {MAX_REASON_CHARS} characters")
    return pb.FlagDismissal(session_id=session_id, kind=kind, cpt=cpt, reason=reason.strip())


async def dismiss_flag(store: SessionStore, dismissal: pb.FlagDismissal) -> pb.CodingResult | None:
    """Keep the dismissal and, when the session is final, mark it on the kept result."""
    sid = dismissal.session_id
    result = await store.get_result(sid)
    if result is not None and not any(f.kind == dismissal.kind and f.cpt == dismissal.cpt for f in result.flags):
        raise InputError(f"session {sid} has no {dismissal.kind} flag on {dismissal.cpt or 'the visit'}")
    await store.put_dismissal(sid, dismissal.kind, dismissal.cpt, dismissal.reason)
    if result is None:
        return None  # the coder applies it when the codes are computed
    updated = apply_dismissals(result, await store.dismissals(sid))
    await store.put_result(updated)
    return updated


def add_review_routes(app: web.Application, store: SessionStore) -> None:
    async def dismiss(request: web.Request) -> web.Response:
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError("the dismissal is not valid JSON") from None
        dismissal = parse_dismissal(request.match_info["sid"], data)
        result = await dismiss_flag(store, dismissal)
        flags = [flag_to_dict(f) for f in result.flags] if result is not None else []
        return web.json_response({"status": "kept", "flags": flags})

    app.router.add_post("/v1/sessions/{sid}/flags/dismiss", dismiss)
