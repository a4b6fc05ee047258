"""Settlement (issue 8): a capture credits the supplier its cost and the shop its margin, in
the transaction of the first SMS; a refund credits neither; `Supplier.owed` is the supplier's
payable account, and the audit re-derives it from the activations (services/audit.py).
"""

from __future__ import annotations

from decimal import Decimal

from tortoise.expressions import F

from models import AccountKind, Activation, LedgerAccount, Transfer, TransferKind
from services import audit, ledger, suppliers
from tests import supplier_helpers as sh
from tests.api import Api


async def owed_to_demo(api: Api) -> Decimal:
    return Decimal((await sh.listed(api))["demo"]["owed"]["amount"])


async def revenue_minor() -> int:
    return await ledger.revenue_minor()


async def transfers_of(activation_id: str) -> list[tuple[TransferKind, int]]:
    rows = await Transfer.filter(activation_id=int(activation_id)).order_by("id")
    return [(t.kind, t.amount_minor) for t in rows]


async def test_capture_credits_the_supplier_its_cost_and_the_shop_its_margin(
    api: Api, ledger_is_consistent: None
) -> None:
    buyer = await api.funded_user()
    owed_before, revenue_before = await owed_to_demo(api), await revenue_minor()
    activation = await api.bought(buyer, "GB", "tg")
    row = await Activation.get(id=int(activation["id"]))
    assert 0 < row.cost_minor < row.price_minor  # the offer's cost, recorded at purchase
    assert await owed_to_demo(api) == owed_before  # nothing is owed before a code arrives

    response = await api.deliver_sms(activation["phoneNumber"], "Telegram code: 48213")
    assert response.json() == {"status": "delivered"}

    margin = row.price_minor - row.cost_minor
    assert await owed_to_demo(api) == owed_before + Decimal(row.cost_minor) / 100
    assert await revenue_minor() == revenue_before + margin
    assert await transfers_of(activation["id"]) == [
        (TransferKind.HOLD, row.price_minor),
        (TransferKind.CAPTURE, row.price_minor),
        (TransferKind.COST, row.cost_minor),
    ]


async def test_a_refund_credits_neither_supplier_nor_shop(
    api: Api, ledger_is_consistent: None
) -> None:
    buyer = await api.funded_user()
    owed_before, revenue_before = await owed_to_demo(api), await revenue_minor()
    activation = await api.bought(buyer, "GB", "tg")
    cancelled = await api.act(buyer, "cancelActivation", activation["id"])
    assert cancelled["errors"] == []
    assert (await owed_to_demo(api), await revenue_minor()) == (owed_before, revenue_before)
    kinds = [kind for kind, _ in await transfers_of(activation["id"])]
    assert kinds == [TransferKind.HOLD, TransferKind.VOID]


async def test_owed_is_each_suppliers_payable_balance(api: Api) -> None:
    listed = await sh.listed(api)
    owed = {code: Decimal(s["owed"]["amount"]) for code, s in listed.items()}
    balances = await suppliers.owed_minor([int(s["id"]) for s in listed.values()])
    assert owed == {code: Decimal(balances[int(s["id"])]) / 100 for code, s in listed.items()}


async def test_the_audit_notices_a_payable_account_that_disagrees(api: Api) -> None:
    demo_id = int((await sh.listed(api))["demo"]["id"])
    payable = LedgerAccount.filter(kind=AccountKind.PAYABLE, supplier_id=demo_id)
    await payable.update(balance_minor=F("balance_minor") + 1)
    try:
        found = await audit.supplier_violations()
    finally:
        await payable.update(balance_minor=F("balance_minor") - 1)
    assert [p for p in found if p.startswith(f"payable account of supplier {demo_id}:")]
    assert await audit.supplier_violations() == []
