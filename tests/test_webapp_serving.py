"""How the app serves the web app (web/ui.py, ADR 0016): index.html for the app's routes with
no-cache and a strict Content-Security-Policy, hashed assets cached a year, other paths still
404, and without a build a page that says what to install."""

from __future__ import annotations

from pathlib import Path

import pytest

import web.ui
from tests.api import Api
from tests.browser import build_web_app

pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture(scope="module")
def built() -> None:
    build_web_app()


@pytest.mark.parametrize("path", ["/", "/signin", "/activations/12", "/admin", "/admin/users"])
async def test_the_app_routes_answer_its_page_uncached_under_a_strict_policy(
    api: Api, built: None, path: str
) -> None:
    response = await api.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    policy = response.headers["content-security-policy"]
    host = api.server.url.removeprefix("http://")
    assert "script-src 'self';" in policy
    assert "'unsafe-inline'" not in policy
    assert f"connect-src 'self' ws://{host} wss://{host};" in policy
    assert "frame-ancestors 'none'" in policy
    assert "<script" in response.text
    assert "<script>" not in response.text


async def test_hashed_assets_are_cached_for_a_year(api: Api, built: None) -> None:
    page = (await api.client.get("/")).text
    script = page.split('src="', 1)[1].split('"', 1)[0]
    assert script.startswith("/assets/")
    response = await api.client.get(script)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (await api.client.get("/assets/nothing-here.js")).status_code == 404


async def test_paths_that_are_no_route_of_the_app_stay_not_found(api: Api) -> None:
    for path in ("/nothing", "/admin.php", "/.env"):
        assert (await api.client.get(path)).status_code == 404


async def test_without_a_build_the_page_says_what_to_install(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web.ui, "UI_DIR", tmp_path)
    response = await api.client.get("/")
    assert response.status_code == 503
    assert "Node.js 20.19 or newer with npm" in response.text
    assert (await api.client.post("/graphql", json={"query": "{ __typename }"})).status_code == 200


async def test_a_host_header_that_is_not_a_host_name_is_not_echoed_into_the_policy() -> None:
    assert "ws://" not in web.ui.content_security_policy("evil; script-src *")
    assert "ws://[::1]:8000 " in web.ui.content_security_policy("[::1]:8000")
