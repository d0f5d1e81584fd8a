"""Client side of `scribe submit`: upload a file to a running `scribe serve`, wait for the result."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from services.common.auth import load_token
from services.common.errors import InputError


class ServerError(InputError):
    """The server refused the request; its message is shown as is."""


async def _check(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        body: dict[str, Any] = await resp.json(content_type=None)
    except (aiohttp.ContentTypeError, ValueError):
        body = {}
    if resp.status >= 400:
        raise ServerError(f"server answered {resp.status}: {body.get('error', resp.reason)}")
    return body


async def submit_file(url: str, token: str | None, audio: Path, context: dict[str, Any],
                      timeout_s: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token or load_token()}"}
    deadline = time.monotonic() + timeout_s
    try:
        async with aiohttp.ClientSession(url, headers=headers) as http:
            async with http.post("/v1/sessions", json=context) as resp:
                sid = (await _check(resp))["session_id"]
            async with http.put(f"/v1/sessions/{sid}/audio", data=await asyncio.to_thread(audio.read_bytes)) as resp:
                await _check(resp)
            async with http.post(f"/v1/sessions/{sid}/stop") as resp:
                await _check(resp)
            while time.monotonic() < deadline:
                wait = max(1, min(30, int(deadline - time.monotonic())))
                async with http.get(f"/v1/sessions/{sid}/result", params={"wait": str(wait)}) as resp:
                    body = await _check(resp)
                    if resp.status == 200:
                        return body
    except aiohttp.ClientConnectionError as exc:
        raise InputError(
            f"cannot reach the scribe server at {url} ({type(exc).__name__}); is `scribe serve` running?"
        ) from None
    raise InputError(f"no result within {timeout_s:.0f} s (session {sid})")


async def dismiss_flag(url: str, token: str | None, session_id: str, kind: str, cpt: str,
                       reason: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token or load_token()}"}
    try:
        async with aiohttp.ClientSession(url, headers=headers) as http:
            async with http.post(f"/v1/sessions/{session_id}/flags/dismiss",
                                 json={"kind": kind, "cpt": cpt, "reason": reason}) as resp:
                return await _check(resp)
    except aiohttp.ClientConnectionError as exc:
        raise InputError(f"cannot reach the scribe server at {url} ({type(exc).__name__})") from None
