"""The clinic's API token: API clients send it as `Authorization: Bearer`, the web page signs in with it
(services/ingest/signin.py). It never goes in a URL.

SCRIBE_TOKEN wins; otherwise `scribe serve` creates a random token in the state directory
(SCRIBE_STATE_DIR, default ~/.local/state/scribe) with owner-only permissions, and local
clients read it from there.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from services.common.errors import InputError


def state_dir() -> Path:
    return Path(os.environ.get("SCRIBE_STATE_DIR", Path.home() / ".local" / "state" / "scribe"))


def token_path() -> Path:
    return state_dir() / "token"


def load_or_create_token() -> str:
    env = os.environ.get("SCRIBE_TOKEN")
    if env:
        return env
    path = token_path()
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token)
    return token


def load_token() -> str:
    env = os.environ.get("SCRIBE_TOKEN")
    if env:
        return env
    path = token_path()
    if not path.is_file():
        raise InputError(f"no API token: set SCRIBE_TOKEN or pass --token (no token file at {path})")
    return path.read_text().strip()


def token_matches(given: str, expected: str) -> bool:
    # Header bytes that are not UTF-8 reach us as lone surrogates; "surrogatepass" encodes any str,
    # so such a header is a wrong token (401), not an encoding error (500).
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def redact_url(url: str) -> str:
    """A connection URL fit for logs and messages: any password replaced by ***."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
