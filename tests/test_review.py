"""Dismissing a flag: through the HTTP API, kept with its reason, applied by the coder to later codes."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from proto import scribe_pb2 as pb
from services.coder.coding import code_draft
from services.coder.rules import load_default_rules
from services.coder.service import CoderService
from services.common import keys
from services.common.memory_bus import MemoryBus
from services.common.store import MemoryStore
from services.ingest.http import build_app
from services.ingest.service import IngestService
from tests.cases import gold_draft, load_case

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def _client(store: MemoryStore) -> TestClient:
    bus = MemoryBus()
    client = TestClient(TestServer(build_app(IngestService(bus, store), bus, store, TOKEN)))
    await client.start_server()
    return client


async def test_dismissal_is_kept_with_its_reason_on_the_final_result() -> None:
    store = MemoryStore()
    draft = gold_draft(load_case("pub-004"))  # SLP visit whose activities are never tied to a goal
    draft.session_id = "s1"
    await store.put_result(code_draft(draft, load_default_rules()))
    client = await _client(store)
    try:
        url = "/v1/sessions/s1/flags/dismiss"
        body = {"kind": "missing_goal_link", "cpt": "92507", "reason": "goal is in the signed plan of care"}
        assert (await client.post(url, json=body)).status == 401
        assert (await client.post(url, json={**body, "reason": " "}, headers=AUTH)).status == 400
        no_such = await client.post(url, json={**body, "kind": "missing_times"}, headers=AUTH)
        assert no_such.status == 400 and "no missing_times flag" in (await no_such.json())["error"]
        ok = await client.post(url, json=body, headers=AUTH)
        assert ok.status == 200
        result = await (await client.get("/v1/sessions/s1/result", headers=AUTH)).json()
    finally:
        await client.close()
    (flag,) = [f for f in result["flags"] if f["kind"] == "missing_goal_link"]
    assert flag["dismissed"] is True and flag["dismiss_reason"] == "goal is in the signed plan of care"
    assert await store.dismissals("s1") == {("missing_goal_link", "92507"): "goal is in the signed plan of care"}


async def test_coder_applies_dismissals_made_before_the_codes() -> None:
    bus, store = MemoryBus(), MemoryStore()
    draft = gold_draft(load_case("pub-009"))  # overlapping block times
    draft.session_id = "s2"
    await store.put_dismissal("s2", "overlapping_times", "97140", "concurrent billing allowed by this payer")
    await CoderService(bus, store).handle(draft.SerializeToString())
    result = await store.get_result("s2")
    assert result is not None
    (entry,) = await bus.entries(keys.CODES)
    published = pb.CodingResult.FromString(entry[1])
    for res in (result, published):
        (overlap,) = [f for f in res.flags if f.kind == "overlapping_times"]
        assert overlap.cpt == "97140" and overlap.dismissed
        assert overlap.dismiss_reason == "concurrent billing allowed by this payer"
