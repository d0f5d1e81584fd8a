"""Redis connections that outlast a Redis restart, and the tell between an outage and a wrong setting.

Every client retries a failed command on a fresh connection with redis-py's own Retry and
ExponentialBackoff, which bridges a blip (about a second). A longer outage surfaces as a
ConnectionError; the loops above (services/common/outage.py) wait it out, and ingest holds its
writes meanwhile (services/ingest/outbox.py). A wrong password or URL is not an outage: it is
reported at start as a configuration error.
"""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, AuthorizationError, ConnectionError, TimeoutError

from services.common.auth import redact_url
from services.common.errors import InputError

# A command is tried 1 + RETRIES times, waiting 0.1, 0.2, 0.4, 0.5 s between: a blip passes unseen,
# an outage is reported within about 1.2 s (so an HTTP request answers 503 instead of hanging).
RETRIES = 4
RETRY_BASE_S = 0.05
RETRY_CAP_S = 0.5
# A host that drops packets (instead of refusing) would otherwise hold a connect for minutes.
CONNECT_TIMEOUT_S = 5.0
DEFAULT_START_WAIT_S = 60.0  # how long a worker waits at start for a Redis that is not up yet

_CONFIG_ERRORS = (AuthenticationError, AuthorizationError)


class RedisUnavailable(Exception):
    """Redis did not answer within the time a worker waits for it at start."""


def client(url: str) -> aioredis.Redis:
    """A client that reconnects by itself (see RETRIES); one per purpose, never shared with a blocking read."""
    return aioredis.Redis.from_url(
        url,
        retry=Retry(ExponentialBackoff(cap=RETRY_CAP_S, base=RETRY_BASE_S), RETRIES),
        retry_on_error=[ConnectionError, TimeoutError],
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_keepalive=True,
    )


def is_outage(exc: BaseException) -> bool:
    """True when Redis is away (wait and retry); a refused password is a setting, not an outage."""
    return isinstance(exc, (ConnectionError, TimeoutError)) and not isinstance(exc, _CONFIG_ERRORS)


def check_url(url: str) -> None:
    """Reject a URL redis-py cannot use (wrong scheme, bad port) before anything connects."""
    try:
        parse_url(url)
    except ValueError as exc:
        raise InputError(f"bad Redis URL {redact_url(url)}: {exc}") from None


async def wait_until_up(conn: aioredis.Redis, wait_s: float) -> None:
    """PING until Redis answers, for at most wait_s; a refused password raises at once.

    Why wait at all: machines and containers start in any order, and a worker that gives up at
    once on a Redis still booting would be restarted in a tight loop.
    """
    deadline = time.monotonic() + wait_s
    backoff = ExponentialBackoff(cap=2.0, base=0.1)
    failures = 0
    while True:
        try:
            await conn.ping()
            return
        except Exception as exc:
            if not is_outage(exc):
                raise
            failures += 1
            pause = backoff.compute(failures)
            if time.monotonic() + pause > deadline:
                raise RedisUnavailable(f"no answer after {wait_s:.0f} s ({type(exc).__name__})") from None
            await asyncio.sleep(pause)
