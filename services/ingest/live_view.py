"""Terminal views of a live session for `scribe stream` and `scribe listen` (rich).

Committed segments print as permanent lines; the current partial is one transient status line
(stable words bold, the tentative tail dim) that the next partial or commit replaces.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.text import Text

from services.common.errors import InputError
from services.ingest.live_client import LiveClient


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{seconds % 60:04.1f}"


class FeedView:
    """Turns feed events into terminal output; `final` holds the last final codes event."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = Live(Text(""), console=console, transient=True, auto_refresh=False)
        self.final: dict[str, Any] | None = None

    def show(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "partial":
            stable = event.get("stable", "")
            tail = event["text"][len(stable):] if event["text"].startswith(stable) else " " + event["text"]
            line = Text(f"[{_clock(event['start_s'])}] … ", style="dim")
            line.append(stable, style="bold").append(tail, style="dim italic")
            self.live.update(line, refresh=True)
        elif kind == "segment":
            self.live.update(Text(""), refresh=True)
            if event["text"]:
                self.console.print(f"[cyan][{_clock(event['start_s'])}][/cyan] {event['text']}", highlight=False)
        elif kind == "codes":
            codes = ", ".join(f"{c['cpt']}x{c['units']}" for c in event.get("codes", [])) or "none yet"
            if event.get("is_final"):
                self.final = event
            self.live.update(Text(f"codes: {codes}", style="green"), refresh=True)
        elif kind == "session":
            self.console.print(f"[dim]session {event['kind']}[/dim]")
        elif kind == "error":
            self.console.print(f"[red]{event['stage']}: {event['category']}[/red]")


async def listen_session(url: str, token: str, session_id: str, console: Console) -> None:
    view = FeedView(console)
    async with LiveClient(url, token) as client:
        with view.live:
            async for event in client.events(session_id):
                view.show(event)


async def stream_file(url: str, token: str, pcm: np.ndarray, context: dict[str, Any], speed: float,
                      console: Console, timeout_s: float = 600.0) -> dict[str, Any]:
    """Start a live session, play `pcm` into it over WebRTC, show its feed, stop it, return the result."""
    view = FeedView(console)
    async with LiveClient(url, token) as client:
        sid = await client.start(context, consent=True)
        console.print(f"[dim]session {sid}: streaming {len(pcm) / 16000:.0f} s of audio at {speed:g}x[/dim]")

        async def follow() -> None:
            async for event in client.events(sid):
                view.show(event)

        with view.live:
            feed = asyncio.create_task(follow())
            pc, track = await client.stream_webrtc(sid, pcm, speed)
            try:
                await track.finished.wait()
                await asyncio.sleep(0.3)  # the last frames still in the network
            finally:
                await pc.close()
            await client.stop(sid)
            try:
                await asyncio.wait_for(feed, timeout_s)
            except TimeoutError:
                feed.cancel()
        result = await client.result(sid, wait_s=30.0)
    if result is None:
        raise InputError(f"no final result for session {sid}")
    return result
