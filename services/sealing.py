"""Secrets at rest: a supplier's key is stored sealed (Fernet: AES-CBC + HMAC-SHA256, from the
`cryptography` package) with SECRETS_KEY, never in plain text, and opened only in memory when
the protocol needs it (to sign, to verify a signature, to send the key).

SECRETS_KEY may list several keys, newest first: new seals use the first, and any of them opens
an old seal, so a key is rotated by prepending a new one (a secret is sealed anew with the
newest key whenever it is set or rotated).
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from services.errors import InvalidState
from settings import Settings


class SealBroken(Exception):
    """A seal no key of SECRETS_KEY opens (a key was dropped, or the row was tampered with)."""


def _fernet(settings: Settings) -> MultiFernet:
    if not settings.secrets_key:
        raise InvalidState(
            "SECRETS_KEY is not set: the server cannot store a supplier's secret "
            "(see README, 'Suppliers')"
        )
    return MultiFernet([Fernet(key.encode()) for key in settings.secrets_key])


def seal(settings: Settings, secret: str) -> str:
    return _fernet(settings).encrypt(secret.encode()).decode()


def open_seal(settings: Settings, sealed: str) -> str:
    try:
        return _fernet(settings).decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SealBroken("no key of SECRETS_KEY opens this secret") from None


def new_key() -> str:
    """A fresh SECRETS_KEY value."""
    return Fernet.generate_key().decode()
