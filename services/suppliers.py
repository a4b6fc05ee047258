"""The supplier registry (issue 8; docs/adr/0009): the suppliers numbers and SMS come from, as
admins manage them and as the rest of the services see them.

A supplier's secret is generated here when the protocol lets us choose it (the generic webhook's
signing secret, the SMSHub key, the Android app's signing key), returned once to the admin who
created or rotated it, and stored only sealed (services/sealing.py). The demo supplier's secret
is the setting DEMO_SUPPLIER_SECRET, so its row holds none.
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, overload

import httpx
from tortoise import connections

from models import (
    AccountKind,
    Country,
    LedgerAccount,
    PhoneNumber,
    Service,
    Supplier,
    SupplierCost,
    SupplierKind,
    SupplierState,
)
from models.ledger import HOT_ACCOUNT_SHARDS
from services import activity, money, sealing, sim_pool, supplier_health
from services.accounts import Viewer, require_admin
from services.db import Connection, IntegrityError, atomic, is_postgres
from services.errors import InvalidInput, InvalidState, NotFound
from services.ids import parse_id
from settings import Settings

if TYPE_CHECKING:
    from services.runtime import Runtime

MAX_CODE_LENGTH = 40
CODE = re.compile(r"[a-z0-9-]{2,32}")  # used with fullmatch: it appears in webhook paths
#: Kinds whose secret we choose (generated when the admin gives none, then shown once).
GENERATED_SECRET_KINDS = (
    SupplierKind.WEBHOOK,
    SupplierKind.SMSHUB_AGENT,
    SupplierKind.ANDROID_GATEWAY,
)
ENTERED_BY_ADMIN = "entered-by-admin"  # the "device" of the SIM numbers an admin enters
MAX_ENTERED_NUMBERS = 64
E164 = re.compile(r"\+[1-9][0-9]{6,14}")  # used with fullmatch
URL_KINDS = (SupplierKind.SMSHUB_AGENT, SupplierKind.UPSTREAM)
#: Kinds that deliver through the generic signed webhook `POST /suppliers/{code}/sms`.
WEBHOOK_KINDS = (SupplierKind.DEMO, SupplierKind.WEBHOOK)


@dataclass(frozen=True)
class NewSupplier:
    code: str
    name: str
    kind: SupplierKind
    url: str | None = None
    api_key: str | None = None
    currency: str | None = None
    default_cost: Decimal | None = None
    numbers: list[str] | None = None


@dataclass(frozen=True)
class SupplierChanges:
    """What updateSupplier changes; None leaves a field as it is."""

    name: str | None = None
    url: str | None = None
    api_key: str | None = None
    state: SupplierState | None = None
    default_cost: Decimal | None = None
    numbers: list[str] | None = None


# -- as the rest of the services see suppliers ----------------------------------------------------
async def receiving(code: str, kinds: tuple[SupplierKind, ...]) -> Supplier | None:
    """The supplier of this code if it may deliver through an endpoint of these kinds: a
    disabled one, or one of another kind, is treated as unknown, so its request changes nothing
    (a webhook is never trusted blindly). A paused one still delivers to what it has sold."""
    # One statement written out (docs/adr/0017): every SMS a supplier delivers asks this first,
    # and building the query through the ORM cost more CPU than running it.
    values = [code[:MAX_CODE_LENGTH], *(kind.value for kind in kinds), SupplierState.DISABLED.value]
    _, rows = await connections.get("default").execute_query(
        _receiving_statement(is_postgres(), len(kinds)), values
    )
    return Supplier._init_from_db(**dict(rows[0])) if rows else None


@functools.cache
def _receiving_statement(postgres: bool, kinds: int) -> str:
    marks = [f"${n}" if postgres else "?" for n in range(1, kinds + 3)]
    kind_marks = ", ".join(marks[1:-1])
    return " ".join(
        ["SELECT * FROM supplier", f"WHERE code = {marks[0]} AND kind IN ({kind_marks})"]
        + [f"AND state <> {marks[-1]} LIMIT 1"]
    )


def secret_of(settings: Settings, supplier: Supplier) -> str | None:
    """The supplier's key or signing secret in plain text, for the protocol to use now."""
    if supplier.kind == SupplierKind.DEMO:
        return settings.demo_supplier_secret
    if supplier.secret_sealed is None:
        return None
    return sealing.open_seal(settings, supplier.secret_sealed)


def payable_shards(supplier_id: int) -> list[LedgerAccount]:
    """A new supplier's payable account: HOT_ACCOUNT_SHARDS rows (docs/adr/0019)."""
    return [
        LedgerAccount(kind=AccountKind.PAYABLE, supplier_id=supplier_id, shard=shard)
        for shard in range(HOT_ACCOUNT_SHARDS)
    ]


async def open_payable_account(supplier: Supplier) -> None:
    """Idempotent, and safe with several processes starting at once (the demo's seed)."""
    await LedgerAccount.bulk_create(payable_shards(supplier.id), ignore_conflicts=True)


async def complete_payable_shards() -> None:
    """Every supplier's payable account in all its shards: a supplier registered by a process
    older than migration 0014 (still running while it ran) has shard 0 only (docs/adr/0019)."""
    supplier_ids: list[Any] = await Supplier.all().values_list("id", flat=True)
    shards = [shard for supplier_id in supplier_ids for shard in payable_shards(int(supplier_id))]
    await LedgerAccount.bulk_create(shards, ignore_conflicts=True)  # one statement at start-up


async def owed_minor(supplier_ids: list[int]) -> dict[int, int]:
    """What the shop owes each supplier: its payable account's balance (its shards' sum)."""
    rows = await LedgerAccount.filter(kind=AccountKind.PAYABLE, supplier_id__in=supplier_ids)
    owed = dict.fromkeys((int(row.supplier_id or 0) for row in rows), 0)
    for row in rows:
        owed[int(row.supplier_id or 0)] += row.balance_minor
    return owed


# -- admin operations -----------------------------------------------------------------------------
async def listing(rt: Runtime, admin: Viewer) -> list[Supplier]:
    """Every supplier, its health measured afresh."""
    require_admin(admin)
    await supplier_health.refresh(rt)
    return await Supplier.all().order_by("code")


async def create(
    rt: Runtime, admin: Viewer, new: NewSupplier, *, ip: str | None
) -> tuple[Supplier, str | None]:
    """Registers a supplier with its payable account; returns it and the secret to show once
    (None when the admin gave the key: they know it already)."""
    require_admin(admin)
    settings = rt.settings
    code = new.code.strip()
    if not CODE.fullmatch(code):
        raise InvalidInput("code: 2 to 32 lower-case letters, digits and dashes", field="code")
    if new.kind == SupplierKind.DEMO:
        raise InvalidInput("the demo supplier is made by DEMO_SUPPLIER=on", field="kind")
    sims = await _entered_sims(new.kind, new.numbers, supplier_id=None)
    url = _url(new.url, new.kind)
    shown: str | None = None
    key = _api_key(new.api_key)
    if key is None and new.kind in GENERATED_SECRET_KINDS:
        key = shown = secrets.token_urlsafe(32)
    if key is None:
        raise InvalidInput("apiKey: this kind needs our API key at the upstream", field="apiKey")
    row: dict[str, Any] = {
        "code": code,
        "name": _name(new.name),
        "kind": new.kind,
        "url": url,
        "currency": _currency(settings, new.currency),
        "default_cost_minor": _cost(settings, new.default_cost),
        "secret_sealed": sealing.seal(settings, key),
    }
    try:
        async with atomic() as conn:
            supplier = await Supplier.create(**row, using_db=conn)
            await LedgerAccount.bulk_create(payable_shards(supplier.id), using_db=conn)
            await _log(conn, admin, "supplier created", supplier, ip)
    except IntegrityError:
        raise InvalidInput("a supplier with this code exists", field="code") from None
    if sims is not None:
        await sim_pool.learn_device(rt, supplier, ENTERED_BY_ADMIN, sims)
    rt.catalog.invalidate()
    return supplier, shown


async def update(
    rt: Runtime, admin: Viewer, supplier_id: str, changes: SupplierChanges, *, ip: str | None
) -> Supplier:
    require_admin(admin)
    supplier = await _get(supplier_id)
    sims = await _entered_sims(supplier.kind, changes.numbers, supplier_id=supplier.id)
    values: dict[str, Any] = {}
    if changes.name is not None:
        values["name"] = _name(changes.name)
    endpoint_changes = changes.url is not None or changes.api_key is not None
    if endpoint_changes and supplier.kind == SupplierKind.DEMO:
        raise InvalidInput("the demo supplier has no endpoint; its secret is a setting")
    if changes.url is not None:
        values["url"] = _url(changes.url, supplier.kind)
    if (key := _api_key(changes.api_key)) is not None:
        values["secret_sealed"] = sealing.seal(rt.settings, key)
    if changes.default_cost is not None:
        values["default_cost_minor"] = _cost(rt.settings, changes.default_cost)
    if changes.state is not None:
        values |= {"state": changes.state, "paused_reason": None}
        if changes.state == SupplierState.ACTIVE:
            values["consecutive_failures"] = 0
    changed = sorted(values) + ([] if sims is None else ["numbers"])
    if changed:
        async with atomic() as conn:
            if values:
                await Supplier.filter(id=supplier.id).using_db(conn).update(**values)
            await _log(conn, admin, "supplier updated", supplier, ip, changed)
    if sims is not None:
        await sim_pool.learn_device(rt, supplier, ENTERED_BY_ADMIN, sims)
    rt.catalog.invalidate()
    return await Supplier.get(id=supplier.id)


async def rotate_secret(
    rt: Runtime, admin: Viewer, supplier_id: str, *, ip: str | None
) -> tuple[Supplier, str]:
    """A new secret, returned once; the old one stops working at once (it is overwritten)."""
    require_admin(admin)
    supplier = await _get(supplier_id)
    if supplier.kind not in GENERATED_SECRET_KINDS:
        raise InvalidState(
            "this supplier's key is not ours to choose: set it with updateSupplier(apiKey)"
            if supplier.kind == SupplierKind.UPSTREAM
            else "the demo supplier's secret is the setting DEMO_SUPPLIER_SECRET"
        )
    secret = secrets.token_urlsafe(32)
    async with atomic() as conn:
        await (
            Supplier.filter(id=supplier.id)
            .using_db(conn)
            .update(secret_sealed=sealing.seal(rt.settings, secret))
        )
        await _log(conn, admin, "supplier secret rotated", supplier, ip)
    return await Supplier.get(id=supplier.id), secret


async def set_cost(
    rt: Runtime,
    admin: Viewer,
    supplier_id: str,
    country: str | None,
    service: str | None,
    cost: Decimal,
    *,
    ip: str | None,
) -> Supplier:
    """What the supplier is paid for an activation of one offer, or (no country and no
    service) its default cost."""
    require_admin(admin)
    supplier = await _get(supplier_id)
    cost_minor = _cost(rt.settings, cost, field="cost")
    if (country is None) != (service is None):
        raise InvalidInput("give both country and service, or neither (the default cost)")
    async with atomic() as conn:
        if country is None or service is None:
            await (
                Supplier.filter(id=supplier.id).using_db(conn).update(default_cost_minor=cost_minor)
            )
            offer = "default"
        else:
            found = await _offer(country, service)
            await SupplierCost.update_or_create(
                supplier_id=supplier.id,
                country_id=found[0].id,
                service_id=found[1].id,
                defaults={"cost_minor": cost_minor},
                using_db=conn,
            )
            offer = f"{found[0].code}/{found[1].code}"
        await _log(conn, admin, "supplier cost set", supplier, ip, [offer])
    return await Supplier.get(id=supplier.id)


async def _offer(country_code: str, service_code: str) -> tuple[Country, Service]:
    country = await Country.get_or_none(code=country_code.strip().upper()[:2])
    if country is None:
        raise InvalidInput("no such country", field="country")
    service = await Service.get_or_none(code=service_code.strip().lower()[:20])
    if service is None:
        raise InvalidInput("no such service", field="service")
    return country, service


async def _get(supplier_id: str) -> Supplier:
    supplier = await Supplier.get_or_none(id=parse_id(supplier_id, what="supplier", field="id"))
    if supplier is None:
        raise NotFound("no such supplier", field="id")
    return supplier


async def _log(
    conn: Connection,
    admin: Viewer,
    action: str,
    supplier: Supplier,
    ip: str | None,
    fields: Any = (),
) -> None:
    detail = supplier.code + (f": {', '.join(fields)}" if fields else "")
    await activity.record(conn, action, user_id=None, actor_id=admin.user_id, ip=ip, detail=detail)


# -- input ---------------------------------------------------------------------------------------
def _name(raw: str) -> str:
    name = raw.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("name: 1 to 100 characters", field="name")
    return name


def _url(raw: str | None, kind: SupplierKind) -> str | None:
    if raw is None or not raw.strip():
        if kind in URL_KINDS:
            raise InvalidInput("url: this kind of supplier is reached at a URL", field="url")
        return None
    url = raw.strip()
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidInput("url: an http:// or https:// URL", field="url")
    if len(url) > 500:
        raise InvalidInput("url: at most 500 characters", field="url")
    return url


def _api_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    key = raw.strip()
    if not 8 <= len(key) <= 200:
        raise InvalidInput("apiKey: 8 to 200 characters", field="apiKey")
    return key


def _currency(settings: Settings, raw: str | None) -> str:
    currency = (raw or settings.currency).strip().upper()
    if currency != settings.currency:
        # Costs are paid out of the shop's own revenue: no exchange rates are kept yet.
        raise InvalidInput(
            f"currency: only the shop currency {settings.currency}", field="currency"
        )
    return currency


@overload
def _cost(settings: Settings, raw: Decimal, *, field: str = ...) -> int: ...
@overload
def _cost(settings: Settings, raw: None, *, field: str = ...) -> None: ...
@overload
def _cost(settings: Settings, raw: Decimal | None, *, field: str = ...) -> int | None: ...
def _cost(settings: Settings, raw: Decimal | None, *, field: str = "defaultCost") -> int | None:
    if raw is None:
        return None
    minor = money.to_minor(raw, field=field, limit_minor=settings.max_price_minor)
    if minor < 0:
        raise InvalidInput(f"{field} must not be negative", field=field)
    return minor


async def _entered_sims(
    kind: SupplierKind, numbers: list[str] | None, *, supplier_id: int | None
) -> list[sim_pool.Sim] | None:
    """An Android gateway's SIM numbers as an admin enters them (the phone also reports them,
    services/sim_pool.py): each E.164, placeable in a country, and no other supplier's."""
    if numbers is None:
        return None
    if kind != SupplierKind.ANDROID_GATEWAY:
        raise InvalidInput("numbers: only an Android gateway's SIMs are entered", field="numbers")
    if len(numbers) > MAX_ENTERED_NUMBERS:
        raise InvalidInput(f"numbers: at most {MAX_ENTERED_NUMBERS}", field="numbers")
    sims = []
    for slot, raw in enumerate(numbers, start=1):
        e164 = raw.strip()
        taken = await PhoneNumber.filter(e164=e164).exclude(supplier_id=supplier_id or 0).exists()
        if not E164.fullmatch(e164) or taken or await sim_pool.country_of(e164) is None:
            raise InvalidInput(
                f"numbers: {e164[:20]!r} is not an E.164 number of a known country, or is "
                "another supplier's",
                field="numbers",
            )
        sims.append(sim_pool.Sim(slot, e164))
    return sims
