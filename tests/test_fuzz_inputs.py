"""Hostile and broken input, generated (hypothesis): every bad input is refused with the project's
InputError (a one-line message; HTTP maps it to a 4xx), never another exception (issue 16).

Covered, with the number of generated inputs each (MAX_EXAMPLES, about 11,000 in all, bounded in time
with deadline=None and a fixed count, a minute or two on a shared 2-core machine):
  - the audio decode path: garbage bytes, truncated and bit-flipped files, WAV headers with any rate,
    channel count, sample width and chunk sizes, huge ID3 and RIFF headers;
  - the session context: any JSON value, objects with the context's keys and any values, raw files;
  - protobuf messages at bus boundaries: each stage's handler given garbage bytes, truncated and
    mutated real messages, and messages with any field values (NaN times, huge sequence numbers);
  - SDP offers to the WebRTC answerer: garbage, mutated real offers;
  - PTP and rules files: any text, mutated real files.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import struct
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proto import scribe_pb2 as pb
from services.asr.engine import Recognition
from services.asr.service import AsrService
from services.coder.ptp import parse_ptp
from services.coder.rules import DATA_DIR, load_rules
from services.coder.service import CoderService
from services.common.context import context_from_dict, load_context_file
from services.common.errors import InputError
from services.common.memory_bus import MemoryBus
from services.common.store import MemoryStore
from services.drafter.service import DrafterService
from services.ingest import webrtc
from services.ingest.audio import decode_audio
from services.ingest.service import IngestService
from services.ingest.webrtc import PUMP_END_S, WebRtcIngest
from tests.cases import gold_draft, gold_transcript, load_case, wav

CASE = load_case("pub-004")
CONTEXT: dict[str, Any] = {**CASE["context"], "mode": CASE["mode"]}
BASE = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
BUDGET: list[int] = []  # max_examples of each fuzz test


def fuzz(examples: int) -> settings:
    BUDGET.append(examples)
    return settings(BASE, max_examples=examples)

BAD = (InputError,)  # the one kind of refusal allowed
BAD_MESSAGE = (InputError, DecodeError)  # a bus handler may also meet an undecodable message (acked, reported)


def refused_or_fine(call: Callable[[], Any], allowed: tuple[type[BaseException], ...] = BAD) -> None:
    """Run `call`: it may succeed or raise an allowed error with a one-line message; nothing else."""
    try:
        call()
    except allowed as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 600, message


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


# ---- audio ----------------------------------------------------------------------------------------

def _tone(seconds: float = 0.5, rate: int = 16_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)


def _encoded(fmt: str, codec: str) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=16_000 if codec != "libopus" else 48_000, layout="mono")
        frame = av.AudioFrame.from_ndarray(_tone(rate=16_000).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 16_000
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=stream.rate)  # type: ignore[attr-defined]
        for f in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(f):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


SAMPLES = [wav(_tone()), _encoded("flac", "flac"), _encoded("ogg", "libopus"), _encoded("mp3", "libmp3lame")]


@st.composite
def damaged_files(draw: st.DrawFn) -> bytes:
    """A real file truncated, with bytes overwritten, or with a span repeated."""
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    how = draw(st.sampled_from(["truncate", "flip", "repeat"]))
    if how == "truncate":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 20))):
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] = draw(st.integers(0, 255))
        return bytes(data)
    start = draw(st.integers(0, len(data) - 1))
    span = bytes(data[start: start + draw(st.integers(1, 2000))])
    return bytes(data[:start]) + span * draw(st.integers(1, 5)) + bytes(data[start:])


@st.composite
def wav_headers(draw: st.DrawFn) -> bytes:
    """A RIFF/WAVE file whose fmt chunk says anything: any rate, channels, width, format, chunk sizes."""
    u16, u32 = st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
    fmt_tag = draw(st.sampled_from([1, 3, 6, 7, 0xFFFE, 0, draw(u16)]))
    channels = draw(st.sampled_from([0, 1, 2, 8, 0xFFFF, draw(u16)]))
    rate = draw(st.sampled_from([0, 1, 8000, 16_000, 44_100, 192_000, 0xFFFFFFFF, draw(u32)]))
    bits = draw(st.sampled_from([0, 8, 16, 24, 32, 64, 0xFFFF, draw(u16)]))
    align = draw(st.sampled_from([0, max(1, channels * bits // 8) & 0xFFFF, draw(u16)]))
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, (rate * align) & 0xFFFFFFFF, align, bits)
    body = draw(st.binary(max_size=2048))
    data_size = draw(st.sampled_from([len(body), 0, 0xFFFFFFFF, draw(u32)]))
    fmt_size = draw(st.sampled_from([16, 18, 40, 0, 0xFFFFFFFF]))
    extra = b"\0" * max(0, min(fmt_size, 64) - 16)
    riff_size = draw(st.sampled_from([36 + len(body), 0, 0xFFFFFFFF]))
    junk = (b"LIST" + struct.pack("<I", draw(st.sampled_from([4, 0xFFFFFFF0]))) + b"INFO"
            if draw(st.booleans()) else b"")
    return (b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + junk + b"fmt " + struct.pack("<I", fmt_size) + fmt
            + extra + b"data" + struct.pack("<I", data_size) + body)


@st.composite
def huge_headers(draw: st.DrawFn) -> bytes:
    """An ID3v2 tag claiming up to 256 MB before the audio, or megabytes of header padding."""
    size = draw(st.integers(0, 0x0FFFFFFF))
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    padding = b"\0" * draw(st.sampled_from([0, 10, 100_000, 2_000_000]))
    return b"ID3\x04\x00\x00" + syncsafe + padding + draw(st.sampled_from(SAMPLES))


AUDIO = st.one_of(st.binary(max_size=4096), damaged_files(), wav_headers(), huge_headers())


@fuzz(2500)
@given(AUDIO, st.sampled_from([0.2, 5.0, 60.0]))
def test_audio_decode_refuses_bad_files_with_an_audio_error(data: bytes, max_s: float) -> None:
    refused_or_fine(lambda: decode_audio(data, max_s=max_s))


def test_a_wav_at_the_wrong_rate_is_resampled_not_refused() -> None:
    # "Wrong rate" is not bad input: any rate is resampled to 16 kHz (about the same duration out).
    pcm = decode_audio(wav(_tone(1.0, 44_100), rate=44_100))
    assert abs(len(pcm) - 16_000) < 400


# ---- the session context --------------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
                    lambda inner: (st.lists(inner, max_size=5)
                                   | st.dictionaries(st.text(max_size=20), inner, max_size=5)),
                    max_leaves=20)
CONTEXT_KEYS = [*CONTEXT, "vocabulary", "baseline", "date", "billing_method", "mode"]


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    """A real context with some keys replaced by anything (or removed)."""
    ctx = dict(CONTEXT)
    for key in draw(st.lists(st.sampled_from(CONTEXT_KEYS), max_size=4)):
        if draw(st.booleans()):
            ctx[key] = draw(JSON | st.text(max_size=2000) | st.lists(st.text(max_size=200), max_size=30))
        else:
            ctx.pop(key, None)
    return ctx


@fuzz(2500)
@given(JSON | contexts())
def test_context_json_refuses_bad_values_with_a_context_error(data: Any) -> None:
    refused_or_fine(lambda: context_from_dict(data, source="session context"))


@fuzz(500)
@given(st.binary(max_size=512) | st.text(max_size=512).map(str.encode)
       | contexts().map(lambda c: json.dumps(c).encode()).flatmap(
           lambda raw: st.integers(0, len(raw)).map(lambda n: raw[:n])))
def test_context_files_refuse_bad_bytes_with_a_context_error(raw: bytes) -> None:
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        fh.write(raw)
        fh.flush()
        refused_or_fine(lambda: load_context_file(fh.name))


# ---- protobuf messages at the bus boundaries -------------------------------------------------------

SID = "fuzz-session"


class SilentEngine:
    """Stands in for Whisper: the message checks come before any decoding."""

    def transcribe(self, *_args: Any, **_kw: Any) -> Recognition:
        return Recognition(text="")


def _mutations(real: bytes) -> st.SearchStrategy[bytes]:
    flips = st.lists(st.tuples(st.integers(0, max(0, len(real) - 1)), st.integers(0, 255)), min_size=1, max_size=8)

    def flip(changes: list[tuple[int, int]]) -> bytes:
        data = bytearray(real)
        for pos, value in changes:
            data[pos] = value
        return bytes(data)

    return st.one_of(st.integers(0, len(real)).map(lambda n: real[:n]), flips.map(flip),
                     st.binary(max_size=64).map(lambda tail: real + tail))


FLOATS = st.floats(allow_nan=True, allow_infinity=True)
INT64 = st.integers(-(2**63), 2**63 - 1)
TEXT = st.text(max_size=300)


@st.composite
def segments(draw: st.DrawFn) -> pb.TranscriptSegment:
    words = [pb.Word(start_s=draw(FLOATS), end_s=draw(FLOATS), text=draw(st.text(max_size=20)),
                     probability=draw(st.floats(width=32)))
             for _ in range(draw(st.integers(0, 4)))]
    return pb.TranscriptSegment(session_id=SID, seq=draw(INT64 | st.integers(0, 10)), start_s=draw(FLOATS),
                                end_s=draw(FLOATS), speaker=draw(st.sampled_from(["", "therapist", "patient", "x"])),
                                text=draw(TEXT), raw_text=draw(TEXT), words=words,
                                confidence=draw(st.floats(width=32)), voice_pitch_hz=draw(st.floats(width=32)),
                                speech_end_s=draw(FLOATS))


@st.composite
def drafts(draw: st.DrawFn) -> pb.DraftUpdate:
    draft = pb.DraftUpdate()
    draft.CopyFrom(REAL_DRAFT)
    draft.is_final = draw(st.booleans())
    draft.duration_s = draw(FLOATS)
    draft.version = draw(INT64)
    picked = draw(st.lists(st.integers(0, len(draft.transcript) - 1), max_size=3))
    for i in picked:
        draft.transcript[i].CopyFrom(draw(segments()))
    if draw(st.booleans()):
        draft.context.discipline = draw(st.sampled_from(["PT", "OT", "SLP", "", "XX"]))
        draft.context.payer = draw(st.sampled_from(["medicare", "", "nobody"]))
        draft.context.session_start = draw(st.sampled_from(["", "11:00", "25:99", "x"]))
        draft.context.note_type = draw(st.sampled_from(["daily", "evaluation", "", "?"]))
        draft.context.billing_method = draw(st.sampled_from(["", "cms", "per_code", "nope"]))
        draft.context.date = draw(st.sampled_from(["", "2024-01-01", "9999-99-99", "yesterday"]))
    return draft


REAL_DRAFT = gold_draft(CASE)
REAL_DRAFT.session_id = SID
REAL_SEGMENT = gold_transcript(CASE, SID)[0]
REAL_CHUNK = pb.AudioChunk(session_id=SID, seq=0, start_s=0.0, end_s=0.5, sample_rate=16_000,
                           pcm_s16le=_tone().tobytes())


async def _stages() -> dict[str, Callable[[bytes], Coroutine[Any, Any, None]]]:
    bus, store = MemoryBus(), MemoryStore()
    await store.put_context(SID, context_from_dict(CONTEXT))
    asr = AsrService(bus, store, SilentEngine())  # type: ignore[arg-type]
    drafter = DrafterService(bus, store)
    coder = CoderService(bus, store)
    return {"asr": asr.handle, "drafter segment": drafter.handle_segment, "drafter event": drafter.handle_event,
            "coder": coder.handle}


async def _run_stage(stage: str, payload: bytes) -> None:
    handler = (await _stages())[stage]
    await handler(payload)


def _handled(stage: str, payload: bytes) -> None:
    refused_or_fine(lambda: run(_run_stage(stage, payload)), BAD_MESSAGE)


@fuzz(1500)
@given(st.sampled_from(["asr", "drafter segment", "drafter event", "coder"]),
       st.binary(max_size=256) | _mutations(REAL_CHUNK.SerializeToString())
       | _mutations(REAL_SEGMENT.SerializeToString()) | _mutations(REAL_DRAFT.SerializeToString()))
def test_stage_handlers_refuse_garbage_and_damaged_messages(stage: str, payload: bytes) -> None:
    _handled(stage, payload)


@fuzz(600)
@given(segments())
def test_the_drafter_takes_any_segment_values(segment: pb.TranscriptSegment) -> None:
    _handled("drafter segment", segment.SerializeToString())


@fuzz(600)
@given(drafts())
def test_the_coder_takes_any_draft_values(draft: pb.DraftUpdate) -> None:
    _handled("coder", draft.SerializeToString())


@fuzz(300)
@given(st.builds(pb.AudioChunk, session_id=st.just(SID), seq=INT64, start_s=FLOATS, end_s=FLOATS,
                 sample_rate=st.integers(-(2**31), 2**31 - 1) | st.just(16_000), pcm_s16le=st.binary(max_size=64),
                 live=st.booleans(), speech_end_s=FLOATS))
def test_the_recogniser_takes_any_chunk_values(chunk: pb.AudioChunk) -> None:
    _handled("asr", chunk.SerializeToString())


# ---- SDP offers -----------------------------------------------------------------------------------

REAL_OFFER = """v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
a=msid-semantic: WMS
m=audio 9 UDP/TLS/RTP/SAVPF 111 0
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuvwx
a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
a=setup:actpass
a=mid:0
a=sendonly
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:0 PCMU/8000
a=ssrc:1001 cname:fuzz
""".replace("\n", "\r\n")
SDP_LINES = REAL_OFFER.strip().split("\r\n")


@st.composite
def offers(draw: st.DrawFn) -> str:
    """The real offer with lines dropped, duplicated, or replaced by a line of anything."""
    lines = list(SDP_LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["drop", "dup", "replace", "mangle"]))
        if how == "drop" and len(lines) > 1:
            del lines[i]
        elif how == "dup":
            lines.insert(i, lines[i])
        elif how == "replace":
            lines[i] = draw(st.text(max_size=80).filter(lambda s: "\r" not in s and "\n" not in s))
        else:
            key = lines[i].split(":", 1)[0]
            lines[i] = key + ":" + draw(st.text(alphabet="0123456789 abc/:=;-.IN", max_size=40))
    return "\r\n".join(lines) + "\r\n"


async def _answer(sdp: str, kind: str) -> None:
    webrtc.PUMP_END_S = 0.01  # no track ever starts here: do not wait a second for each to end
    bus, store = MemoryBus(), MemoryStore()
    ingest = IngestService(bus, store)
    sid = await ingest.start_session(context_from_dict(CONTEXT), live=True, consent=True)
    rtc = WebRtcIngest(ingest)
    try:
        await rtc.answer(sid, sdp, kind)
    finally:
        await rtc.close()
        await ingest.close()
        webrtc.PUMP_END_S = PUMP_END_S


@fuzz(700)
@given(st.text(max_size=300) | offers(), st.sampled_from(["offer", "offer", "offer", "answer", ""]))
def test_sdp_offers_are_answered_or_refused_with_an_input_error(sdp: str, kind: str) -> None:
    refused_or_fine(lambda: run(_answer(sdp, kind)))


# ---- PTP and rules files ---------------------------------------------------------------------------

PTP_TEXT = (DATA_DIR / "ptp.tsv").read_text(encoding="utf-8")
CELLS = st.one_of(st.sampled_from(["97110", "97530", "*", "", "0", "1", "9", "20200101", "99999999", "2020011"]),
                  st.text(max_size=12).filter(lambda s: "\t" not in s and "\n" not in s and "\r" not in s))


@fuzz(1200)
@given(st.text(max_size=400)
       | st.lists(st.lists(CELLS, max_size=8).map("\t".join), max_size=6).map(
           lambda rows: "Column 1\tColumn 2\n" + "\n".join(rows))
       | st.integers(0, len(PTP_TEXT)).map(lambda n: PTP_TEXT[:n]))
def test_ptp_files_refuse_bad_lines_with_a_rules_error(text: str) -> None:
    refused_or_fine(lambda: parse_ptp(text, source="ptp.tsv"))


RULE_FILES = ("payers.toml", "codes.toml", "lexicon.toml")


@st.composite
def damaged_rules(draw: st.DrawFn) -> tuple[str, bytes]:
    """One of the rules files with a line replaced, dropped or a value changed, or all anew."""
    name = draw(st.sampled_from(RULE_FILES))
    lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    how = draw(st.sampled_from(["replace", "drop", "value", "bytes"]))
    if how == "bytes":
        return name, draw(st.binary(max_size=300))
    i = draw(st.integers(0, len(lines) - 1))
    if how == "drop":
        del lines[i]
    elif how == "replace":
        lines[i] = draw(st.text(max_size=60))
    elif "=" in lines[i]:
        key = lines[i].split("=", 1)[0]
        value = draw(st.sampled_from(['""', "[]", "{}", "1", "true", '"x"', "[1, 2]", '["a", 3]', "{ a = 1 }",
                                      "1979-05-27", '"\\u0000"']))
        lines[i] = f"{key}= {value}"
    return name, "\n".join(lines).encode("utf-8", "surrogatepass")


@fuzz(700)
@given(damaged_rules())
def test_rules_files_refuse_bad_content_with_a_rules_error(damaged: tuple[str, bytes]) -> None:
    name, raw = damaged
    with tempfile.TemporaryDirectory() as tmp:
        for other in (*RULE_FILES, "ptp.tsv"):
            shutil.copy(DATA_DIR / other, Path(tmp) / other)
        (Path(tmp) / name).write_bytes(raw)
        refused_or_fine(lambda: load_rules(Path(tmp)))


def test_the_fuzzing_budget_is_ten_thousand_inputs() -> None:
    assert len(BUDGET) == 10 and sum(BUDGET) >= 10_000


# ---- the crashes fuzzing found, as plain regression tests ------------------------------------------

def test_a_connection_that_never_came_up_is_closed_promptly() -> None:
    # Its track never started, so closing the connection did not end it: shutdown waited forever.
    async def go() -> None:
        await asyncio.wait_for(_answer(REAL_OFFER, "offer"), timeout=10 * PUMP_END_S + 5)

    run(go())


def _without_dtls_role(offer: str) -> str:
    return offer.replace("a=setup:actpass\r\n", "")


def _without_codecs(offer: str) -> str:
    return "".join(line for line in offer.splitlines(keepends=True) if not line.startswith("a=rtpmap"))


@pytest.mark.parametrize("damage", [_without_dtls_role, _without_codecs])
def test_an_offer_missing_what_webrtc_needs_is_a_clear_input_error(damage: Any) -> None:
    offer = damage(REAL_OFFER)
    try:
        run(_answer(offer, "offer"))
    except InputError as exc:
        assert "unusable SDP offer" in str(exc)
    else:
        raise AssertionError(f"an offer {damage.__name__.lstrip('_').replace('_', ' ')} was answered")


def test_a_draft_with_a_context_no_ingest_would_accept_is_bad_message() -> None:
    from services.common.consumer import StageFailure

    draft = pb.DraftUpdate()
    draft.CopyFrom(REAL_DRAFT)
    draft.context.billing_method = "nope"  # the coder's units had no method to count with: ValueError
    nan_draft = pb.DraftUpdate()
    nan_draft.CopyFrom(REAL_DRAFT)
    nan_draft.transcript[0].start_s = float("nan")
    for bad in (draft, nan_draft):
        try:
            run(_run_stage("coder", bad.SerializeToString()))
        except StageFailure as exc:
            assert exc.category == "bad_message" and exc.session_id == SID
        else:
            raise AssertionError("a bad draft was coded")


