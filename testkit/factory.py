"""Users, numbers, purchases and SMS made through the services: the app's own write paths, so
that what a benchmark (or a test that needs many of them) sets up cannot drift from what the app
writes. Every function takes the runtime `rt` of the app whose database it writes, open and
active: `services.runtime.opened(settings)` in a script, a test server's runtime in a test.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from models import Activation, Country, Price, Service, Supplier
from services import accounts, activations, balances, policy
from services.accounts import Viewer
from services.runtime import Runtime
from services.sms import IncomingSms, Outcome, ingest
from suppliers import demo

PASSWORD = "factory password 1"  # noqa: S105 - of throw-away accounts in throw-away databases
T = TypeVar("T")


@dataclass(frozen=True)
class NewUser:
    id: int
    email: str
    token: str  # a session token: `Authorization: Bearer <token>`


async def in_batches(
    make: Callable[[int], Awaitable[T]], count: int, *, concurrency: int = 20
) -> list[T]:
    """make(0) ... make(count - 1), at most `concurrency` at a time (a bounded database pool)."""
    results: list[T] = []
    for start in range(0, count, concurrency):
        stop = min(count, start + concurrency)
        results += await asyncio.gather(*(make(i) for i in range(start, stop)))
    return results


# -- accounts -----------------------------------------------------------------------------------
async def users(rt: Runtime, count: int, *, tag: str = "factory") -> list[NewUser]:
    """`count` new accounts, each signed in once, all with the password PASSWORD. The password is
    hashed once: argon2 is slow on purpose, and a benchmark needs thousands of users."""
    password_hash = await accounts.hash_password(PASSWORD)
    run = secrets.token_hex(4)

    async def one(i: int) -> NewUser:
        email = f"{tag}-{run}-{i}@example.com"
        token, user = await accounts.open_account(rt, email, password_hash, ip=None)
        return NewUser(user.id, user.email, token)

    return await in_batches(one, count)


async def viewer(rt: Runtime, token: str) -> Viewer:
    found = await accounts.authenticate(rt, token)
    assert found is not None, "not a live session or API key"
    return found


async def admin(rt: Runtime) -> Viewer:
    """The admin of the runtime's ADMIN_EMAIL / ADMIN_PASSWORD, signed in."""
    email, password = rt.settings.admin_email, rt.settings.admin_password
    assert email, "ADMIN_EMAIL must be set"
    assert password, "ADMIN_PASSWORD must be set"
    token, _ = await accounts.login(rt, email, password, ip=None)
    return await viewer(rt, token)


async def fund(
    rt: Runtime, admin: Viewer, user_id: int, amount: str, reason: str = "factory top-up"
) -> None:
    """An admin's balance adjustment (a ledger entry), as `adjustBalance` makes it."""
    await balances.adjust(rt, admin, user_id, amount, reason, ip=None)


# -- the catalog and its numbers ----------------------------------------------------------------
async def demo_supplier() -> Supplier:
    return await Supplier.get(code=demo.CODE)


async def numbers(rt: Runtime, country_code: str, how_many: int) -> None:
    """Fresh numbers of the demo supplier in one country (its pool's, or a generic range)."""
    supplier = await demo_supplier()
    await demo.add_numbers(supplier, await Country.get(code=country_code), how_many)
    rt.catalog.invalidate()


async def stock(
    rt: Runtime,
    country_count: int,
    *,
    extra_countries: Iterable[tuple[str, str, str, int]] = (),
    numbers_each: int,
) -> list[tuple[str, str]]:
    """`country_count` countries on sale, each with every demo service offered and
    `numbers_each` new numbers, through the demo supplier's own catalog steps (countries the
    catalog lacks come from `extra_countries`: ISO code, name, dial code, compat id). The demo
    pools' countries come first. Returns the offers as (country code, service code)."""
    await demo.add_countries(extra_countries)
    priced = {price.country_id for price in await Price.all()}
    on_sale = [c for c in await Country.all().order_by("code") if policy.country_on_sale(c)]
    chosen = sorted(on_sale, key=lambda c: c.id not in priced)[:country_count]
    assert len(chosen) == country_count, f"only {len(chosen)} countries can be on sale"
    await demo.add_prices({c.code: 1.0 for c in chosen if c.id not in priced})
    supplier = await demo_supplier()
    for country in chosen:
        await demo.add_numbers(supplier, country, numbers_each)
    rt.catalog.invalidate()
    services = [s for s in await Service.all().order_by("code") if policy.service_on_sale(s)]
    return [(c.code, s.code) for c in chosen for s in services]


# -- purchases and SMS --------------------------------------------------------------------------
async def buy(rt: Runtime, token: str, country: str, service: str) -> Activation:
    """`buyNumber` for the holder of `token` (the number is on `activation.number`)."""
    request = activations.BuyRequest(country, service)
    return await activations.buy(rt, await viewer(rt, token), request, ip=None)


async def sms(
    rt: Runtime,
    supplier: Supplier,
    to: str,
    text: str,
    *,
    sender: str | None = "Telegram",
    message_id: str | None = None,
) -> Outcome:
    """An SMS from `supplier` to the number `to`, ingested as its signed webhook would be."""
    message = IncomingSms(
        supplier=supplier,
        message_id=message_id or f"factory-{uuid.uuid4()}",
        to=to,
        sender=sender,
        text=text,
        received_at=rt.clock.now(),
    )
    return await ingest(rt, message)
