"""The net under every log line (web/logs.py): what the app never means to log is still masked
in production, and user text never reaches a line raw. (The whole path, a served process and
its log, is tests/test_serve_production.py.)"""

from __future__ import annotations

import json
from typing import Any

from settings import Settings
from web.logs import processors


def rendered(settings: Settings, **event: Any) -> str:
    line: Any = {"event": "something happened", **event}
    for processor in processors(settings):
        line = processor(None, "info", line)
    assert isinstance(line, str)
    return line


def test_production_lines_mask_secrets_by_name_and_by_shape() -> None:
    line = rendered(
        Settings(demo_supplier=False),
        password="hunter2-hunter2",
        webhook_secret="whsec_abc",
        error="bad key srk_AbC-123_xyz for srs_TOKEN-456",
        url="https://shop.example/verify-email?token=abc123&lang=en",
        compat="/stubs/handler_api.php?api_key=k3y&action=getBalance",
        user_id=7,
    )
    for secret in ("hunter2", "whsec_abc", "srk_AbC", "srs_TOKEN", "abc123", "k3y"):
        assert secret not in line, secret
    logged = json.loads(line)
    assert logged["password"] == logged["webhook_secret"] == "***"
    assert logged["url"] == "https://shop.example/verify-email?token=***&lang=en"
    assert logged["compat"] == "/stubs/handler_api.php?api_key=***&action=getBalance"
    assert logged["user_id"] == 7


def test_a_demo_keeps_what_it_prints_on_purpose() -> None:
    """The demo's mail-to-log and webhook secret are for the person running it."""
    line = rendered(Settings(demo_supplier=True), secret="demo-secret", body="?token=abc")
    assert "demo-secret" in line
    assert "token=abc" in line


def test_hidden_characters_are_escaped_in_every_format() -> None:
    hostile = "me\x1b[2J\u202egnp.exe\u200b\x00"
    for settings in (Settings(demo_supplier=True), Settings(demo_supplier=False)):
        line = rendered(settings, email=hostile)
        assert not any(char in line for char in "\x1b\u202e\u200b\x00"), line
        assert "gnp.exe" in line
