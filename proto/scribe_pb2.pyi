from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionRef(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class SessionContext(_message.Message):
    __slots__ = ("mode", "discipline", "note_type", "payer", "billing_method", "session_start", "diagnosis", "goals", "baseline", "vocabulary", "date")
    class BaselineEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODE_FIELD_NUMBER: _ClassVar[int]
    DISCIPLINE_FIELD_NUMBER: _ClassVar[int]
    NOTE_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYER_FIELD_NUMBER: _ClassVar[int]
    BILLING_METHOD_FIELD_NUMBER: _ClassVar[int]
    SESSION_START_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSIS_FIELD_NUMBER: _ClassVar[int]
    GOALS_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    VOCABULARY_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    mode: str
    discipline: str
    note_type: str
    payer: str
    billing_method: str
    session_start: str
    diagnosis: str
    goals: _containers.RepeatedScalarFieldContainer[str]
    baseline: _containers.ScalarMap[str, str]
    vocabulary: _containers.RepeatedScalarFieldContainer[str]
    date: str
    def __init__(self, mode: _Optional[str] = ..., discipline: _Optional[str] = ..., note_type: _Optional[str] = ..., payer: _Optional[str] = ..., billing_method: _Optional[str] = ..., session_start: _Optional[str] = ..., diagnosis: _Optional[str] = ..., goals: _Optional[_Iterable[str]] = ..., baseline: _Optional[_Mapping[str, str]] = ..., vocabulary: _Optional[_Iterable[str]] = ..., date: _Optional[str] = ...) -> None: ...

class SessionEvent(_message.Message):
    __slots__ = ("session_id", "kind", "context", "last_seq", "duration_s", "end_reason")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[SessionEvent.Kind]
        STARTED: _ClassVar[SessionEvent.Kind]
        STOPPED: _ClassVar[SessionEvent.Kind]
        PAUSED: _ClassVar[SessionEvent.Kind]
        RESUMED: _ClassVar[SessionEvent.Kind]
    KIND_UNSPECIFIED: SessionEvent.Kind
    STARTED: SessionEvent.Kind
    STOPPED: SessionEvent.Kind
    PAUSED: SessionEvent.Kind
    RESUMED: SessionEvent.Kind
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    END_REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    kind: SessionEvent.Kind
    context: SessionContext
    last_seq: int
    duration_s: float
    end_reason: str
    def __init__(self, session_id: _Optional[str] = ..., kind: _Optional[_Union[SessionEvent.Kind, str]] = ..., context: _Optional[_Union[SessionContext, _Mapping]] = ..., last_seq: _Optional[int] = ..., duration_s: _Optional[float] = ..., end_reason: _Optional[str] = ...) -> None: ...

class AudioChunk(_message.Message):
    __slots__ = ("session_id", "seq", "start_s", "end_s", "sample_rate", "pcm_s16le", "is_partial", "sent_unix_s", "speech_end_s", "live", "speculative", "speculation_end_s", "first_partial")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    PCM_S16LE_FIELD_NUMBER: _ClassVar[int]
    IS_PARTIAL_FIELD_NUMBER: _ClassVar[int]
    SENT_UNIX_S_FIELD_NUMBER: _ClassVar[int]
    SPEECH_END_S_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    SPECULATIVE_FIELD_NUMBER: _ClassVar[int]
    SPECULATION_END_S_FIELD_NUMBER: _ClassVar[int]
    FIRST_PARTIAL_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    seq: int
    start_s: float
    end_s: float
    sample_rate: int
    pcm_s16le: bytes
    is_partial: bool
    sent_unix_s: float
    speech_end_s: float
    live: bool
    speculative: bool
    speculation_end_s: float
    first_partial: bool
    def __init__(self, session_id: _Optional[str] = ..., seq: _Optional[int] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., sample_rate: _Optional[int] = ..., pcm_s16le: _Optional[bytes] = ..., is_partial: _Optional[bool] = ..., sent_unix_s: _Optional[float] = ..., speech_end_s: _Optional[float] = ..., live: _Optional[bool] = ..., speculative: _Optional[bool] = ..., speculation_end_s: _Optional[float] = ..., first_partial: _Optional[bool] = ...) -> None: ...

class Word(_message.Message):
    __slots__ = ("start_s", "end_s", "text", "probability")
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    start_s: float
    end_s: float
    text: str
    probability: float
    def __init__(self, start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., text: _Optional[str] = ..., probability: _Optional[float] = ...) -> None: ...

class TranscriptSegment(_message.Message):
    __slots__ = ("session_id", "seq", "start_s", "end_s", "speaker", "text", "raw_text", "words", "confidence", "voice_pitch_hz", "speech_end_s")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    RAW_TEXT_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    VOICE_PITCH_HZ_FIELD_NUMBER: _ClassVar[int]
    SPEECH_END_S_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    seq: int
    start_s: float
    end_s: float
    speaker: str
    text: str
    raw_text: str
    words: _containers.RepeatedCompositeFieldContainer[Word]
    confidence: float
    voice_pitch_hz: float
    speech_end_s: float
    def __init__(self, session_id: _Optional[str] = ..., seq: _Optional[int] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., speaker: _Optional[str] = ..., text: _Optional[str] = ..., raw_text: _Optional[str] = ..., words: _Optional[_Iterable[_Union[Word, _Mapping]]] = ..., confidence: _Optional[float] = ..., voice_pitch_hz: _Optional[float] = ..., speech_end_s: _Optional[float] = ...) -> None: ...

class PartialTranscript(_message.Message):
    __slots__ = ("session_id", "seq", "start_s", "end_s", "text", "sent_unix_s")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SENT_UNIX_S_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    seq: int
    start_s: float
    end_s: float
    text: str
    sent_unix_s: float
    def __init__(self, session_id: _Optional[str] = ..., seq: _Optional[int] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., text: _Optional[str] = ..., sent_unix_s: _Optional[float] = ...) -> None: ...

class EvidenceSpan(_message.Message):
    __slots__ = ("start_s", "end_s")
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    start_s: float
    end_s: float
    def __init__(self, start_s: _Optional[float] = ..., end_s: _Optional[float] = ...) -> None: ...

class NoteItem(_message.Message):
    __slots__ = ("text", "evidence", "needs_review", "kind")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    NEEDS_REVIEW_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    text: str
    evidence: _containers.RepeatedCompositeFieldContainer[EvidenceSpan]
    needs_review: bool
    kind: str
    def __init__(self, text: _Optional[str] = ..., evidence: _Optional[_Iterable[_Union[EvidenceSpan, _Mapping]]] = ..., needs_review: _Optional[bool] = ..., kind: _Optional[str] = ...) -> None: ...

class Note(_message.Message):
    __slots__ = ("subjective", "objective", "assessment", "plan")
    SUBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    ASSESSMENT_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    subjective: _containers.RepeatedCompositeFieldContainer[NoteItem]
    objective: _containers.RepeatedCompositeFieldContainer[NoteItem]
    assessment: _containers.RepeatedCompositeFieldContainer[NoteItem]
    plan: _containers.RepeatedCompositeFieldContainer[NoteItem]
    def __init__(self, subjective: _Optional[_Iterable[_Union[NoteItem, _Mapping]]] = ..., objective: _Optional[_Iterable[_Union[NoteItem, _Mapping]]] = ..., assessment: _Optional[_Iterable[_Union[NoteItem, _Mapping]]] = ..., plan: _Optional[_Iterable[_Union[NoteItem, _Mapping]]] = ...) -> None: ...

class DraftUpdate(_message.Message):
    __slots__ = ("session_id", "version", "is_final", "context", "transcript", "note", "duration_s", "end_reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    END_REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    version: int
    is_final: bool
    context: SessionContext
    transcript: _containers.RepeatedCompositeFieldContainer[TranscriptSegment]
    note: Note
    duration_s: float
    end_reason: str
    def __init__(self, session_id: _Optional[str] = ..., version: _Optional[int] = ..., is_final: _Optional[bool] = ..., context: _Optional[_Union[SessionContext, _Mapping]] = ..., transcript: _Optional[_Iterable[_Union[TranscriptSegment, _Mapping]]] = ..., note: _Optional[_Union[Note, _Mapping]] = ..., duration_s: _Optional[float] = ..., end_reason: _Optional[str] = ...) -> None: ...

class CodeSuggestion(_message.Message):
    __slots__ = ("cpt", "units", "minutes", "start", "stop", "modifiers", "rationale", "evidence", "timed", "units_stated", "needs_review", "confidence", "runner_up", "review_reason")
    CPT_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    MODIFIERS_FIELD_NUMBER: _ClassVar[int]
    RATIONALE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    TIMED_FIELD_NUMBER: _ClassVar[int]
    UNITS_STATED_FIELD_NUMBER: _ClassVar[int]
    NEEDS_REVIEW_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    RUNNER_UP_FIELD_NUMBER: _ClassVar[int]
    REVIEW_REASON_FIELD_NUMBER: _ClassVar[int]
    cpt: str
    units: int
    minutes: int
    start: str
    stop: str
    modifiers: _containers.RepeatedScalarFieldContainer[str]
    rationale: str
    evidence: _containers.RepeatedCompositeFieldContainer[EvidenceSpan]
    timed: bool
    units_stated: int
    needs_review: bool
    confidence: float
    runner_up: str
    review_reason: str
    def __init__(self, cpt: _Optional[str] = ..., units: _Optional[int] = ..., minutes: _Optional[int] = ..., start: _Optional[str] = ..., stop: _Optional[str] = ..., modifiers: _Optional[_Iterable[str]] = ..., rationale: _Optional[str] = ..., evidence: _Optional[_Iterable[_Union[EvidenceSpan, _Mapping]]] = ..., timed: _Optional[bool] = ..., units_stated: _Optional[int] = ..., needs_review: _Optional[bool] = ..., confidence: _Optional[float] = ..., runner_up: _Optional[str] = ..., review_reason: _Optional[str] = ...) -> None: ...

class Flag(_message.Message):
    __slots__ = ("kind", "message", "cpt", "dismissed", "dismiss_reason")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CPT_FIELD_NUMBER: _ClassVar[int]
    DISMISSED_FIELD_NUMBER: _ClassVar[int]
    DISMISS_REASON_FIELD_NUMBER: _ClassVar[int]
    kind: str
    message: str
    cpt: str
    dismissed: bool
    dismiss_reason: str
    def __init__(self, kind: _Optional[str] = ..., message: _Optional[str] = ..., cpt: _Optional[str] = ..., dismissed: _Optional[bool] = ..., dismiss_reason: _Optional[str] = ...) -> None: ...

class FlagDismissal(_message.Message):
    __slots__ = ("session_id", "kind", "cpt", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    kind: str
    cpt: str
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., kind: _Optional[str] = ..., cpt: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CodingResult(_message.Message):
    __slots__ = ("session_id", "version", "is_final", "billing_method", "codes", "flags", "draft")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    BILLING_METHOD_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    DRAFT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    version: int
    is_final: bool
    billing_method: str
    codes: _containers.RepeatedCompositeFieldContainer[CodeSuggestion]
    flags: _containers.RepeatedCompositeFieldContainer[Flag]
    draft: DraftUpdate
    def __init__(self, session_id: _Optional[str] = ..., version: _Optional[int] = ..., is_final: _Optional[bool] = ..., billing_method: _Optional[str] = ..., codes: _Optional[_Iterable[_Union[CodeSuggestion, _Mapping]]] = ..., flags: _Optional[_Iterable[_Union[Flag, _Mapping]]] = ..., draft: _Optional[_Union[DraftUpdate, _Mapping]] = ...) -> None: ...

class StageError(_message.Message):
    __slots__ = ("session_id", "stage", "category", "message", "fatal")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FATAL_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    stage: str
    category: str
    message: str
    fatal: bool
    def __init__(self, session_id: _Optional[str] = ..., stage: _Optional[str] = ..., category: _Optional[str] = ..., message: _Optional[str] = ..., fatal: _Optional[bool] = ...) -> None: ...
