"""The settings the services run with, set once by the app at start-up (and by tests)."""

from __future__ import annotations

from settings import Settings

_current: Settings = Settings()


def configure(settings: Settings) -> None:
    global _current
    _current = settings


def get() -> Settings:
    return _current
