"""The reads written out as SQL (services/joined.py, services/db.py) give what the ORM gives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models import Credential, User
from services import accounts, joined
from services.db import fetch_row, text_array
from tests.api import Api


async def test_the_written_credential_read_makes_the_models_the_orm_makes(api: Api) -> None:
    user = await api.register()
    token_hash = accounts.hash_secret(user.token)
    row = await fetch_row(accounts._credential_statement(), token_hash)
    assert row is not None
    found = joined.objects(accounts._CREDENTIAL_TABLES, row)

    expected = await Credential.get(token_hash=token_hash).select_related("user")
    credential, owner = found["c"], found["u"]
    assert isinstance(credential, Credential)
    assert isinstance(owner, User)
    # Every column, foreign keys included (the columns are read after tortoise's init).
    assert "user_id" in joined.columns(Credential)
    for model, made, orm in ((Credential, credential, expected), (User, owner, expected.user)):
        assert not made._partial
        assert {c: getattr(made, c) for c in joined.columns(model)} == {
            c: getattr(orm, c) for c in joined.columns(model)
        }


def test_text_arrays_refuse_what_the_text_cast_would_misread() -> None:
    aware = datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert text_array([7, "pending", None, aware]) == [
        "7",
        "pending",
        None,
        "2026-12-01T10:00:00.123456+00:00",
    ]
    # A naive datetime would be read in the session's time zone; True as "True".
    for value in (datetime(2026, 12, 1, 10, 0), True, b"7", 7.5):  # noqa: DTZ001
        with pytest.raises(TypeError, match="no text form"):
            text_array([value])
