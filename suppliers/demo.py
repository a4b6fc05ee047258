"""The built-in `demo` supplier: a seeded catalog, a pool of fictional numbers, and (with
DEMO_AUTO_SMS_SECONDS) a realistic code SMS sent by itself after each purchase, so that a
newcomer sees the whole flow on the embedded default without any partner.

Numbers come from ranges reserved for fiction where they exist (Ofcom's 07700 900xxx, the
North American 555-01xx), so the demo never hands out somebody's real phone.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

import structlog

from models import Activation, Country, PhoneNumber, Price, Service, Supplier, SupplierKind
from services import suppliers
from services.db import IntegrityError
from services.sms import IncomingSms, ingest

if TYPE_CHECKING:
    from services.runtime import Runtime

log = structlog.get_logger("demo")
CODE = "demo"

# (ISO code, name, dial code, compat id): every country of compat.md's table, plus Iran (R11).
COUNTRIES = [
    ("RU", "Russia", "7", 0),
    ("UA", "Ukraine", "380", 1),
    ("KZ", "Kazakhstan", "7", 2),
    ("CN", "China", "86", 3),
    ("PH", "Philippines", "63", 4),
    ("ID", "Indonesia", "62", 6),
    ("MY", "Malaysia", "60", 7),
    ("VN", "Vietnam", "84", 10),
    ("IL", "Israel", "972", 13),
    ("PL", "Poland", "48", 15),
    ("GB", "United Kingdom", "44", 16),
    ("NG", "Nigeria", "234", 19),
    ("IN", "India", "91", 22),
    ("CA", "Canada", "1", 36),
    ("DE", "Germany", "49", 43),
    ("ES", "Spain", "34", 56),
    ("IR", "Iran", "98", 57),
    ("TR", "Turkey", "90", 62),
    ("BR", "Brazil", "55", 73),
    ("FR", "France", "33", 78),
    ("IT", "Italy", "39", 86),
    ("US", "United States", "1", 187),
]
# (code, name, category, sender pattern, code pattern, base price in cents, message template)
SERVICES = [
    (
        "tg",
        "Telegram",
        "messaging",
        r"telegram",
        r"\b(\d{5})\b",
        30,
        "Telegram code: {code}. Do not give this code to anyone, even if they say they are "
        "from Telegram!",
    ),
    (
        "wa",
        "WhatsApp",
        "messaging",
        r"whatsapp",
        r"\b(\d{3}-?\d{3})\b",
        45,
        "Your WhatsApp code: {code_dashed}. Don't share this code with others",
    ),
    (
        "go",
        "Google",
        "email",
        r"google|\bG-\d{6}\b",
        r"\bG-(\d{6})\b",
        25,
        "G-{code6} is your Google verification code.",
    ),
    (
        "ig",
        "Instagram",
        "social",
        r"instagram",
        r"\b(\d{3} ?\d{3})\b",
        20,
        "{code_spaced} is your Instagram code. Don't share it.",
    ),
    (
        "ds",
        "Discord",
        "messaging",
        r"discord",
        r"\b(\d{6})\b",
        15,
        "Your Discord verification code is: {code6}",
    ),
    ("qw", "Qiwi", "payments", r"qiwi", r"\b(\d{4,6})\b", 50, "QIWI code: {code6}"),
]
# Countries with a demo pool, their price multiplier, and how their fictional numbers look.
POOLS = {"GB": 1.6, "US": 2.0, "RU": 1.0, "KZ": 0.8, "ID": 0.6}
INITIAL_NUMBERS = 30


def fictional_numbers(country: Country, start: int) -> Iterator[str]:
    code = country.code
    for i in range(start, start + 100_000):
        if code == "GB":  # Ofcom's drama range 07700 900000-900999, then 07700 901xxx
            yield f"+447700{900000 + i}"
        elif code == "US":  # 555-0100..0199 in successive area codes
            yield f"+1{201 + i // 100}5550{100 + i % 100}"
        elif code == "RU":
            yield f"+7900{5550000 + i}"
        elif code == "KZ":
            yield f"+7700{5550000 + i}"
        elif code == "ID":
            yield f"+62812{5550000 + i}"
        else:  # a country without a pool of its own (benchmarks stock many): 555 after the code
            yield f"+{country.dial_code}5550{i:06d}"


async def seed(rt: Runtime) -> Supplier:
    """Idempotent: safe at every start-up, and with several processes starting at once."""
    settings = rt.settings
    # One row of the registry; its webhook secret is the setting DEMO_SUPPLIER_SECRET.
    supplier, _ = await Supplier.get_or_create(
        code=CODE,
        defaults={
            "name": "Demo supplier",
            "kind": SupplierKind.DEMO,
            "currency": settings.currency,
        },
    )
    await suppliers.open_payable_account(supplier)
    await add_countries(COUNTRIES)
    await Service.bulk_create(
        [
            Service(
                code=c,
                name=n,
                category=cat,
                sender_pattern=s,
                code_pattern=p,
                forbidden=cat == "payments",
            )
            for c, n, cat, s, p, *_ in SERVICES
        ],
        ignore_conflicts=True,
    )
    await add_prices({**POOLS, "IR": 1.0})
    countries = {c.code: c for c in await Country.all()}
    for country in POOLS:
        if not await PhoneNumber.filter(country=countries[country], supplier=supplier).exists():
            await add_numbers(supplier, countries[country], INITIAL_NUMBERS)
    # R11: a Crimean number in the pool proves the exclusion; it must never be sold.
    await PhoneNumber.bulk_create(
        [PhoneNumber(e164="+79785550000", country=countries["RU"], supplier=supplier)],
        ignore_conflicts=True,
    )
    rt.catalog.invalidate()
    return supplier


async def add_countries(rows: Iterable[tuple[str, str, str, int]]) -> None:
    """Countries (ISO code, name, dial code, compat id) the catalog lacks; others are kept."""
    await Country.bulk_create(
        [Country(code=c, name=n, dial_code=d, compat_id=i) for c, n, d, i in rows],
        ignore_conflicts=True,
    )


async def add_prices(multipliers: Mapping[str, float]) -> None:
    """Every demo service offered in these countries (by ISO code), at its base price times the
    country's multiplier; prices already set are kept."""
    countries = {c.code: c for c in await Country.filter(code__in=list(multipliers))}
    services = {s.code: s for s in await Service.all()}
    prices = [
        Price(
            country=countries[country],
            service=services[code],
            price_minor=round(base * multiplier),
            cost_minor=round(base * multiplier * 0.6),
        )
        for country, multiplier in multipliers.items()
        for code, _n, _c, _s, _p, base, _t in SERVICES
    ]
    await Price.bulk_create(prices, ignore_conflicts=True)


async def add_numbers(supplier: Supplier, country: Country, how_many: int) -> None:
    start = await PhoneNumber.filter(country=country, supplier=supplier).count()
    numbers = fictional_numbers(country, start)
    await PhoneNumber.bulk_create(
        [
            PhoneNumber(e164=next(numbers), country=country, supplier=supplier)
            for _ in range(how_many)
        ],
        ignore_conflicts=True,
    )


async def restock(rt: Runtime) -> None:
    """A SIM bank swaps in fresh SIMs: keep every demo offer above DEMO_POOL_MIN_FREE."""
    settings = rt.settings
    supplier = await Supplier.get_or_none(code=CODE)
    if supplier is None:
        return
    low = {
        o.country.code
        for o in await rt.catalog.offers()
        if o.country.code in POOLS and o.available < settings.demo_pool_min_free
    }
    for code in low:
        await add_numbers(supplier, await Country.get(code=code), settings.demo_pool_restock)
    if low:
        rt.catalog.invalidate()


def message_for(service_code: str) -> tuple[str, str]:
    """A realistic SMS text for the service, and its sender."""
    template = next((s for s in SERVICES if s[0] == service_code), SERVICES[0])
    code6 = f"{secrets.randbelow(900_000) + 100_000}"
    text = template[6].format(
        code=code6[:5],
        code6=code6,
        code_dashed=f"{code6[:3]}-{code6[3:]}",
        code_spaced=f"{code6[:3]} {code6[3:]}",
    )
    return text, template[1]


class AutoSms:
    """With DEMO_AUTO_SMS_SECONDS, the demo supplier "sends" a code that long after each
    purchase of one of its numbers (and after each request for another SMS)."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._tasks: set[asyncio.Task[None]] = set()

    def install(self) -> None:
        self._rt.hooks.after_purchase.append(self.send_code_later)
        self._rt.hooks.after_another_sms_requested.append(self.send_code_later)

    async def send_code_later(self, activation: Activation) -> None:
        delay = self._rt.settings.demo_auto_sms_seconds
        if delay is None:
            return
        number = await PhoneNumber.get(id=activation.number_id).prefetch_related("supplier")
        if number.supplier.code != CODE:
            return
        service = await Service.get(id=activation.service_id)
        task = asyncio.create_task(self._deliver_after(delay, number, service))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_after(self, delay: float, number: PhoneNumber, service: Service) -> None:
        await asyncio.sleep(delay)
        text, sender = message_for(service.code)
        message = IncomingSms(
            supplier=number.supplier,
            message_id=f"demo-{uuid.uuid4()}",
            to=number.e164,
            sender=sender,
            text=text,
            received_at=self._rt.clock.now(),
        )
        try:
            outcome = await ingest(self._rt, message)
            log.info("demo SMS sent", to=number.e164, service=service.code, outcome=outcome.value)
        except (IntegrityError, OSError):
            log.exception("demo SMS failed", to=number.e164)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
