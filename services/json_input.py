"""JSON from outside (request bodies, websocket messages, webhooks), parsed within bounds.

`json.loads` recurses once per level of nesting, so ~1,000 `[` in a small body raise
RecursionError, which no caller expects (a 500, a dropped socket); and bytes that are not UTF-8
raise UnicodeDecodeError. Here the nesting is counted first, without recursion, and the bytes
must be UTF-8 (RFC 8259, 8.1): both refusals are `json.JSONDecodeError`, the error every caller
already answers with 400 (or closes a websocket with 4400).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

# Our deepest legitimate document, a GraphQL request with its variables, has about 5 levels.
MAX_DEPTH = 32

# A JSON string (to its closing quote, or to the end of an unterminated one: every attempt
# matches, and possessive repeats never backtrack, so the scan stays linear) or a bracket.
# Outside strings, brackets are structure only.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]++|\\.?)*+(?:"|\Z)|[\[\]{}]', re.DOTALL)


def loads(data: str | bytes, *, parse_float: Callable[[str], Any] | None = None) -> Any:
    """`json.loads` for untrusted input: UTF-8 only, nested at most MAX_DEPTH levels."""
    text = _utf8(data)
    _check_depth(text)
    return json.loads(text, parse_float=parse_float)


def _utf8(data: str | bytes) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise json.JSONDecodeError("the body is not UTF-8", "", error.start) from None


def _check_depth(text: str) -> None:
    depth = 0
    for token in _STRING_OR_BRACKET.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise json.JSONDecodeError(
                    f"nested deeper than {MAX_DEPTH} levels", text, token.start()
                )
        elif bracket in ("]", "}"):
            depth -= 1
