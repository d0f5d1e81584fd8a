"""Client side of live capture, for `scribe stream`, `scribe listen`, the tests and bench/live.py:
start a live session, stream audio into it over WebRTC, read its event feed (SSE)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection

from services.common.errors import InputError
from services.ingest.webrtc import FileTrack, connect_track


class LiveClient:
    """One HTTP client session against a running ingest API (`async with LiveClient(url, token)`)."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> LiveClient:
        self._http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.token}"},
                                           timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._http is not None:
            await self._http.close()

    @property
    def http(self) -> aiohttp.ClientSession:
        assert self._http is not None, "use `async with LiveClient(...)`"
        return self._http

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self.http.request(method, f"{self.url}{path}", **kwargs) as resp:
                body: dict[str, Any] = await resp.json(content_type=None)
                if resp.status >= 400:
                    raise InputError(f"server answered {resp.status}: {body.get('error', resp.reason)}")
                return body
        except aiohttp.ClientConnectionError as exc:
            raise InputError(f"cannot reach the scribe server at {self.url} ({type(exc).__name__}); "
                             "is `scribe serve` running?") from None

    async def start(self, context: dict[str, Any], consent: bool = True) -> str:
        body = await self._call("POST", "/v1/sessions", json={"context": context, "consent": consent})
        return str(body["session_id"])

    async def pause(self, sid: str) -> None:
        await self._call("POST", f"/v1/sessions/{sid}/pause")

    async def resume(self, sid: str) -> None:
        await self._call("POST", f"/v1/sessions/{sid}/resume")

    async def stop(self, sid: str) -> dict[str, Any]:
        return await self._call("POST", f"/v1/sessions/{sid}/stop")

    async def result(self, sid: str, wait_s: float = 30.0) -> dict[str, Any] | None:
        async with self.http.get(f"{self.url}/v1/sessions/{sid}/result", params={"wait": str(wait_s)}) as resp:
            body: dict[str, Any] = await resp.json(content_type=None)
            if resp.status >= 400:
                raise InputError(f"server answered {resp.status}: {body.get('error', resp.reason)}")
            return body if resp.status == 200 else None

    async def stream_webrtc(self, sid: str, pcm: np.ndarray, speed: float = 1.0) -> tuple[RTCPeerConnection, FileTrack]:
        """Start sending `pcm` (16 kHz mono int16) over WebRTC; await `track.finished` for the end."""
        track = FileTrack(pcm, speed=speed)
        return await self.connect(sid, track), track

    async def connect(self, sid: str, track: MediaStreamTrack) -> RTCPeerConnection:
        """Send `track` to the session over WebRTC (HTTP signalling)."""

        async def signal(sdp: str, kind: str) -> tuple[str, str]:
            answer = await self._call("POST", f"/v1/sessions/{sid}/webrtc", json={"sdp": sdp, "type": kind})
            return answer["sdp"], answer["type"]

        return await connect_track(track, signal)

    async def events(self, sid: str) -> AsyncIterator[dict[str, Any]]:
        """The session's feed until its final codes (Server-Sent Events)."""
        async with self.http.get(f"{self.url}/v1/sessions/{sid}/events") as resp:
            if resp.status >= 400:
                body = await resp.json(content_type=None)
                raise InputError(f"server answered {resp.status}: {body.get('error', resp.reason)}")
            data: list[str] = []
            async for raw in resp.content:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    yield json.loads("\n".join(data))
                    data = []
