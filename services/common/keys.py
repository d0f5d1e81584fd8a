"""Every stream and key name the services share, in one place.

| stream / key                | written by     | read by (group)        | entry                         |
| --------------------------- | -------------- | ---------------------- | ----------------------------- |
| scribe:sessions             | ingest         | drafter                | SessionEvent (start / stop)   |
| scribe:utterances           | ingest         | asr                    | AudioChunk (one VAD utterance)|
| scribe:segments             | asr            | drafter                | TranscriptSegment (committed) |
| scribe:drafts               | drafter        | coder                  | DraftUpdate                   |
| scribe:codes                | coder          | gateway / clients      | CodingResult                  |
| scribe:errors               | any stage      | operations             | StageError                    |
| scribe:partials             | ingest (live)  | asr (best effort)      | AudioChunk, is_partial prefix |
| scribe:partial-text         | asr            | feeds (plain XREAD)    | PartialTranscript             |
| {stream}:dead               | bus            | operations             | entries past the delivery cap |
| session:{id}:context        | drafter        | drafter                | SessionContext                |
| session:{id}:segments       | drafter        | drafter                | hash "seq.index" -> segment   |
| session:{id}:stop           | drafter        | drafter                | SessionEvent STOPPED          |
| session:{id}:result         | coder          | ingest gateway         | final CodingResult            |
| session:{id}:dismissals     | review API     | coder, review API      | hash "kind|cpt" -> reason     |

Per-session keys expire SESSION_TTL_S after the session is final.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "scribe"

SESSIONS: Final = f"{PREFIX}:sessions"
UTTERANCES: Final = f"{PREFIX}:utterances"
SEGMENTS: Final = f"{PREFIX}:segments"
DRAFTS: Final = f"{PREFIX}:drafts"
CODES: Final = f"{PREFIX}:codes"
ERRORS: Final = f"{PREFIX}:errors"
# Live capture. Partials are droppable work: a prefix nobody decoded in time is worthless, so the
# stream is kept short (PARTIALS_MAXLEN, trimmed by ingest) and a worker skips stale entries.
PARTIALS: Final = f"{PREFIX}:partials"
PARTIAL_TEXT: Final = f"{PREFIX}:partial-text"
PARTIALS_MAXLEN: Final = 64
PARTIAL_TEXT_MAXLEN: Final = 10_000
# The streams a session's live feed (GET /v1/sessions/{id}/events) reads with plain XREAD.
FEED_STREAMS: Final = (SESSIONS, PARTIAL_TEXT, SEGMENTS, DRAFTS, CODES, ERRORS)

# Consumer groups: one per stage, so each entry is handled by exactly one worker of that stage.
GROUP_ASR: Final = "asr"
GROUP_DRAFTER: Final = "drafter"
GROUP_CODER: Final = "coder"

SESSION_TTL_S: Final = 7 * 24 * 3600
# A speculative decode (session:{id}:spec:{seq}:{speech end ms}) is claimed within a second or never.
SPECULATION_TTL_S: Final = 60


def dead_letter(stream: str) -> str:
    """Where entries go after too many failed deliveries."""
    return f"{stream}:dead"


def session_key(session_id: str, part: str) -> str:
    """Per-session state, e.g. session_key(sid, "segments")."""
    return f"session:{session_id}:{part}"
