"""Cursor pagination that refuses what it cannot honour: every list endpoint pages through one of
these, so a bad ``page_size`` or a cursor the API did not hand out is a 400 naming the parameter,
never a silently clamped page, an empty page, nor a database error on a forged position."""

from __future__ import annotations

import binascii
from base64 import b64decode
from typing import Any, NoReturn
from urllib import parse

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import Cursor, CursorPagination

CURSOR_TOKENS = frozenset({"o", "r", "p"})


class StrictCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    invalid_cursor_message = "Invalid cursor: use the next/previous links as given."

    def paginate_queryset(self, queryset, request, view=None):
        # The field the cursor's position compares with, to check a position before it reaches SQL.
        self.position_field = _field(queryset.model, self.ordering[0].lstrip("-"))
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 6 and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError({self.page_size_query_param: [f"Give an integer from 1 to {self.max_page_size}."]})
        return int(raw)

    def decode_cursor(self, request) -> Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            text = b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
            tokens = parse.parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
            offset = tokens.get("o", ["0"])[0]
            reverse = tokens.get("r", ["0"])[0]
            position = tokens.get("p", [None])[0]
        except (ValueError, binascii.Error):  # UnicodeError is a ValueError
            self._invalid()
        if (
            set(tokens) - CURSOR_TOKENS
            or any(len(values) > 1 for values in tokens.values())
            or not (offset.isdigit() and len(offset) <= 6 and int(offset) <= self.offset_cutoff)
            or reverse not in ("0", "1")
            or (position is not None and not self._valid_position(position))
        ):
            self._invalid()
        # The stubs say int; DRF keeps the position as the text it compares with (str(value)).
        return Cursor(offset=int(offset), reverse=reverse == "1", position=position)  # type: ignore[arg-type]

    def _valid_position(self, position: str) -> bool:
        field = self.position_field
        if isinstance(field, models.DateTimeField):
            value = parse_datetime(position) if len(position) <= 64 else None
            return value is not None and value.tzinfo is not None
        try:
            field.to_python(position)
        except DjangoValidationError:
            return False
        if isinstance(field, models.IntegerField):
            return position.isdigit() and len(position) <= 12
        return "\x00" not in position

    def _invalid(self) -> NoReturn:
        raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque: pass the `next` or `previous` link's cursor as given.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]


def _field(model: type[models.Model], name: str) -> models.Field:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist as exc:  # a programming error: ordering by something not a field
        raise TypeError(f"cannot page {model.__name__} by {name}") from exc
    assert isinstance(field, models.Field)  # noqa: S101  (a concrete column, not a relation's reverse)
    return field


class DecisionCursor(StrictCursorPagination):
    ordering = ("-created_at", "-id")


class DecisionEventCursor(StrictCursorPagination):
    """A decision's log, oldest first (``seq`` is unique per decision)."""

    ordering = ("seq",)
    page_size = 100
    max_page_size = 500


class SignOffCursor(StrictCursorPagination):
    ordering = ("created_at", "id")


class ReviewReportCursor(StrictCursorPagination):
    ordering = ("-period_start", "-id")
    page_size = 20
