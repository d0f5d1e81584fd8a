"""A malformed credential is a wrong credential: 401, never a 500 and a traceback."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp.test_utils import TestServer

from services.common.memory_bus import MemoryBus
from services.common.store import MemoryStore
from services.ingest.http import build_app
from services.ingest.service import IngestService

TOKEN = "t0ken"


async def _raw_get(port: int, path: str, authorization: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                 b"Authorization: " + authorization + b"\r\n\r\n")
    await writer.drain()
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    return response


@pytest.mark.parametrize("authorization", [b"Bearer \xff\xfe\xfd", b"\xc3\x28 t0ken", b"Bearer t0ken\xa0"])
async def test_non_utf8_authorization_bytes_get_401(authorization: bytes, caplog: pytest.LogCaptureFixture) -> None:
    bus, store = MemoryBus(), MemoryStore()
    server = TestServer(build_app(IngestService(bus, store), bus, store, TOKEN))
    await server.start_server()
    try:
        with caplog.at_level(logging.ERROR):
            assert server.port is not None
            response = await _raw_get(server.port, "/v1/sessions/x/result", authorization)
    finally:
        await server.close()
    assert response.startswith(b"HTTP/1.1 401"), response[:200]
    assert b"missing or wrong API token" in response
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelno >= logging.ERROR]
