"""Load and validate a session context (the JSON the clinician's selections produce).

Every free-text field is bounded here, where the context enters (HTTP body, CLI file, web page), so
nothing downstream (the recogniser's prompt, the store, the drafter) sees an unbounded string. A field
over its bound is refused with a ContextError (HTTP 400, a one-line CLI error), never truncated
silently: a cut diagnosis or goal would be a wrong note. The bounds, generous for a real visit:

  diagnosis, each goal          MAX_TEXT_CHARS (1,000 characters)
  goals                         MAX_GOALS (20)
  vocabulary                    MAX_VOCABULARY (200 entries of at most MAX_TERM_CHARS, 100 characters)
  baseline                      MAX_BASELINE (50 measures; name MAX_TERM_CHARS, value MAX_VALUE_CHARS, 200)
  date                          MAX_DATE_CHARS (40 characters)
  a context file / HTTP body    MAX_CONTEXT_BYTES (64 KiB)
"""

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

MAX_TEXT_CHARS = 1_000  # the diagnosis, each goal (the longest public case's is under 100)
MAX_GOALS = 20
MAX_TERM_CHARS = 100  # a vocabulary entry, a baseline measure's name
MAX_VOCABULARY = 200
MAX_BASELINE = 50
MAX_VALUE_CHARS = 200  # a baseline value
MAX_DATE_CHARS = 40
MAX_CONTEXT_BYTES = 64 * 1024  # a whole context, as a file or a request body


def load_context_file(path: str | Path) -> pb.SessionContext:
    """Read CONTEXT.json; every problem becomes a ContextError naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:  # bounded: `--context /dev/zero` must not read forever
            data = handle.read(MAX_CONTEXT_BYTES + 1)
    except OSError as exc:
        raise ContextError(f"cannot read context file {path}: {exc.strerror}") from None
    if len(data) > MAX_CONTEXT_BYTES:
        raise ContextError(f"context file {path} is larger than {MAX_CONTEXT_BYTES // 1024} KiB")
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ContextError(f"context file {path} is not UTF-8 text") from None
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
        raise ContextError(f"{source}: unknown payer {_shown(payer)} (known payers: {known})")
    ctx.payer = payer
    method = data.get("billing_method") or ""
    if method and method not in BILLING_METHODS:
        raise ContextError(f"{source}: billing_method must be one of {', '.join(BILLING_METHODS)}, "
                           f"got {_shown(method)}")
    ctx.billing_method = method
    start = data.get("session_start", "") or ""
    if start and not _CLOCK.match(str(start)):
        raise ContextError(f"{source}: session_start must be a clock time HH:MM, got {_shown(start)}")
    ctx.session_start = str(start)
    ctx.diagnosis = _bounded(_optional_string(data, "diagnosis", source), "diagnosis", MAX_TEXT_CHARS, source)
    ctx.date = _bounded(_optional_string(data, "date", source), "date", MAX_DATE_CHARS, source)
    ctx.goals.extend(_string_list(data, "goals", source, MAX_GOALS, MAX_TEXT_CHARS))
    ctx.vocabulary.extend(_string_list(data, "vocabulary", source, MAX_VOCABULARY, MAX_TERM_CHARS))
    ctx.baseline.update(_baseline(data, source))
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
        raise ContextError(f"{source}: {key} must be one of {', '.join(allowed)}, got {_shown(value)}")
    return str(value)


def _shown(value: Any) -> str:
    """A wrong value as an error message may quote it: short ones only (a pasted note stays out)."""
    text = repr(value)
    return text if len(text) <= 40 else f"a {type(value).__name__} of {len(text)} characters"


def _bounded(value: str, what: str, limit: int, source: str) -> str:
    """Refuse, not truncate, a field over its bound; the message gives sizes only, never the text."""
    if len(value) > limit:
        raise ContextError(f"{source}: {what} is {len(value)} characters long; the most allowed is {limit}")
    return value


def _string_list(data: Mapping[str, Any], key: str, source: str, max_items: int, max_chars: int) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ContextError(f"{source}: {key} must be a list of strings")
    if len(value) > max_items:
        raise ContextError(f"{source}: {key} has {len(value)} entries; the most allowed is {max_items}")
    return [_bounded(v, f"{key}[{i}]", max_chars, source) for i, v in enumerate(value)]


def _baseline(data: Mapping[str, Any], source: str) -> dict[str, str]:
    baseline = data.get("baseline") or {}
    if not isinstance(baseline, Mapping):
        raise ContextError(f"{source}: baseline must be an object of measure -> value")
    if len(baseline) > MAX_BASELINE:
        raise ContextError(f"{source}: baseline has {len(baseline)} measures; the most allowed is {MAX_BASELINE}")
    out = {}
    for i, (key, value) in enumerate(baseline.items()):
        name = _bounded(str(key), f"baseline measure {i + 1}'s name", MAX_TERM_CHARS, source)
        out[name] = _bounded(str(value), f"baseline measure {i + 1}'s value", MAX_VALUE_CHARS, source)
    return out
