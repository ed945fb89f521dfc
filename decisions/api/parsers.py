"""Request parsing: one strict JSON parser for every API endpoint (``DEFAULT_PARSER_CLASSES``).

A safety API must not read a body differently from a proxy or a log in front of it, nor fail
later on something it accepted. So, each a 400 naming the field where there is one:
- a key given twice in one object (Python keeps the last, other parsers the first);
- a lone UTF-16 surrogate (``"\\udfff"``): valid JSON text, but no UTF-8 encoding exists, so the
  size check, the fingerprint and the database would each raise on it;
- a number too large for a float (``1e999`` decodes to infinity, which JSON cannot store);
- nesting deeper than ``MAX_JSON_DEPTH`` (Python's decoder raises RecursionError, and moderately
  deep input that still decodes would blow the stack when hashed or stored).
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.settings import api_settings

# Far deeper than any real evidence; far below what json.dumps (fingerprint, hash, storage) can recurse into.
MAX_JSON_DEPTH = 64

_SURROGATE = re.compile("[\ud800-\udfff]")


class DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError(key)
        result[key] = value
    return result


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is too large")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def printable(text: str) -> str:
    """``text`` with lone surrogates written as ``\\udfff`` escapes, so an error message can name it."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` nests lists/objects more than ``limit`` levels deep (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def first_surrogate(value: Any) -> tuple[str, str] | None:
    """(top-level field, path such as ``evidence.alerts[0]``) of the first key or string holding a
    lone surrogate, or None. Both printable; the field is ``non_field_errors`` for a bare value."""
    root = api_settings.NON_FIELD_ERRORS_KEY
    stack: list[tuple[Any, str | None, str]] = [(value, None, "")]
    while stack:
        item, field, path = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return field or root, path or "the top level"
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else key
                if _SURROGATE.search(key):
                    return printable(field or key), printable(child_path)
                stack.append((child, field or key, child_path))
        elif isinstance(item, list):
            stack.extend((child, field, f"{path}[{i}]") for i, child in enumerate(item))
    return None


def strict_loads(text: str) -> Any:
    """Decode JSON text refusing duplicate keys, NaN/Infinity and overflowing numbers (ValueError)."""
    return json.loads(text, object_pairs_hook=_unique_pairs, parse_float=_finite_float, parse_constant=_refuse_constant)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, strict (see the module docstring)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = strict_loads(text)
        except DuplicateKeyError as exc:
            key = printable(exc.key)
            message = f"The key '{key}' is given more than once in one object; give it once."
            raise ValidationError({key: [message]}) from None
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except ValueError as exc:  # also UnicodeDecodeError: the body is not text in its charset
            raise ParseError(f"JSON parse error - {printable(str(exc))}") from None
        if json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep.")
        if (found := first_surrogate(data)) is not None:
            field, path = found
            raise ValidationError({field: [f"A lone UTF-16 surrogate (at {path}) is not text; send valid Unicode."]})
        return data
