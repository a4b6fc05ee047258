"""mypy (strict, for the packages [tool.mypy] in pyproject.toml names) runs with the tests,
so CI refuses a change that breaks the types, as test_style.py does for ruff."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_strict_is_clean() -> None:
    binary = shutil.which("mypy", path=str(Path(sys.executable).parent)) or shutil.which("mypy")
    if binary is None:
        pytest.fail("mypy is a dev dependency: run scripts/test, which installs it")
    # No arguments: the files and options come from [tool.mypy], so the test checks what the
    # project declares. No cache left behind: every run checks from scratch.
    result = subprocess.run(
        [binary, "--no-incremental", "--cache-dir", "/dev/null"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
