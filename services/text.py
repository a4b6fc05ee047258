"""Text that users send: checked in one place before any service keeps it or acts on it.

Every string a user chooses (an email, a password, an API key's name, a reason, a note, an
idempotency key) goes through one of these. None of them may hold a control character (NUL,
ESC and the terminal sequences it starts), a format character (the bidi overrides such as
U+202E that make text read backwards, zero-width spaces and joiners), a line or paragraph
separator, a surrogate, a private-use or an unassigned code point: they have no place in a
name or an address and serve only to hide or disguise what is shown to a person, an admin's
screen or a log.

Text that people read (names, reasons, emails) is also brought to Unicode's NFKC form, so that
full-width `ｍｅ@ｅｘａｍｐｌｅ.ｃｏｍ` is `me@example.com` and two spellings that look the same
are the same. Not so for what is compared byte for byte and never shown: passwords (a hash of
the exact text is stored, and normalising now would lock out whoever chose a password before)
and idempotency keys (a client's opaque identifiers, which must never merge).
"""

from __future__ import annotations

import unicodedata

from services.errors import InvalidInput

# Cc control, Cf format (bidi, zero-width), Cs surrogate, Co private use, Cn unassigned,
# Zl / Zp line and paragraph separators.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def has_hidden_characters(text: str) -> bool:
    # isprintable() (in C) is false for every refused category, and for a few spaces we allow.
    return not text.isprintable() and any(
        unicodedata.category(char) in REFUSED_CATEGORIES for char in text
    )


def refuse_hidden_characters(text: str, *, field: str) -> str:
    if has_hidden_characters(text):
        raise InvalidInput(
            f"{field} must not contain control, formatting or invisible characters", field=field
        )
    return text


def normalized(raw: str) -> str:
    """NFKC, without surrounding white space: how readable text is compared and kept."""
    return unicodedata.normalize("NFKC", raw).strip()


def readable(raw: str, *, field: str, max_length: int, min_length: int = 1) -> str:
    """A name, a reason or a note: normalised, free of hidden characters, of a bounded length."""
    text = refuse_hidden_characters(normalized(raw), field=field)
    _check_length(text, field=field, min_length=min_length, max_length=max_length)
    return text


def opaque(raw: str, *, field: str, max_length: int, min_length: int = 1) -> str:
    """An identifier a client chose (an idempotency key): stripped and checked, not changed."""
    text = refuse_hidden_characters(raw.strip(), field=field)
    _check_length(text, field=field, min_length=min_length, max_length=max_length)
    return text


def _check_length(text: str, *, field: str, min_length: int, max_length: int) -> None:
    if not min_length <= len(text) <= max_length:
        raise InvalidInput(f"{field} needs {min_length} to {max_length} characters", field=field)
