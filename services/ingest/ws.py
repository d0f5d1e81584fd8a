"""WebSocket audio ingest (aiohttp) for clients that cannot do WebRTC, and the SSE results feed.

GET /v1/sessions/{id}/audio/ws?format=pcm&rate=48000&channels=2   (or format=opus)
    binary messages: interleaved s16le samples at `rate`/`channels` (whole sample frames), or one
    Opus packet each (48 kHz); text messages: {"type": "pause" | "resume" | "stop"}.
    The server answers control messages with {"type": ...} acks; on stop with last_seq/duration_s.
    A binary message that is not audio (an empty or undecodable Opus packet) gets
    {"type": "error", "error"} and is skipped; the socket stays open. After MAX_BAD_PACKETS such
    messages in a row the server closes with 1003 (unsupported data): the client sends something else.
    A closed or lost connection leaves the session open (reconnect, or POST .../stop later).
    While Redis is away the audio is held; past the hold's bound the server sends
    {"type": "error", "error", "retry_after_s"} and closes with 1013 (try again later): the audio of
    that message was not taken, and the session stays open for a reconnect.
GET /v1/sessions/{id}/events   text/event-stream: session, partial, segment, draft, codes, error.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
from aiohttp import WSCloseCode, WSMsgType, web

from services.common.bus import Bus
from services.common.errors import AudioError, InputError
from services.common.export import result_to_dict
from services.common.feed import session_feed
from services.common.store import SessionStore
from services.ingest.live import OpusDecoder, Resampler
from services.ingest.outbox import BufferFull
from services.ingest.service import IngestService, UnknownSession

MAX_RATE = 192_000
MAX_BAD_PACKETS = 50  # one second of 20 ms packets: past this the client is not sending Opus at all
PING_EVERY_S = 10.0  # SSE comment lines, so proxies and dead listeners are noticed


class _PcmInput:
    def __init__(self, rate: int, channels: int) -> None:
        self.rate, self.channels = rate, channels
        self._resampler = Resampler()
        self._carry = b""  # a message may end mid sample frame

    def packet(self, data: bytes) -> np.ndarray:
        data = self._carry + data
        whole = len(data) - len(data) % (2 * self.channels)
        self._carry = data[whole:]
        return self._resampler.pcm(data[:whole], self.rate, self.channels) if whole else np.zeros(0, np.int16)

    def flush(self) -> np.ndarray:
        return self._resampler.flush()


def _input_for(query: Any) -> _PcmInput | OpusDecoder:
    fmt = query.get("format", "pcm")
    if fmt == "opus":
        return OpusDecoder()
    if fmt != "pcm":
        raise InputError("format must be pcm (s16le) or opus")
    try:
        rate, channels = int(query.get("rate", "16000")), int(query.get("channels", "1"))
    except ValueError:
        raise InputError("rate and channels must be integers") from None
    if not 8000 <= rate <= MAX_RATE or channels not in (1, 2):
        raise InputError(f"rate must be 8000-{MAX_RATE} Hz and channels 1 or 2")
    return _PcmInput(rate, channels)


async def audio_ws(request: web.Request, ingest: IngestService) -> web.StreamResponse:
    sid = request.match_info["sid"]
    capture = ingest.capture(sid)
    if capture is None or not capture.live:
        raise UnknownSession(f"no open live session {sid}")
    decoder = _input_for(request.query)
    ws = web.WebSocketResponse(max_msg_size=4 * 1024 * 1024, heartbeat=20.0)
    await ws.prepare(request)
    ingest.attach(sid)
    stopped = False
    bad = 0
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                try:
                    pcm = decoder.packet(msg.data)
                except AudioError as exc:  # skipped, said, and the session goes on
                    bad += 1
                    await ws.send_json({"type": "error", "error": str(exc)})
                    if bad >= MAX_BAD_PACKETS:
                        await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"not audio in the declared format")
                        break
                    continue
                bad = 0
                await ingest.add_audio(sid, pcm)
            elif msg.type == WSMsgType.TEXT:
                stopped = await _control(ws, ingest, sid, msg.data, decoder)
                if stopped:
                    break
    except UnknownSession:
        stopped = True  # stopped over HTTP meanwhile
    except BufferFull as exc:  # refused, not dropped: the client is told and may send it again later
        await ws.send_json({"type": "error", "error": str(exc), "retry_after_s": exc.retry_after_s})
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"ingest buffer full")
    finally:
        if not stopped:
            await ingest.detach(sid, decoder.flush())
    await ws.close()
    return ws


async def _control(ws: web.WebSocketResponse, ingest: IngestService, sid: str, text: str,
                   decoder: _PcmInput | OpusDecoder) -> bool:
    try:
        kind = json.loads(text).get("type")
    except (ValueError, AttributeError):
        kind = None
    if kind == "pause":
        await ingest.pause(sid)
    elif kind == "resume":
        await ingest.resume(sid)
    elif kind == "stop":
        await ingest.add_audio(sid, decoder.flush(), tail=True)
        event = await ingest.stop_session(sid)
        await ws.send_json({"type": "stopped", "last_seq": event.last_seq, "duration_s": event.duration_s})
        return True
    else:
        await ws.send_json({"type": "error", "error": "expected {\"type\": \"pause\" | \"resume\" | \"stop\"}"})
        return False
    await ws.send_json({"type": kind})
    return False


async def events_sse(request: web.Request, ingest: IngestService, bus: Bus, store: SessionStore) -> web.StreamResponse:
    sid = request.match_info["sid"]
    capture = ingest.capture(sid)
    final = await store.get_result(sid) if capture is None else None
    if capture is None and final is None:
        raise UnknownSession(f"no live session {sid} on this server")
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    if final is not None:  # finished before the listener came: the final result is all there is
        await _send(resp, {"type": "codes", "version": final.version, "is_final": True, **result_to_dict(final)})
        return resp
    assert capture is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    last_write = loop.time()
    try:
        async for event in session_feed(bus, sid, capture.start_entry_id, stop):
            if event["type"] == "ping":
                if loop.time() - last_write < PING_EVERY_S:
                    continue
                await resp.write(b": ping\n\n")
            else:
                await _send(resp, event)
            last_write = loop.time()
    except (ConnectionResetError, ConnectionError):
        pass  # the listener went away
    finally:
        stop.set()
    return resp


async def _send(resp: web.StreamResponse, event: dict[str, Any]) -> None:
    await resp.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
