"""The catalog response cache answers public catalog queries, and only those."""

from __future__ import annotations

import pytest

from tests.api import Api
from web.catalog_cache import is_public_catalog_query


@pytest.mark.parametrize(
    ("query", "cacheable"),
    [
        ("{ prices { available } }", True),
        (
            "query P($c: String) { prices(country: $c) { price { amount } } countries { code } }",
            True,
        ),
        ("{ services { code } __typename }", True),
        ("{ me { email } prices { available } }", False),
        ("{ prices { available } ... on Query { me { email } } }", False),
        ("mutation { logout }", False),
        ("{ prices @include(if: true) { available } }", False),
        ("{ prices { available }", False),
    ],
)
def test_only_public_catalog_queries_are_cacheable(query: str, cacheable: bool) -> None:
    assert is_public_catalog_query(query, None) is cacheable


async def test_cached_price_list_follows_the_availability(api: Api) -> None:
    query = '{ prices(country: "KZ", service: "ds") { available } }'
    before = (await api.gql(query))["prices"][0]["available"]
    assert (await api.gql(query))["prices"][0]["available"] == before  # served from the cache
    user = await api.funded_user()
    await api.bought(user, "KZ", "ds")  # a purchase rebuilds the catalog snapshot
    assert (await api.gql(query))["prices"][0]["available"] == before - 1


async def test_viewer_data_is_never_served_from_the_cache(api: Api) -> None:
    alice, bob = await api.register(), await api.register()
    query = "{ me { email } prices { available } }"
    assert (await api.gql(query, token=alice.token))["me"]["email"] == alice.email
    assert (await api.gql(query, token=bob.token))["me"]["email"] == bob.email
