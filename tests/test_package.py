"""A package that installs (issue 7): the wheel built from this checkout, installed into a new
virtual environment outside it, serves the demo flow from an empty folder, and its command line
works there.

The wheel is built offline by the build backend that pyproject.toml names, called through its
PEP 517 hook as pip and `build` call it, from a copy of the checkout's files (tracked, or new and
not ignored). pip installs it into the new environment. Its dependencies are not downloaded
again (minutes, and the network): each distribution of the closure of the requirements the
*wheel* declares is linked from this test environment into the new site-packages, and nothing
else is. A module the code imports but the wheel does not declare is missing there, as it would
be after `pip install .`; the checkout itself is on no path of the new environment.
"""

from __future__ import annotations

import os
import shutil
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from importlib.metadata import Distribution, PathDistribution, distribution
from pathlib import Path
from typing import TYPE_CHECKING, cast

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from testkit.backends import free_port
from tests.api import Api
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.live import events
from tests.processes import ROOT, run_command, server_process

if TYPE_CHECKING:
    from tests.conftest import Server

pytestmark = pytest.mark.slow
TOP_LEVEL = ("app", "settings", "cli", "web", "services", "models", "schema", "resolvers")
WHERE_FROM = (  # where the new environment finds each module, or "missing"
    "import importlib.util as u, sys;"
    "print(*(getattr(u.find_spec(m), 'origin', 'missing') for m in sys.argv[1:]))"
)


@dataclass(frozen=True)
class Installed:
    python: Path
    smsrooms: Path
    site_packages: Path


@dataclass(frozen=True)
class Remote:
    """What tests.api.Api needs of a server that runs in another process: its address."""

    url: str


@pytest.fixture(scope="module")
async def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("package")
    wheel = await build_wheel(await copy_of_checkout(root / "source"), root / "dist")
    venv = root / "venv"
    await check([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    await check([*pip, "--no-deps", "--no-index", str(wheel)], cwd=root)
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    site /= "site-packages"
    link_dependencies(PathDistribution(next(site.glob("sms_rooms-*.dist-info"))), site)
    return Installed(python, venv / "bin" / "smsrooms", site)


def clean_environment(**settings: str) -> dict[str, str]:
    """An operator's shell: no PYTHONPATH, no virtual environment, no setting but these."""
    keep = {"PATH", "HOME", "LANG", "TMPDIR"}
    return {k: v for k, v in os.environ.items() if k in keep} | settings


async def test_the_installed_package_serves_the_demo_flow(
    installed: Installed, tmp_path: Path
) -> None:
    """`smsrooms serve` from an empty folder: sign up, the admin of ADMIN_EMAIL credits the
    user, buyNumber, the demo supplier's code arrives (pushed over the websocket) and is the
    activation's code. The SQLite file is ./data of that folder, never the installation."""
    work = tmp_path / "empty"
    work.mkdir()
    port = free_port()
    env = clean_environment(
        PORT=str(port),
        ADMIN_EMAIL=ADMIN_EMAIL,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        DEMO_AUTO_SMS_SECONDS="1",
    )
    where = await check([str(installed.python), "-I", "-c", WHERE_FROM, *TOP_LEVEL], cwd=work)
    origins = dict(zip(TOP_LEVEL, where.split(), strict=True))
    assert all(Path(o).is_relative_to(installed.site_packages) for o in origins.values()), origins

    serve = [str(installed.smsrooms), "serve", "--log-level", "warning"]  # one option for uvicorn
    async with (
        server_process(serve, port=port, env=env, cwd=work) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        api = Api(client, cast("Server", Remote(url)))
        user = await api.funded_user("5.00")
        activation = await api.bought(user, "GB", "tg")
        async with events(url, user.token, activationId=activation["id"]) as feed:
            pushed = await feed.next(timeout=30)
        seen = await api.activation(user, activation["id"])
        balance = await api.balance(user)

    assert pushed["kind"] == "SMS_RECEIVED"
    assert pushed["sms"]["code"] is not None
    assert seen is not None
    assert seen["status"] == "RECEIVED"
    assert seen["code"] == pushed["sms"]["code"]
    assert Decimal(balance) == Decimal("5.00") - Decimal(activation["price"]["amount"])
    assert (work / "data" / "smsrooms.sqlite3").is_file()
    assert not (installed.site_packages / "data").exists()

    audited = await run_command([str(installed.smsrooms), "audit"], env=env, cwd=work)
    assert audited.status == 0, audited.stderr
    assert audited.stdout.strip() == "the ledger of sqlite://data/smsrooms.sqlite3 is consistent"


# -- building and installing ----------------------------------------------------------------


async def copy_of_checkout(target: Path) -> Path:
    """The files a clone would have, plus new ones not ignored: a build never writes into (or
    picks up the leftovers of) the checkout."""
    listed = await check(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the work tree is not there
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


async def build_wheel(source: Path, dist: Path) -> Path:
    """PEP 517's `build_wheel` of the backend that pyproject.toml names, without isolation:
    the backend comes from the test environment (dev dependencies), so no download."""
    backend = tomllib.loads((source / "pyproject.toml").read_text())["build-system"]
    call = f"import sys, {backend['build-backend']} as b; print(b.build_wheel(sys.argv[1]))"
    built = await check([sys.executable, "-c", call, str(dist)], cwd=source)
    return dist / built.splitlines()[-1]


def link_dependencies(package: Distribution, site_packages: Path) -> None:
    """Links into `site_packages` every distribution the package needs to run, as installed in
    this environment, after checking that its version satisfies the requirement."""
    for needed in requirement_closure(package.requires or []):
        files = needed.files
        assert files is not None, f"{needed.metadata['Name']} lists no files"
        for top in {f.parts[0] for f in files if f.parts[0] != ".."}:  # not ../../../bin
            link = site_packages / top
            if not link.exists():
                link.symlink_to(Path(str(needed.locate_file(top))))


def requirement_closure(requirements: Iterable[str]) -> list[Distribution]:
    """The distributions of these requirements and of theirs, extras and markers applied."""
    found: dict[str, Distribution] = {}
    expanded: set[tuple[str, str]] = set()
    pending = [(Requirement(text), "") for text in requirements]
    while pending:
        requirement, through_extra = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": through_extra}):
            continue
        name = canonicalize_name(requirement.name)
        installed = found.setdefault(name, distribution(name))
        assert requirement.specifier.contains(installed.version, prereleases=True), (
            f"{requirement} is not met by {installed.version} here: run scripts/bootstrap dev"
        )
        for extra in ("", *requirement.extras):
            if (name, extra) not in expanded:
                expanded.add((name, extra))
                pending += [(Requirement(text), extra) for text in installed.requires or []]
    return list(found.values())


async def check(argv: list[str], *, cwd: Path = ROOT) -> str:
    """A build step's output; its failure fails the test with what it said."""
    done = await run_command(argv, env=dict(os.environ), cwd=cwd, timeout=300)
    assert done.status == 0, f"{argv[:4]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout
