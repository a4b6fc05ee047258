"""One function per action of contract/compat.md: parse the parameters, call the services, print.

Every rule (R1-R18) is the services'; a function here only translates. Parameters the protocol
marks optional may be absent; a required one that is missing or malformed is refused with the
protocol's token for it before any service is called.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from compat import countries
from compat.answers import Answer, JsonValue, amount, moment, phone
from compat.errors import Refused, Token, wrong_max_price
from models import Activation, Country, Sms
from models.activations import LIVE_STATUSES
from services import activations, ledger, money, sms
from services.accounts import Viewer
from services.activations import Progress
from services.errors import InvalidInput
from services.money import currency_number
from services.runtime import Runtime

_ACTIVATION_ID = re.compile(r"^[0-9]{1,10}$")


@dataclass(frozen=True)
class Call:
    rt: Runtime
    viewer: Viewer
    params: Mapping[str, str]
    ip: str | None

    def param(self, name: str) -> str | None:
        """The parameter, stripped; an empty one counts as missing."""
        return self.params.get(name, "").strip() or None


Action = Callable[[Call], Awaitable[Answer]]


# -- balance ------------------------------------------------------------------------------
async def get_balance(call: Call) -> Answer:
    balance = await ledger.balance_minor(call.viewer.user_id)
    return f"ACCESS_BALANCE:{money.format_minor(balance)}"


# -- buying (R1, R9, R11) -----------------------------------------------------------------
async def get_number(call: Call) -> Answer:
    activation = await _buy(call)
    return f"ACCESS_NUMBER:{activation.id}:{phone(activation.number.e164)}"


async def get_number_v2(call: Call) -> Answer:
    activation = await _buy(call)
    country, _ = await call.rt.catalog.names_of(activation.country_id, activation.service_id)
    return {
        "activationId": activation.id,
        "phoneNumber": phone(activation.number.e164),
        "activationCost": amount(activation.price_minor),
        "currency": currency_number(activation.currency),
        "countryCode": str(country.compat_id),
        "canGetAnotherSms": True,  # R3: any number of SMS within the window
        "activationTime": moment(activation.created_at),
        "activationOperator": activation.number.operator,
    }


async def _buy(call: Call) -> Activation:
    # `operator` is accepted and ignored: numbers are not sold by operator (getOperators: "any").
    service = call.param("service")
    if service is None:
        raise Refused(Token.BAD_SERVICE)
    country = await countries.resolve(call.rt, call.param("country"))
    # An amount is taken as written, not stripped like the other parameters: " 5" is refused
    # as "１２" and "1e2" are (services/money.py).
    max_price = call.params.get("maxPrice") or None
    request = activations.BuyRequest(country.code, service, max_price)
    try:
        return await activations.buy(call.rt, call.viewer, request, ip=call.ip)
    except InvalidInput as error:
        # A maxPrice that is no amount at all (negative, "abc", 1e400) gets the answer of one
        # below the price: the protocol's WRONG_MAX_PRICE with the current price.
        if error.field != "maxPrice":
            raise
        offers = await call.rt.catalog.offers(country.code, service)
        if not offers:
            raise
        raise Refused(wrong_max_price(offers[0].price_minor)) from None


# -- one activation -----------------------------------------------------------------------
def _activation_id(call: Call) -> int:
    """Missing, non-numeric or absurd ids answer like an unknown one (and another user's)."""
    raw = call.param("id")
    if raw is None or not _ACTIVATION_ID.match(raw):
        raise Refused(Token.NO_ACTIVATION)
    return int(raw)


async def _ready(call: Call, activation_id: int) -> Answer:
    await activations.confirm_sms_sent(call.viewer, activation_id)  # "the SMS has been sent"
    return "ACCESS_READY"


async def _another_sms(call: Call, activation_id: int) -> Answer:
    await activations.request_another_sms(call.rt, call.viewer, activation_id)  # R3
    return "ACCESS_RETRY_GET"


async def _finish(call: Call, activation_id: int) -> Answer:
    await activations.finish(call.rt, call.viewer, activation_id)
    return "ACCESS_ACTIVATION"


async def _cancel(call: Call, activation_id: int) -> Answer:
    await activations.cancel(
        call.rt, call.viewer, activation_id, ip=call.ip
    )  # R4: refund or refusal
    return "ACCESS_CANCEL"


# 8 and the legacy -1 both cancel; neither bans (R6), see docs/adr/0003.
_STATUS_CHANGES: dict[str, Callable[[Call, int], Awaitable[Answer]]] = {
    "1": _ready,
    "3": _another_sms,
    "6": _finish,
    "8": _cancel,
    "-1": _cancel,
}


async def set_status(call: Call) -> Answer:
    change = _STATUS_CHANGES.get(call.param("status") or "")
    if change is None:
        raise Refused(Token.BAD_STATUS)
    return await change(call, _activation_id(call))


async def _latest_sms(activation: Activation) -> Sms | None:
    return (await sms.latest_delivered([activation.id])).get(activation.id)


_STATES = {
    Progress.WAITING_CODE: "STATUS_WAIT_CODE",
    Progress.WAITING_RETRY: "STATUS_WAIT_RETRY",  # after setStatus 3, until the next SMS
    Progress.CODE_RECEIVED: "STATUS_OK",
    Progress.REFUNDED: "STATUS_CANCEL",
}


def _state(activation: Activation) -> str:
    """The protocol's word for the activation's state (getStatus without the code)."""
    return _STATES[activations.progress(activation)]


async def get_status(call: Call) -> Answer:
    activation = await activations.get(call.viewer, _activation_id(call))
    state = _state(activation)
    if state in ("STATUS_WAIT_CODE", "STATUS_CANCEL"):
        return state
    code = activation.code
    if code is None:  # the SMS came but no code could be read from it: show its text
        latest = await _latest_sms(activation)
        code = latest.text if latest is not None else ""
    return f"{state}:{code}"


async def get_status_v2(call: Call) -> Answer:
    activation = await activations.get(call.viewer, _activation_id(call))
    latest = await _latest_sms(activation)
    message: JsonValue = None
    if latest is not None:
        message = {
            "dateTime": moment(latest.received_at),
            "code": latest.code or "",
            "text": latest.text,
        }
    return {"verificationType": 0, "sms": message, "call": None}


async def get_full_sms(call: Call) -> Answer:
    activation = await activations.get(call.viewer, _activation_id(call))
    latest = await _latest_sms(activation)
    if latest is not None:
        return f"FULL_SMS:{latest.text}"
    return _state(activation)


async def get_active_activations(call: Call) -> Answer:
    rows, _ = await activations.page(
        call.viewer,
        first=call.rt.settings.max_page_size,
        after=None,
        statuses=list(LIVE_STATUSES),
    )
    if not rows:
        return Token.NO_ACTIVATIONS
    latest = await sms.latest_delivered([a.id for a in rows])
    items: list[JsonValue] = []
    for activation in rows:
        country, service = await call.rt.catalog.names_of(
            activation.country_id, activation.service_id
        )
        message = latest.get(activation.id)
        items.append(
            {
                "activationId": activation.id,
                "serviceCode": service.code,
                "phoneNumber": phone(activation.number.e164),
                "activationCost": amount(activation.price_minor),
                "activationStatus": _state(activation),
                "smsCode": activation.code,
                "smsText": message.text if message is not None else None,
                "activationTime": moment(activation.created_at),
                "countryCode": str(country.compat_id),
                "canGetAnotherSms": True,
            }
        )
    return {"status": "success", "activeActivations": items}


# -- the catalog --------------------------------------------------------------------------
async def _country_filter(call: Call) -> tuple[Country | None, str | None]:
    """The optional `country` and the key to print it under: the id asked for (12 stays 12,
    so that a bot reading `answer[str(country)]` finds it)."""
    raw = call.param("country")
    if raw is None:
        return None, None
    country = await countries.resolve(call.rt, raw)
    return country, str(int(raw))


async def get_prices(call: Call) -> Answer:
    country, key = await _country_filter(call)
    service = call.param("service")
    snapshot = await call.rt.catalog.snapshot()
    if service is not None and service.lower() not in snapshot.service_by_code:
        raise Refused(Token.BAD_SERVICE)
    prices: dict[str, JsonValue] = {}
    for offer in await call.rt.catalog.offers(country.code if country else None, service):
        row = prices.setdefault(key or str(offer.country.compat_id), {})
        assert isinstance(row, dict)
        row[offer.service.code] = {"cost": amount(offer.price_minor), "count": offer.available}
    return prices


async def get_numbers_status(call: Call) -> Answer:
    country, _ = await _country_filter(call)
    counts: dict[str, int] = {}  # the services offered there (sold out: "0"), in catalog order
    for offer in await call.rt.catalog.offers(country.code if country else None):
        counts[offer.service.code] = counts.get(offer.service.code, 0) + offer.available
    return {f"{code}_0": str(count) for code, count in counts.items()}


async def _countries_on_sale(rt: Runtime) -> list[Country]:
    return sorted((await rt.catalog.snapshot()).countries, key=lambda c: c.compat_id)


async def get_countries(call: Call) -> Answer:
    return {
        str(c.compat_id): {
            "id": c.compat_id,
            "eng": c.name,
            "rus": countries.russian_name(c),
            "visible": 1,
            "retry": 1,
        }
        for c in await _countries_on_sale(call.rt)
    }


async def get_services_list(call: Call) -> Answer:
    country, _ = await _country_filter(call)
    services = (await call.rt.catalog.snapshot()).services
    if country is not None:
        offered = {offer.service.code for offer in await call.rt.catalog.offers(country.code)}
        services = tuple(s for s in services if s.code in offered)
    return {"status": "success", "services": [{"code": s.code, "name": s.name} for s in services]}


async def get_operators(call: Call) -> Answer:
    country, key = await _country_filter(call)
    on_sale = await _countries_on_sale(call.rt)
    if country is None:
        keys = [str(c.compat_id) for c in on_sale]
    else:
        keys = [key] if key and country.code in {c.code for c in on_sale} else []
    operators: dict[str, JsonValue] = {k: ["any"] for k in keys}
    return {"status": "success", "countryOperators": operators}


# The actions that change something: refused during maintenance (R14), like GraphQL mutations.
CHANGING = frozenset({"getNumber", "getNumberV2", "setStatus"})

ACTIONS: dict[str, Action] = {
    "getBalance": get_balance,
    "getBalanceAndCashBack": get_balance,
    "getNumber": get_number,
    "getNumberV2": get_number_v2,
    "setStatus": set_status,
    "getStatus": get_status,
    "getStatusV2": get_status_v2,
    "getFullSms": get_full_sms,
    "getPrices": get_prices,
    "getNumbersStatus": get_numbers_status,
    "getCountries": get_countries,
    "getServicesList": get_services_list,
    "getOperators": get_operators,
    "getActiveActivations": get_active_activations,
}
