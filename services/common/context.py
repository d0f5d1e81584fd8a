"""Load and validate a session context (the JSON the clinician's selections produce)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from proto import scribe_pb2 as pb
from services.common.errors import ContextError

MODES = ("ambient", "dictation")
DISCIPLINES = ("PT", "OT", "SLP")
NOTE_TYPES = ("daily", "evaluation", "progress", "discharge")
BILLING_METHODS = ("cms", "per_code")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def load_context_file(path: str | Path) -> pb.SessionContext:
    """Read CONTEXT.json; every problem becomes a ContextError naming the file."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ContextError(f"cannot read context file {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ContextError(f"context file {path} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    return context_from_dict(data, source=str(path))


def context_from_dict(data: Any, *, source: str = "context") -> pb.SessionContext:
    """Validate a decoded context object and turn it into the shared message."""
    if not isinstance(data, Mapping):
        raise ContextError(f"{source}: expected a JSON object")
    from services.coder.rules import load_default_rules  # local: the payer list lives with the coder

    payers = load_default_rules().payers
    ctx = pb.SessionContext()
    ctx.mode = _choice(data, "mode", MODES, source, default="dictation")
    ctx.discipline = _choice(data, "discipline", DISCIPLINES, source)
    ctx.note_type = _choice(data, "note_type", NOTE_TYPES, source, default="daily")
    payer = _string(data, "payer", source)
    if payer not in payers:
        known = ", ".join(sorted(payers))
        raise ContextError(f"{source}: unknown payer {payer!r} (known payers: {known})")
    ctx.payer = payer
    method = data.get("billing_method") or ""
    if method and method not in BILLING_METHODS:
        raise ContextError(f"{source}: billing_method must be one of {', '.join(BILLING_METHODS)}, got {method!r}")
    ctx.billing_method = method
    start = data.get("session_start", "") or ""
    if start and not _CLOCK.match(str(start)):
        raise ContextError(f"{source}: session_start must be a clock time HH:MM, got {start!r}")
    ctx.session_start = str(start)
    ctx.diagnosis = _optional_string(data, "diagnosis", source)
    ctx.date = _optional_string(data, "date", source)
    ctx.goals.extend(_string_list(data, "goals", source))
    ctx.vocabulary.extend(_string_list(data, "vocabulary", source))
    baseline = data.get("baseline") or {}
    if not isinstance(baseline, Mapping):
        raise ContextError(f"{source}: baseline must be an object of measure -> value")
    for key, value in baseline.items():
        ctx.baseline[str(key)] = str(value)
    return ctx


def context_to_dict(ctx: pb.SessionContext) -> dict[str, Any]:
    """The JSON shape of a context, for export and the eval harness."""
    return {
        "mode": ctx.mode,
        "discipline": ctx.discipline,
        "note_type": ctx.note_type,
        "payer": ctx.payer,
        "billing_method": ctx.billing_method or None,
        "session_start": ctx.session_start,
        "diagnosis": ctx.diagnosis,
        "goals": list(ctx.goals),
        "baseline": dict(ctx.baseline),
        "vocabulary": list(ctx.vocabulary),
    }


def _string(data: Mapping[str, Any], key: str, source: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ContextError(f"{source}: missing required field {key!r}")
    return value.strip()


def _optional_string(data: Mapping[str, Any], key: str, source: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ContextError(f"{source}: field {key!r} must be a string")
    return value


def _choice(data: Mapping[str, Any], key: str, allowed: tuple[str, ...], source: str, default: str = "") -> str:
    value = data.get(key, default) or default
    if not value:
        raise ContextError(f"{source}: missing required field {key!r}")
    if value not in allowed:
        raise ContextError(f"{source}: {key} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _string_list(data: Mapping[str, Any], key: str, source: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ContextError(f"{source}: {key} must be a list of strings")
    return list(value)
