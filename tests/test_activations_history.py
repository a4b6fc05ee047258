"""History (R7): activations and transactions are kept, listed newest first in bounded
pages with checked cursors, and no mutation deletes them.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from models import Transfer
from tests.api import Api, User

pytestmark = pytest.mark.usefixtures("ledger_is_consistent")  # every test ends with a clean audit


# -- R7: history is kept and cannot be deleted -------------------------------------------------
async def test_r7_no_mutation_deletes_activations_or_transactions(api: Api) -> None:
    data = await api.gql("{ __schema { mutationType { fields { name args { name } } } } }")
    fields = data["__schema"]["mutationType"]["fields"]
    assert {"buyNumber", "cancelActivation"} <= {f["name"] for f in fields}  # it is the real list
    history_words = ("activation", "transaction", "transfer", "history", "sms", "message", "ledger")
    for field in fields:
        name = field["name"].lower()
        if not name.startswith(("delete", "remove", "purge", "erase", "clear", "destroy")):
            continue
        described = " ".join([name, *(a["name"].lower() for a in field["args"])])
        assert not any(word in described for word in history_words), field


async def test_r7_history_lists_everything_newest_first_in_pages(api: Api) -> None:
    user = await api.funded_user("5.00")
    bought = [await api.bought(user, "RU", service) for service in ("tg", "wa", "go", "ig", "ds")]
    await api.act(user, "cancelActivation", bought[1]["id"])  # a refund is history too

    ids = [a["id"] for a in await pages(api, user, "activations", first=2, expected_pages=3)]
    assert ids == [a["id"] for a in reversed(bought)]

    entries = await pages(api, user, "transactions", first=4, expected_pages=2)
    assert [e["kind"] for e in entries] == ["REFUND", *["PURCHASE"] * 5, "ADJUSTMENT"]
    assert [int(e["id"]) for e in entries] == sorted((int(e["id"]) for e in entries), reverse=True)
    assert await Transfer.filter(activation__user_id=user.id).count() == 6  # 5 holds + 1 void

    waiting = [a["id"] for a in reversed(bought) if a is not bought[1]]
    for statuses, first, expected in (
        ("[CANCELLED]", 5, [bought[1]["id"]]),
        ("[WAITING_SMS]", 3, waiting[:3]),
    ):
        data = await api.gql(
            f"{{ activations(status: {statuses}, first: {first}) {{ edges {{ node {{ id }} }}"
            " pageInfo { hasNextPage } } }",
            token=user.token,
        )
        assert [e["node"]["id"] for e in data["activations"]["edges"]] == expected, statuses
        assert data["activations"]["pageInfo"]["hasNextPage"] is (statuses == "[WAITING_SMS]")


NODE_FIELDS = {"activations": "id", "transactions": "id kind"}


async def pages(
    api: Api, user: User, connection: str, *, first: int, expected_pages: int
) -> list[dict[str, Any]]:
    """Walks a connection with first/after; checks hasNextPage and endCursor on every page."""
    nodes: list[dict[str, Any]] = []
    after = None
    for page in range(expected_pages):
        data = await api.gql(
            f"query($f: Int, $a: String) {{ {connection}(first: $f, after: $a) {{"
            f" edges {{ cursor node {{ {NODE_FIELDS[connection]} }} }}"
            " pageInfo { hasNextPage endCursor } } }",
            {"f": first, "a": after},
            token=user.token,
        )
        result = data[connection]
        edges = result["edges"]
        last = page == expected_pages - 1
        assert result["pageInfo"]["hasNextPage"] is not last
        assert 1 <= len(edges) <= first
        assert last or len(edges) == first
        assert result["pageInfo"]["endCursor"] == edges[-1]["cursor"]
        nodes += [e["node"] for e in edges]
        after = result["pageInfo"]["endCursor"]
    return nodes


BAD_PAGES = [
    (0, None),
    (-1, None),
    (101, None),
    (5, "garbage!"),
    (5, "Z2FyYmFnZQ=="),
    (5, ""),
    (5, base64.urlsafe_b64encode(b"other:5").decode()),
    (5, base64.urlsafe_b64encode(b"activation:-1").decode()),
    (5, base64.urlsafe_b64encode(b"activation:0").decode()),
    (5, base64.urlsafe_b64encode(b"transaction:x").decode()),
]


async def test_r7_page_size_is_bounded_and_cursors_are_checked(api: Api) -> None:
    user = await api.funded_user("1.00")
    for connection in ("activations", "transactions"):
        for first, after in BAD_PAGES:
            answer = await api.post(
                f"query($f: Int, $a: String) {{ {connection}(first: $f, after: $a)"
                " { edges { cursor } } }",
                {"f": first, "a": after},
                token=user.token,
            )

            case = (connection, first, after, answer)
            assert answer.get("data") is None or answer["data"].get(connection) is None, case
            codes = [e["extensions"]["code"] for e in answer["errors"]]
            assert codes == ["INVALID_INPUT"], case


async def test_r7_largest_page_size_is_accepted(api: Api) -> None:
    user = await api.funded_user("1.00")
    for connection in ("activations", "transactions"):
        data = await api.gql(
            f"{{ {connection}(first: {api.rt.settings.max_page_size}) {{ edges {{ cursor }} }} }}",
            token=user.token,
        )
        assert len(data[connection]["edges"]) == (1 if connection == "transactions" else 0)
