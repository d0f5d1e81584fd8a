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
| session:{id}:entries        | bus (publish)  | retention janitor      | set of "stream entry-id"      |
| scribe:open                 | ingest         | retention janitor      | hash session -> ingest id     |
| scribe:ingest:{ingest id}   | ingest         | retention janitor      | heartbeat, expires if it dies |
| scribe:finished             | coder (result) | retention janitor      | zset session -> time final    |
| scribe:endpoint:{worker}    | every worker   | scribe top             | its metrics URL, expiring     |

Per-session keys carry an expiry from their first write and expire the retention period (default
SESSION_TTL_S, SCRIBE_RESULT_RETENTION_S) after the session is final; the session's stream entries
are deleted soon after it is final (services/common/retention.py).
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
# Retention (services/common/retention.py): who holds which session open, and which are final.
OPEN_SESSIONS: Final = f"{PREFIX}:open"
FINISHED: Final = f"{PREFIX}:finished"
# A speculative decode (session:{id}:spec:{seq}:{speech end ms}) is claimed within a second or never.
SPECULATION_TTL_S: Final = 60


def dead_letter(stream: str) -> str:
    """Where entries go after too many failed deliveries."""
    return f"{stream}:dead"


def session_key(session_id: str, part: str) -> str:
    """Per-session state, e.g. session_key(sid, "segments")."""
    return f"session:{session_id}:{part}"


def ingest_alive(ingest_id: str) -> str:
    """An ingest process's heartbeat: it expires when the process stops refreshing it."""
    return f"{PREFIX}:ingest:{ingest_id}"


def entry_index(session_id: str) -> str:
    """The session's stream entries, as "stream entry-id" members, so they can be deleted by id."""
    return session_key(session_id, "entries")


def endpoint(worker: str) -> str:
    """Where a worker's /metrics is served (services/common/opsserver.py); expires if it stops."""
    return f"{PREFIX}:endpoint:{worker}"
