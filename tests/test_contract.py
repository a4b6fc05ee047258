"""The contract with client teams (frontend-contract/), checked without a server.

- the committed SDL is exactly what the code generates (no drift);
- the schema keeps every promise of the core contract (../shared/contract/core.graphql);
- every operation file parses and validates against the schema, fragments resolved, within the
  server's own depth and alias limits;
- every root field has an operation file, and every fragment file is used.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Source,
    build_schema,
    find_breaking_changes,
    parse,
    specified_rules,
    validate,
    visit,
)
from graphql.language import Visitor

from schema.limits import validation_rules
from settings import Settings

REPO = Path(__file__).resolve().parents[1]
CONTRACT = REPO / "frontend-contract"
SCHEMA_FILE = CONTRACT / "schema.graphql"
OPERATIONS = CONTRACT / "operations"
FRAGMENTS = OPERATIONS / "fragments"
SHARED_CORE = Path(__file__).resolve().parents[2] / "shared" / "contract" / "core.graphql"
# A committed copy, so that the check does not depend on a sibling folder being checked out.
COMMITTED_CORE = CONTRACT / "core.graphql"

ROOT_KINDS = {
    OperationType.QUERY: "Query",
    OperationType.MUTATION: "Mutation",
    OperationType.SUBSCRIPTION: "Subscription",
}


def _print_schema_script() -> ModuleType:
    script = REPO / "scripts" / "print_schema.py"
    spec = importlib.util.spec_from_file_location("print_schema", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def committed_schema() -> GraphQLSchema:
    return build_schema(SCHEMA_FILE.read_text(encoding="utf-8"))


def parse_file(path: Path) -> DocumentNode:
    return parse(Source(path.read_text(encoding="utf-8"), str(path.relative_to(REPO))))


@cache
def fragment_library() -> dict[str, FragmentDefinitionNode]:
    """Every fragment of operations/fragments/, by name; one fragment per file, named as it."""
    library: dict[str, FragmentDefinitionNode] = {}
    for path in sorted(FRAGMENTS.glob("*.graphql")):
        definitions = parse_file(path).definitions
        assert len(definitions) == 1, f"{path.name}: one fragment per file"
        fragment = definitions[0]
        assert isinstance(fragment, FragmentDefinitionNode), f"{path.name}: not a fragment"
        assert fragment.name.value == path.stem, f"{path.name} holds fragment {fragment.name.value}"
        library[fragment.name.value] = fragment
    return library


def spread_names(node: object) -> set[str]:
    names: set[str] = set()

    class Spreads(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: object) -> None:
            names.add(spread.name.value)

    visit(node, Spreads())  # type: ignore[arg-type]
    return names


def with_fragments(document: DocumentNode) -> DocumentNode:
    """The document plus the fragments it uses, transitively (only those: unused ones are an
    error to `validate`). An unknown name is left for `validate` to report."""
    library = fragment_library()
    needed: set[str] = set()
    pending = spread_names(document)
    while pending:
        name = pending.pop()
        if name in needed or name not in library:
            continue
        needed.add(name)
        pending |= spread_names(library[name])
    fragments = tuple(library[name] for name in sorted(needed))
    return DocumentNode(definitions=(*document.definitions, *fragments))


def operation_files() -> list[Path]:
    return sorted(OPERATIONS.glob("*.graphql"))


def the_operation(document: DocumentNode, path: Path) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1, f"{path.name}: exactly one operation per file"
    operation = operations[0]
    assert operation.name is not None, f"{path.name}: the operation needs a name"
    assert operation.name.value == path.stem, (
        f"{path.name} holds operation {operation.name.value}; name the file after it"
    )
    return operation


def root_fields(selection_set: SelectionSetNode) -> set[str]:
    """Root fields an operation selects, looking through fragments on the root type."""
    fields: set[str] = set()
    for selection in selection_set.selections:
        if isinstance(selection, FragmentSpreadNode):
            fields |= root_fields(fragment_library()[selection.name.value].selection_set)
        elif isinstance(selection, FieldNode):
            fields.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            fields |= root_fields(selection.selection_set)
    return fields


# -- (a) no drift between the code and the committed SDL ---------------------------------------


def test_committed_schema_is_generated_from_the_code() -> None:
    generated = _print_schema_script().sdl()
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == generated, (
        "frontend-contract/schema.graphql differs from the schema in the code; regenerate it with "
        "`.venv/bin/python scripts/print_schema.py --write` and review the diff"
    )


# -- (b) the core contract is kept ------------------------------------------------------------


def test_schema_keeps_every_promise_of_the_core_contract() -> None:
    core_file = SHARED_CORE if SHARED_CORE.exists() else COMMITTED_CORE
    core = build_schema(core_file.read_text(encoding="utf-8"))
    breaking = find_breaking_changes(core, committed_schema())
    assert breaking == [], "\n".join(f"{c.type.name}: {c.description}" for c in breaking)


def test_committed_core_copy_matches_the_shared_contract() -> None:
    if not SHARED_CORE.exists():
        pytest.skip(f"{SHARED_CORE} is not checked out beside the repository; the copy is used")
    assert COMMITTED_CORE.read_text(encoding="utf-8") == SHARED_CORE.read_text(encoding="utf-8"), (
        f"refresh the copy: cp {SHARED_CORE} {COMMITTED_CORE.relative_to(REPO)}"
    )


# -- (c) every operation is valid against the schema --------------------------------------------


@pytest.mark.parametrize("path", operation_files(), ids=lambda p: p.stem)
def test_operation_is_valid_against_the_schema(path: Path) -> None:
    document = parse_file(path)
    the_operation(document, path)
    # The server's own depth and alias limits too: a client must never hit them with these.
    errors = validate(
        committed_schema(),
        with_fragments(document),
        [*specified_rules, *validation_rules(Settings())],
    )
    assert errors == [], "\n".join(f"{path.name}: {e}" for e in errors)


def test_there_are_operations_and_fragments() -> None:
    # Guards the parametrised test above against passing on an empty folder.
    assert len(operation_files()) >= 21
    assert "ActivationFields" in fragment_library()


# -- (d) every root field has an operation, every fragment is used --------------------------------


def test_every_root_field_has_an_operation_file() -> None:
    schema = committed_schema()
    covered: set[tuple[str, str]] = set()
    for path in operation_files():
        operation = the_operation(parse_file(path), path)
        root = ROOT_KINDS[operation.operation]
        covered |= {(root, name) for name in root_fields(operation.selection_set)}
    wanted = {
        (root, name)
        for root in ROOT_KINDS.values()
        if (root_type := schema.get_type(root)) is not None
        for name in root_type.fields  # type: ignore[attr-defined]
    }
    missing = sorted(f"{root}.{name}" for root, name in wanted - covered)
    assert missing == [], f"root fields with no file in frontend-contract/operations/: {missing}"


def test_every_fragment_file_is_used() -> None:
    used: set[str] = set()
    for path in operation_files():
        definitions = with_fragments(parse_file(path)).definitions
        used |= {d.name.value for d in definitions if isinstance(d, FragmentDefinitionNode)}
    unused = sorted(set(fragment_library()) - used)
    assert unused == [], f"fragments no operation uses: {unused}"
