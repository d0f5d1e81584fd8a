"""Small request bodies (a context, a dismissal, an SDP offer) read with a bound.

aiohttp's `client_max_size` is set for audio uploads (hundreds of MB); a JSON body is read only up
to its own, much smaller bound, so a 5 MB "context" is refused (413) before it is parsed.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from services.common.errors import InputError, TooLarge

READ_CHUNK = 64 * 1024


async def read_json(request: web.Request, max_bytes: int, what: str) -> Any:
    """The request's JSON body; TooLarge past max_bytes, InputError when it is not JSON."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise TooLarge(f"{what} is larger than {max_bytes // 1024} KiB")
    body = bytearray()
    async for chunk in request.content.iter_chunked(READ_CHUNK):  # no Content-Length: count as it comes
        body += chunk
        if len(body) > max_bytes:
            raise TooLarge(f"{what} is larger than {max_bytes // 1024} KiB")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{what} is not valid JSON") from None
    except RecursionError:  # "[[[[..." 64 KiB deep
        raise InputError(f"{what} is nested too deeply") from None
