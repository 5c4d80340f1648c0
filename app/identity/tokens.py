"""API token secrets: `gpo_<random>`, stored only as an HMAC-SHA256 under GPO_SECRET_KEY."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "gpo_"  # noqa: S105 - a prefix, not a secret


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(secret_key: str, token: str) -> str:
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def display_prefix(token: str) -> str:
    """Enough of the token to recognise it in a list, far too little to use it."""
    return token[:10]
