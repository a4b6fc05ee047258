"""Which payment processors this server offers: those whose keys are set (and the demo one)."""

from __future__ import annotations

import weakref

from services.payments.demo import DemoProcessor
from services.payments.nowpayments import NowPaymentsProcessor
from services.payments.processor import Processor
from services.payments.stripe import StripeProcessor
from settings import Settings

#: Every processor this code knows, in the order they are listed to users. Each has its clearing
#: account (migration 0003); a new one needs a migration adding its account.
KNOWN = ("demo", "stripe", "nowpayments")

# Built once per settings (they hold HTTP clients), forgotten with them: each app of a process
# has its own, and a runtime whose settings are replaced gets processors of the new ones.
_built: weakref.WeakKeyDictionary[Settings, dict[str, Processor]] = weakref.WeakKeyDictionary()


def configured(settings: Settings) -> dict[str, Processor]:
    """The processors these settings configure."""
    if settings not in _built:
        _built[settings] = _build(settings)
    return _built[settings]


def _build(settings: Settings) -> dict[str, Processor]:
    processors: dict[str, Processor] = {}
    if settings.demo_payments:
        processors["demo"] = DemoProcessor(
            settings.demo_payments_secret,
            public_url=settings.public_url,
            tolerance_seconds=settings.webhook_tolerance_seconds,
        )
    if settings.stripe_api_key and settings.stripe_webhook_secret:
        processors["stripe"] = StripeProcessor(
            settings.stripe_api_key,
            settings.stripe_webhook_secret,
            api_base=settings.stripe_api_base,
            tolerance_seconds=settings.webhook_tolerance_seconds,
            timeout_seconds=settings.payments_http_timeout_seconds,
        )
    if settings.nowpayments_api_key and settings.nowpayments_ipn_secret:
        processors["nowpayments"] = NowPaymentsProcessor(
            settings.nowpayments_api_key,
            settings.nowpayments_ipn_secret,
            api_base=settings.nowpayments_api_base,
            timeout_seconds=settings.payments_http_timeout_seconds,
        )
    assert set(processors) <= set(KNOWN), "every processor needs its clearing account"
    return processors
