"""Streamed exports of a review period: decisions, their sign-offs and their decision-log events,
as CSV or JSON.

A period selects decisions by submission time; the sign-offs and events exported are those of
the selected decisions. Rows are read in keyset-paginated batches (``id > last ORDER BY id
LIMIT n`` through ``values_list``, names joined in the same statement), so an export holds one
batch in memory whatever its size and runs one query per batch.

Formats:
- JSON: one document, ``{"dataset", "period", "exported_at", "columns", "rows": [...],
  "row_count"}``, written piece by piece. Datetimes are ISO 8601 in UTC with microseconds,
  JSON fields nested as JSON, decimals as strings, identifiers as the public UUIDs.
- CSV: a header row, then one line per row; JSON fields as compact JSON text, empty cells for
  nulls, ``true``/``false`` for booleans. Spreadsheet formula injection: every cell whose text
  starts with ``=``, ``+``, ``-``, ``@`` (or their fullwidth forms ``＝ ＋ － ＠``), ``|``, ``;``, a
  tab or a carriage return gets a leading apostrophe (``'``), so that a spreadsheet shows it as
  text instead of evaluating it. Strip that apostrophe to get the stored value back; the JSON
  export is never altered.

The events export is enough to verify the decision log without database access: each row
carries the decision's public id, ``seq``, ``kind``, ``at`` (exactly as hashed), ``actor_id``
(the integer the hash covers), ``data``, ``prev_hash`` and ``hash``, so
``decisions.lifecycle.eventlog.event_hash`` recomputed from a row gives its ``hash``; the decisions export
carries each decision's ``event_count`` and ``last_event_hash`` (the log's head), so removing
the newest events shows too. Rows come in the order they were written; group events by
decision and sort by ``seq`` to walk a chain.

Names (integration, action type, roles, people) are joined as they are now; an action type's
flags likewise (what routing saw at intake stays in the decision's snapshot).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from decisions.models import DecisionEvent, DecisionRequest, SignOff
from decisions.review.figures import Period
from governance.models import Certification, Level

BATCH_SIZE = 2000
FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
# OWASP's CSV-injection list: the ASCII and fullwidth formula signs, a tab, a carriage return, and
# the pipe and semicolon some spreadsheets (DDE, locale separators) read as the start of a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20", "|", ";")


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds: the form the decision log hashes ``at`` in."""
    return None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


def _level(value: int | None) -> str | None:
    return None if value is None else Level(value).name.lower()


def _text(value: Any) -> Any:
    return None if value is None else str(value)


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Column:
    """One exported column: its name, the ``values_list`` path it reads, and how a value
    becomes JSON (``json_field`` columns are nested in JSON and compact JSON text in CSV)."""

    name: str
    source: str
    to_json: Callable[[Any], Any] = _same
    json_field: bool = False


def _col(name: str, source: str | None = None, convert: Callable[[Any], Any] = _same) -> Column:
    return Column(name=name, source=source or name, to_json=convert)


def _json_col(name: str, source: str | None = None) -> Column:
    return Column(name=name, source=source or name, json_field=True)


def certification_valid_at_signing() -> Exists:
    """For a SignOff row: the certification it recorded belonged to the signer, covered the role
    signed as (or the decision's action type), and was valid and not revoked at the signing."""
    signed_at = OuterRef("created_at")
    return Exists(
        Certification.objects.filter(
            pk=OuterRef("certification_id_at_signing"),
            user_id=OuterRef("signer_id"),
            valid_from__lte=signed_at,
            valid_until__gt=signed_at,
        )
        .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=signed_at))
        .filter(Q(role_id=OuterRef("signed_as_id")) | Q(action_type_id=OuterRef("decision__action_type_id")))
    )


def signer_is_submitter() -> ExpressionWrapper:
    return ExpressionWrapper(Q(signer_id=F("decision__submitted_by_id")), output_field=BooleanField())


def _decisions(period: Period) -> QuerySet:
    return DecisionRequest.objects.filter(created_at__gte=period.start, created_at__lt=period.end)


def _signoffs(period: Period) -> QuerySet:
    return SignOff.objects.filter(decision__created_at__gte=period.start, decision__created_at__lt=period.end).annotate(
        certification_public_id=Subquery(
            Certification.objects.filter(pk=OuterRef("certification_id_at_signing")).order_by().values("public_id")[:1]
        ),
        certification_valid=certification_valid_at_signing(),
        by_submitter=signer_is_submitter(),
    )


def _events(period: Period) -> QuerySet:
    return DecisionEvent.objects.filter(decision__created_at__gte=period.start, decision__created_at__lt=period.end)


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    queryset: Callable[[Period], QuerySet]
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="decisions",
            description="One row per decision submitted in the period: request, routing, verdict, outcome, log head.",
            queryset=_decisions,
            columns=(
                _col("decision_id", "public_id", _text),
                _col("submitted_at", "created_at", iso),
                _col("integration", "integration__name"),
                _col("integration_id", "integration__public_id", _text),
                _col("submitted_by", "submitted_by__username"),
                _col("action_type", "action_type__slug"),
                _col("changes_production_state", "action_type__changes_production_state"),
                _col("touches_regulated_data", "action_type__touches_regulated_data"),
                _col("system_owned", "action_type__system_owned"),
                _col("title"),
                _col("recommendation"),
                _col("incident_ref"),
                _json_col("target"),
                _col("ai_confidence", convert=_text),
                _col("model_name"),
                _col("model_version"),
                _col("severity", convert=_level),
                _col("blast_radius", convert=_level),
                _col("affects_regulated_data"),
                _col("customer_impact"),
                _col("status"),
                _col("owner_role", "owner_role__slug"),
                _col("policy", "policy__name"),
                _col("policy_id", "policy__public_id", _text),
                _col("policy_version"),
                _col("required_approvals"),
                _col("current_step"),
                _col("deadline", convert=iso),
                _col("decided_at", convert=iso),
                _json_col("final_action"),
                _col("outcome", "outcome__kind"),
                _col("outcome_reverted", "outcome__reverted"),
                _col("outcome_reported_at", "outcome__reported_at", iso),
                _col("event_count"),
                _col("last_event_hash"),
            ),
        ),
        Dataset(
            name="signoffs",
            description="Every sign-off (voided ones included) on the period's decisions.",
            queryset=_signoffs,
            columns=(
                _col("signoff_id", "public_id", _text),
                _col("decision_id", "decision__public_id", _text),
                _col("action_type", "decision__action_type__slug"),
                _col("signer", "signer__username"),
                _col("signed_as", "signed_as__slug"),
                _col("verdict"),
                _col("reason_code"),
                _col("rationale"),
                _json_col("override_action"),
                _col("step"),
                _col("payload_version"),
                _col("signed_at", "created_at", iso),
                _col("certification_id", "certification_public_id", _text),
                _col("certification_valid_at_signing", "certification_valid"),
                _col("signer_is_submitter", "by_submitter"),
                _col("voided_at", convert=iso),
                _col("void_reason"),
            ),
        ),
        Dataset(
            name="events",
            description="Every decision-log event of the period's decisions, with the hashes that chain them.",
            queryset=_events,
            columns=(
                _col("decision_id", "decision__public_id", _text),
                _col("seq"),
                _col("kind"),
                _col("at", convert=iso),
                _col("actor_id"),
                _col("actor", "actor__username"),
                _json_col("data"),
                _col("prev_hash"),
                _col("hash"),
            ),
        ),
    )
}


def batches(dataset: Dataset, period: Period, *, batch_size: int = BATCH_SIZE) -> Iterator[list[tuple]]:
    """The dataset's rows (raw ``values_list`` tuples, in column order), ``batch_size`` at a
    time: one query per batch, keyset-paginated on the primary key."""
    rows = dataset.queryset(period).values_list("id", *(c.source for c in dataset.columns)).order_by("id")
    last_id = 0
    while True:
        batch = list(rows.filter(id__gt=last_id)[:batch_size])
        if batch:
            yield [row[1:] for row in batch]
        if len(batch) < batch_size:
            return
        last_id = batch[-1][0]


def json_row(dataset: Dataset, row: tuple) -> dict[str, Any]:
    return {column.name: column.to_json(value) for column, value in zip(dataset.columns, row, strict=True)}


_encode = json.JSONEncoder(ensure_ascii=False).encode  # one encoder for every row, not one per call


def csv_cell(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if column.json_field:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    else:
        value = column.to_json(value)
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return neutralise_formula(text)


def neutralise_formula(text: str) -> str:
    """A leading apostrophe for text a spreadsheet would run as a formula (see the module doc)."""
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    """A file-like object whose ``write`` returns what it is given (csv.writer's output)."""

    def write(self, value: str) -> str:
        return value


def stream_csv(dataset: Dataset, period: Period, *, batch_size: int = BATCH_SIZE) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(dataset.column_names)
    for batch in batches(dataset, period, batch_size=batch_size):
        yield "".join(
            writer.writerow([csv_cell(c, v) for c, v in zip(dataset.columns, row, strict=True)]) for row in batch
        )


def stream_json(
    dataset: Dataset, period: Period, *, batch_size: int = BATCH_SIZE, exported_at: datetime | None = None
) -> Iterator[str]:
    head = {
        "dataset": dataset.name,
        "description": dataset.description,
        "period": {"start": iso(period.start), "end": iso(period.end)},
        "exported_at": iso(exported_at or timezone.now()),
        "columns": dataset.column_names,
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": ['
    count = 0
    for batch in batches(dataset, period, batch_size=batch_size):
        chunk = ", ".join(_encode(json_row(dataset, row)) for row in batch)
        yield f", {chunk}" if count else chunk
        count += len(batch)
    yield f'], "row_count": {count}}}'


def stream(dataset_name: str, fmt: str, period: Period, *, batch_size: int = BATCH_SIZE) -> Iterator[str]:
    """The export body, piece by piece. ``dataset_name`` in DATASETS, ``fmt`` in FORMATS."""
    dataset = DATASETS[dataset_name]
    if fmt == "csv":
        return stream_csv(dataset, period, batch_size=batch_size)
    return stream_json(dataset, period, batch_size=batch_size)


def filename(name: str, period: Period, fmt: str, *, tz: tzinfo) -> str:
    """``countersign-<name>-<first day>_<last day>.<fmt>``, days local to ``tz``."""
    first = period.start.astimezone(tz).date()
    last = (period.end - datetime.resolution).astimezone(tz).date()
    return f"countersign-{name}-{first:%Y-%m-%d}_{last:%Y-%m-%d}.{fmt}"
