"""R11: requests from the sanctioned territories are refused at sign-up and purchase.

The client IP is geolocated offline (iptocc ships the regional registries' delegation data; no
network call, ~1 µs a look-up). Behind a reverse proxy, the app must see the real client IP:
FORWARDED_ALLOW_IPS names the proxy, whose X-Forwarded-For `smsrooms serve` then believes
(README, "Production").
"""

from __future__ import annotations

import iptocc

from services.errors import CountryUnavailable
from services.policy import SANCTIONED_COUNTRIES


def country_of(ip: str | None) -> str | None:
    if not ip:
        return None
    try:
        return iptocc.country_code(ip)
    except ValueError:
        return None


def refuse_sanctioned(ip: str | None) -> None:
    if country_of(ip) in SANCTIONED_COUNTRIES:
        raise CountryUnavailable("the service is not available in your region (R11)")
