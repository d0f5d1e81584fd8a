"""Review routes: the therapist dismisses a flag with a reason; the reason is kept and shown.

POST /v1/sessions/{id}/flags/dismiss   body: {"kind", "cpt", "reason"}  -> 200 {"flags": [...]}

`kind` must be one of the coder's flag kinds (services/coder/flags.py KINDS), `cpt` empty (a visit-level
flag) or a code of the coding rules, `reason` at most MAX_REASON_CHARS characters, the body at most
MAX_DISMISSAL_BYTES: else 400 (413 for the body). A session never started (or long expired) gets 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from proto import scribe_pb2 as pb
from services.coder.coding import apply_dismissals
from services.coder.flags import KINDS
from services.coder.rules import load_default_rules
from services.common.errors import InputError
from services.common.export import flag_to_dict
from services.common.store import SessionStore
from services.ingest.bodies import read_json
from services.ingest.service import UnknownSession

MAX_REASON_CHARS = 500
MAX_DISMISSAL_BYTES = 8 * 1024


def parse_dismissal(session_id: str, data: object) -> pb.FlagDismissal:
    """Validate a dismissal body; the reason is required (an auditor will ask for it)."""
    if not isinstance(data, dict):
        raise InputError("expected a JSON object {\"kind\", \"cpt\", \"reason\"}")
    kind, cpt, reason = data.get("kind"), data.get("cpt") or "", data.get("reason")
    if not isinstance(kind, str) or not kind:
        raise InputError("a dismissal needs the flag's kind")
    if kind not in KINDS:  # a typo would be kept and match nothing, ever
        raise InputError(f"unknown flag kind (known kinds: {', '.join(KINDS)})")
    if not isinstance(cpt, str):
        raise InputError("cpt must be a string")
    if cpt and cpt not in load_default_rules().codes:
        raise InputError("cpt is not a code of the coding rules (omit it for a visit-level flag)")
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


def add_review_routes(app: web.Application, store: SessionStore,
                      session_known: Callable[[str], Awaitable[bool]]) -> None:
    """session_known(id): whether the session was ever started here (or is known to the store)."""

    async def dismiss(request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        data = await read_json(request, MAX_DISMISSAL_BYTES, "the dismissal")
        dismissal = parse_dismissal(sid, data)
        if not await session_known(sid):  # else a dismissal is stored for a session that never existed
            raise UnknownSession(f"no session {sid}")
        result = await dismiss_flag(store, dismissal)
        flags = [flag_to_dict(f) for f in result.flags] if result is not None else []
        return web.json_response({"status": "kept", "flags": flags})

    app.router.add_post("/v1/sessions/{sid}/flags/dismiss", dismiss)
