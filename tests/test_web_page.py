"""The clinician web page in a real browser: Debian's Chromium (driven by Playwright) captures a public
case from its fake microphone (a WAV file) over WebRTC into the real ingest app and pipeline.

Chromium is the system package (/usr/bin/chromium, or SCRIBE_CHROMIUM); `playwright install` is never
used. .ci/run and `make test` (as root) install it; without it these tests fail, they do not skip.
"""

from __future__ import annotations

import json
import os
import re
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, Request, async_playwright, expect

from proto import scribe_pb2 as pb
from services.asr.engine import WhisperEngine
from services.common import keys
from services.common.memory_bus import MemoryBus
from services.common.redis_bus import RedisBus
from services.common.store import MemoryStore, RedisStore
from services.ingest.audio import SAMPLE_RATE, decode_audio
from services.ingest.http import build_app
from services.ingest.service import IngestService
from services.pipeline import EMBEDDED_POLICY
from tests.cases import case_audio, load_case
from tests.test_live_stack import TOKEN, LiveStack

CHROMIUM = os.environ.get("SCRIBE_CHROMIUM", "/usr/bin/chromium")
CASE = load_case("pub-004")
EXCERPT_S = 25.0  # the dictated header, the session times and the treatment code
LEAD_SILENCE_S = 1.0  # the first fraction of a second is lost before the connection is up
SLOW_MS = 90_000  # recognition on a shared 2-core machine


@pytest.fixture(scope="module")
def mic_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the fake microphone plays: silence, then the start of a public case, 16 kHz mono s16."""
    pcm = decode_audio(case_audio(CASE["id"]))[: int(EXCERPT_S * SAMPLE_RATE)]
    pcm = np.concatenate([np.zeros(int(LEAD_SILENCE_S * SAMPLE_RATE), np.int16), pcm])
    path = tmp_path_factory.mktemp("mic") / "pub-004-excerpt.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return path


@asynccontextmanager
async def chromium(wav: Path | None = None, mic: str = "allow") -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"these tests need Chromium at {CHROMIUM}: `apt-get install -y chromium` "
                    "(.ci/run and `make test` as root do it), or set SCRIBE_CHROMIUM")
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream" + ("=deny" if mic == "deny" else "")]
    if wav is not None:
        args.append(f"--use-file-for-fake-audio-capture={wav}%noloop")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def ingest_only(port: int, token: str = TOKEN) -> AsyncIterator[tuple[IngestService, MemoryBus]]:
    """The ingest API alone (no recogniser): enough for the refusals, which happen before any audio."""
    bus, store = MemoryBus(EMBEDDED_POLICY), MemoryStore()
    ingest = IngestService(bus, store)
    runner = web.AppRunner(build_app(ingest, bus, store, token))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield ingest, bus
    finally:
        await runner.cleanup()


async def open_page(browser: Browser, url: str, token: str = TOKEN) -> tuple[Page, list[str], list[Request]]:
    """The page, signed in with `token` through its own form (the session cookie is HttpOnly)."""
    page = await browser.new_page()
    console: list[str] = []
    requests: list[Request] = []
    page.on("console", lambda msg: console.append(msg.text))
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    page.on("request", lambda req: requests.append(req))
    resp = await page.goto(f"{url}/app")
    assert resp is not None and resp.status == 200
    await sign_in(page, token)
    await expect(page.locator("#signin")).to_be_hidden()
    return page, console, requests


async def sign_in(page: Page, token: str) -> None:
    await expect(page.locator("#signin")).to_be_visible()  # not signed in yet: the page asks
    await page.fill("#signin-token", token)
    await page.click("#signin-submit")


def no_credential_in_urls(requests: list[Request], token: str = TOKEN) -> None:
    """Nothing the page asked for carries the token or a session id in its URL."""
    assert requests and not [r.url for r in requests if token in r.url or "token=" in r.url]


async def fill_context(page: Page) -> None:
    ctx = CASE["context"]
    await page.fill("#patient", "TEST-004")
    await page.select_option("#discipline", ctx["discipline"])
    await page.select_option("#note_type", ctx["note_type"])
    await page.select_option("#payer", ctx["payer"])
    await page.select_option("#billing_method", ctx["billing_method"])
    await page.select_option("#mode", "dictation")
    await page.fill("#session_start", ctx["session_start"])
    await page.fill("#diagnosis", ctx["diagnosis"])
    await page.fill("#goals", "\n".join(ctx["goals"]))


# Counts the partial line's changes while it shows text (an observer on the page, not a stand-in for it).
COUNT_PARTIALS = """() => {
  window.partialsShown = 0;
  const line = document.querySelector("#partial");
  new MutationObserver(() => { if (line.textContent) window.partialsShown++; })
    .observe(line, {subtree: true, childList: true, characterData: true});
}"""


def webrtc_posts(requests: list[Request]) -> list[Request]:
    return [r for r in requests if r.url.endswith("/webrtc")]


async def test_live_session_from_the_microphone(redis_url: str, engine: WhisperEngine, free_port: int,
                                                mic_wav: Path) -> None:
    async with LiveStack(RedisBus(redis_url), RedisStore(redis_url), engine, free_port) as stack, \
            chromium(mic_wav) as browser:
        page, console, requests = await open_page(browser, stack.url)
        await fill_context(page)
        await page.check("#consent")
        await page.evaluate(COUNT_PARTIALS)
        await page.click("#start")
        await expect(page.locator("#status")).to_have_text("Recording", timeout=15_000)
        # committed lines with the case's words (a wrong WAV path would send silence, not fail)
        segments = page.locator("#segments li span")
        await expect(segments.first).to_contain_text(re.compile(r"aphasia|speech therapy", re.I), timeout=SLOW_MS)
        await expect(page.locator("#segments li time").first).to_have_text(re.compile(r"^00:0\d$"))
        await expect(page.locator("#codes tbody")).to_contain_text("92507", timeout=SLOW_MS)  # live codes
        await expect(segments.nth(1)).to_contain_text(re.compile(r"session", re.I), timeout=SLOW_MS)  # the times
        await page.click("#stop")
        await expect(page.locator("#codes-state")).to_have_text("final", timeout=SLOW_MS)
        await expect(page.locator("#status")).to_contain_text("Done")
        row = page.locator("#codes tbody tr", has_text="92507")
        await expect(row).to_contain_text("GN")  # the SLP modifier Medicare wants
        await expect(row).to_contain_text("45")  # "from eleven o'clock to eleven forty five"
        assert await page.locator("#note li").count() >= 1
        assert await page.evaluate("window.partialsShown") > 0  # partials were shown while speaking ...
        assert await page.locator("#partial").inner_text() == ""  # ... and none is left after the commits
        shown = [t.lower() for t in await segments.all_inner_texts()]
        assert len(webrtc_posts(requests)) == 1
        no_credential_in_urls(requests)
        cookies = await page.context.cookies()
        assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [("scribe_session", True, "Strict")]
        assert TOKEN not in cookies[0]["value"]
    words = {w for t in shown for w in re.findall(r"[a-z]{5,}", t)}
    assert words and not any(w in line.lower() for line in console for w in words)  # no patient words logged
    assert not [line for line in console if line.startswith("pageerror")]


async def test_start_without_consent_shows_the_refusal_and_sends_no_audio(free_port: int) -> None:
    async with ingest_only(free_port) as (_ingest, bus), chromium() as browser:
        page, _console, requests = await open_page(browser, f"http://127.0.0.1:{free_port}")
        await page.click("#json-box summary")  # the pasted-JSON path this time
        await page.fill("#context-json", json.dumps(CASE["context"]))
        await page.click("#use-json")
        await expect(page.locator("#discipline")).to_have_value("SLP")
        await page.click("#start")
        error = page.locator("#error")
        await expect(error).to_contain_text("403")
        await expect(error).to_contain_text("consent")
        await expect(page.locator("#start")).to_be_enabled()
        assert not webrtc_posts(requests)
        assert not await bus.entries(keys.SESSIONS) and not await bus.entries(keys.UTTERANCES)


async def test_a_wrong_token_is_refused_clearly(free_port: int) -> None:
    url = f"http://127.0.0.1:{free_port}"
    async with chromium() as browser:
        async with ingest_only(free_port, token="old-token"):
            page, _console, requests = await open_page(browser, url, token="old-token")
            direct = await browser.new_page()
            await direct.goto(f"{url}/app")
            await sign_in(direct, "wrong")
            await expect(direct.locator("#error")).to_contain_text("refused this clinic token (401)")
            await expect(direct.locator("#signin")).to_be_visible()
            assert not await direct.context.cookies()
            resp = await direct.goto(f"{url}/app?token=old-token")  # an old bookmark: refused, said why
            assert resp is not None and resp.status == 400
            await expect(direct.locator("body")).to_contain_text("credential in the URL")
        async with ingest_only(free_port, token="new-token") as (_ingest, bus):  # restarted: sign-ins are gone
            await fill_context(page)
            await page.check("#consent")
            await page.click("#start")
            await expect(page.locator("#error")).to_contain_text(re.compile(r"not signed in.*\(401\).*sign in", re.S))
            await expect(page.locator("#signin")).to_be_visible()
            assert not await bus.entries(keys.SESSIONS)
            await sign_in(page, "new-token")
            await expect(page.locator("#signin")).to_be_hidden()
            assert await page.evaluate("fetch('/v1/me').then((r) => r.status)") == 200  # the new cookie works
            no_credential_in_urls(requests, "old-token")


async def test_a_denied_microphone_is_explained_and_the_session_closed(free_port: int) -> None:
    async with ingest_only(free_port) as (ingest, bus), chromium(mic="deny") as browser:
        page, _console, requests = await open_page(browser, f"http://127.0.0.1:{free_port}")
        await fill_context(page)
        await page.check("#consent")
        await page.click("#start")
        await expect(page.locator("#error")).to_contain_text("Microphone access was denied")
        await expect(page.locator("#start")).to_be_enabled()
        assert not webrtc_posts(requests)
        kinds = [pb.SessionEvent.FromString(p).kind for _id, p in await bus.entries(keys.SESSIONS)]
        assert kinds == [pb.SessionEvent.STARTED, pb.SessionEvent.STOPPED]  # opened, then closed with no audio
        assert not await bus.entries(keys.UTTERANCES)
