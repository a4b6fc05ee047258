"""services/webhook_acks.py: delivered POSTs recorded a batch at a time, and a row the
database refuses failing its own sender only (the others recorded, not left claimed)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from services import webhook_acks
from services.webhook_acks import Delivered


def delivered(delivery_id: int, status_code: int = 200) -> Delivered:
    now = datetime.now(UTC)
    return Delivered(delivery_id, now, now, status_code, "ok", delivery_id, "token")


async def test_posts_delivered_together_are_written_in_one_statement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    statements: list[list[int]] = []

    async def execute(rows: list[Delivered]) -> None:
        statements.append([row.delivery_id for row in rows])

    monkeypatch.setattr(webhook_acks, "_execute", execute)
    acks = webhook_acks.Acknowledgements()
    await asyncio.gather(*(acks.record(delivered(i)) for i in range(5)))
    await acks.record(delivered(5))  # after the first batch: one of its own
    assert statements == [[0, 1, 2, 3, 4], [5]]
    await acks.close()


async def test_a_row_the_database_refuses_fails_only_its_own_sender(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[int] = []

    async def execute(rows: list[Delivered]) -> None:
        if any(row.status_code == 999 for row in rows):
            raise ValueError("refused by the database")
        written.extend(row.delivery_id for row in rows)

    monkeypatch.setattr(webhook_acks, "_execute", execute)
    acks = webhook_acks.Acknowledgements()
    rows = [delivered(1), delivered(2), delivered(3, status_code=999), delivered(4)]
    results = await asyncio.gather(*(acks.record(r) for r in rows), return_exceptions=True)
    assert results[:2] == [None, None]
    assert isinstance(results[2], ValueError)
    assert results[3] is None
    assert written == [1, 2, 4]
    await acks.close()
