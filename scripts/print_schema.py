"""Prints the GraphQL schema (SDL) generated from the code, or writes it into the contract.

    .venv/bin/python scripts/print_schema.py          # the SDL to stdout
    .venv/bin/python scripts/print_schema.py --write  # into frontend-contract/schema.graphql

tests/test_contract.py fails when the committed file and the code disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FILE = ROOT / "frontend-contract" / "schema.graphql"


def sdl() -> str:
    sys.path.insert(0, str(ROOT))  # run from anywhere: the project's packages live at the root
    from schema import build_schema
    from settings import Settings

    return str(build_schema(Settings())).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    if argv not in ([], ["--write"]):
        sys.stderr.write("usage: print_schema.py [--write]\n")
        return 2
    text = sdl()
    if argv == ["--write"]:
        SCHEMA_FILE.write_text(text, encoding="utf-8")
        sys.stderr.write(f"wrote {SCHEMA_FILE.relative_to(ROOT)}\n")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
