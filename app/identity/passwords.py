"""Console passwords: the rule a new one must meet, and Argon2id hashing.

Hashing is slow on purpose (tens of milliseconds of CPU): it runs in a worker thread so the
event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import unicodedata
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 200
_HASHER = PasswordHasher()  # Argon2id, the library's (RFC 9106) defaults
# Hashed once, compared with when no account matches: an unknown e-mail costs as much time
# as a wrong password, so timing does not tell which addresses have accounts.
_DUMMY = _HASHER.hash("not a password of anyone")


@functools.cache
def common_passwords() -> frozenset[str]:
    """A short list of passwords people pick most often, in French and English."""
    text = (Path(__file__).parent / "common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line.strip())


def _normal(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def weakness(password: str, *, email: str | None = None) -> str | None:
    """Why a new password is refused, in French; None when it will do."""
    password = _normal(password)
    if len(password) < MIN_LENGTH:
        return f"Le mot de passe doit compter au moins {MIN_LENGTH} caractères."
    if len(password) > MAX_LENGTH:
        return f"Le mot de passe doit compter au plus {MAX_LENGTH} caractères."
    folded = password.casefold()
    if folded in common_passwords() or len(set(folded)) < 4:
        return "Ce mot de passe est trop courant ; choisissez-en un autre."
    if email and email.casefold().split("@", 1)[0] in folded:
        return "Le mot de passe ne doit pas contenir votre adresse électronique."
    return None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, _normal(password))


async def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches the stored hash (no hash: never, at the same cost)."""

    def check() -> bool:
        try:
            return _HASHER.verify(stored or _DUMMY, _normal(password)) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)
