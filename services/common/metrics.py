"""Prometheus metrics of every stage (prometheus-client, the process's default registry).

Label values are only ever stage, stream, group, kind and clinic (a deployment's configured name), each
from a small fixed set: never a session id, never a word of a transcript. That keeps the series bounded
and means a scrape, a dashboard or `scribe top` cannot show anything a patient said.

Counters end in _total in the exposition (prometheus-client adds it); rates and percentiles are left to
the reader (Prometheus, Grafana, `scribe top`).
"""

from __future__ import annotations

import os
import re

from prometheus_client import Counter, Gauge, Histogram

# Seconds-scale latencies: a draft or a coding pass takes milliseconds, a commit under backlog minutes.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
                    120.0, 300.0)

AUDIO_SECONDS_IN = Counter("scribe_audio_seconds_in", "Seconds of audio ingest received", ["clinic"])
SESSIONS_STARTED = Counter("scribe_sessions_started", "Sessions opened at ingest", ["clinic", "kind"])
SESSIONS_OPEN = Gauge("scribe_sessions_open", "Sessions open (being recorded) at this ingest", ["clinic"])
CHUNKS_IN = Counter("scribe_chunks_in", "Stream entries a stage took and handled (acked or rejected)",
                    ["stage", "stream"])
CHUNKS_OUT = Counter("scribe_chunks_out", "Stream entries a stage added", ["stage", "stream"])
HANDLE_SECONDS = Histogram("scribe_handle_seconds", "Time to handle one stream entry", ["stage", "stream"],
                           buckets=_LATENCY_BUCKETS)
STREAM_LAG = Gauge("scribe_stream_lag", "Entries not yet delivered to the consumer group (XINFO GROUPS lag)",
                   ["stream", "group"])
STREAM_PENDING = Gauge("scribe_stream_pending", "Entries delivered to the group and not yet acked",
                       ["stream", "group"])
STREAM_LENGTH = Gauge("scribe_stream_length", "Entries kept in the stream", ["stream"])
ASR_AUDIO_SECONDS = Counter("scribe_asr_audio_seconds", "Seconds of committed audio the model decoded")
ASR_BUSY_SECONDS = Counter("scribe_asr_busy_seconds", "Seconds the model spent decoding committed audio")
ASR_REALTIME_FACTOR = Histogram("scribe_asr_realtime_factor", "Decode time over audio length, per utterance",
                                buckets=(0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0))
ASR_MODEL_LOADED = Gauge("scribe_asr_model_loaded", "1 once this worker's Whisper model is loaded")
# live: from the VAD's end of speech (what a clinician waits for); upload: from the utterance's publication.
COMMIT_LATENCY = Histogram("scribe_commit_latency_seconds", "Speech end to its transcript segment committed",
                           ["kind"], buckets=_LATENCY_BUCKETS)
DRAFT_SECONDS = Histogram("scribe_draft_seconds", "Time to (re)draft a session's note", buckets=_LATENCY_BUCKETS)
CODING_SECONDS = Histogram("scribe_coding_seconds", "Time to code one draft", buckets=_LATENCY_BUCKETS)
NOTES_FINAL = Counter("scribe_notes_final", "Final results stored (one per finished session)", ["ended"])
ERRORS = Counter("scribe_errors", "Errors by stage and kind (a category, an exception type, an outage)",
                 ["stage", "kind"])

# The streams every worker samples (any one worker alive reports them; dashboards take the max).
SAMPLED_STREAMS = (
    ("scribe:utterances", "asr"),
    ("scribe:segments", "drafter"),
    ("scribe:sessions", "drafter"),
    ("scribe:drafts", "coder"),
)

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
_ENDED = {"": "client", "idle": "idle", "ingest_lost": "ingest_lost"}
_process_stage = "embedded"  # a worker sets its own (set_process_stage); one process runs all stages otherwise


def set_process_stage(stage: str) -> None:
    global _process_stage
    _process_stage = stage


def process_stage() -> str:
    return _process_stage


def clinic_from_env() -> str:
    """The clinic this ingest serves (SCRIBE_CLINIC), a label value: a short name, else "default"."""
    name = os.environ.get("SCRIBE_CLINIC", "").strip().lower()
    return name if _NAME.fullmatch(name) else "default"


def ended_label(end_reason: str) -> str:
    """How a session ended, as a bounded label value."""
    return _ENDED.get(end_reason, "other")


def error_kind(kind: str) -> str:
    """A category or exception name as a label value: identifiers only, so nothing free-form gets in."""
    return kind if _NAME.fullmatch(kind.lower()) else "other"
