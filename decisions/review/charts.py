"""The review figures as server-rendered SVG charts (pygal) and the tables that carry them.

Every function takes the figures dict of ``decisions.review.figures.review_figures`` (live, or as a
report froze it) and never queries the database. Each chart comes with a table of the same
figures: the table is the accessible truth, the chart (``role="img"``, labelled) only shows it.

The SVG is marked safe because pygal builds it with ElementTree, whose serializer escapes every
text node and attribute (action type names, approvers and AI model labels come from admins and
integrations); our XML filter then removes pygal's inline ``<script>`` (its configuration, we
need no JavaScript), its comments (they carry URLs) and its non-unique element ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import pygal
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

from decisions.models import DecisionStatus, Verdict
from decisions.review.figures import PERCENTILES, STATUS_ORDER

CHART_WIDTH = 640
ROW_HEIGHT = 34
MAX_BARS = 15
MAX_LABEL = 36
WIDE_TABLE_COLUMNS = 8
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", Arial, sans-serif'

# Light fills carry dark values (AA), and a value outside a short bar stays readable on white.
STYLE = Style(
    font_family=FONT,
    background="#ffffff",
    plot_background="#ffffff",
    value_background="#ffffff",
    foreground="#1b1f24",
    foreground_strong="#1b1f24",
    foreground_subtle="#4a5360",
    colors=("#9cc3ee", "#f6c28b", "#c9b8ec", "#f2a7a7", "#a9d8b0", "#d5d9df"),
    value_colors=("#1b1f24",) * 6,
    label_font_size=14,
    major_label_font_size=14,
    value_font_size=14,
    value_label_font_size=14,
    legend_font_size=14,
    title_font_size=15,
    tooltip_font_size=14,
    no_data_font_size=20,
    guide_stroke_color="#c9ced6",
    major_guide_stroke_color="#9aa3ae",
    opacity="1",
    opacity_hover="1",
    stroke_opacity="1",
    stroke_opacity_hover="1",
    transition="0ms",
)


# --- Display units ------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    """A time span in the unit a person reads: ``45 s``, ``12 min``, ``3 h 20 min``, ``2 d 4 h``."""
    if seconds is None:
        return "—"
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours, minutes = divmod(round(minutes), 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f} %"


def ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


# --- Tables -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One figure: ``text`` for people, ``value`` (a number or None) for machines (``<data>``)."""

    text: str
    value: float | int | None = None
    detail: str = ""


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    cells: list[Cell]


@dataclass(frozen=True)
class Table:
    caption: str
    columns: list[str]
    rows: list[Row]


@dataclass(frozen=True)
class Chart:
    title: str
    svg: SafeString
    shown: int
    total: int

    @property
    def truncated(self) -> bool:
        return self.shown < self.total


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    intro: str
    table: Table
    chart: Chart | None
    empty: str = "Nothing in this period."

    @property
    def wide(self) -> bool:
        """A table too wide to stand beside its chart goes under it."""
        return len(self.table.columns) > WIDE_TABLE_COLUMNS


def _count(n: int) -> Cell:
    return Cell(f"{n:,}".replace(",", "\u202f"), n)


def _rate(rate: float | None) -> Cell:
    return Cell(percent(rate), rate)


def _duration(seconds: float | None) -> Cell:
    return Cell(duration(seconds), seconds)


def _ratio(value: float | None) -> Cell:
    return Cell(ratio(value), value)


def _of(part: int, whole: int, rate: float | None) -> Cell:
    return Cell(percent(rate), rate, detail=f"{part} of {whole}") if whole else Cell("—")


# --- Charts -------------------------------------------------------------------------------


def _local_name(tag: Any) -> str | None:
    if not isinstance(tag, str):
        return None  # a comment or processing instruction
    return tag.rsplit("}", 1)[-1]


def _classes(element: ElementTree.Element) -> list[str]:
    return (element.get("class") or "").split()


def _hide_crowded_values(root: ElementTree.Element) -> None:
    """Blank the printed value of a bar too short to hold it (a thin segment of a stacked bar
    would print over its neighbours); the value stays in the bar's ``<desc>`` and the table."""
    widths: dict[str, list[float]] = {}
    labels: dict[str, list[ElementTree.Element]] = {}
    for plot in root.iter():
        if _local_name(plot.tag) != "g" or "plot" not in _classes(plot) or "overlay" in _classes(plot):
            continue
        text_overlay = "text-overlay" in _classes(plot)
        for series in plot:
            serie = next((c for c in _classes(series) if c.startswith("serie-")), None)
            if serie is None:
                continue
            if text_overlay:
                labels[serie] = [t for t in series if _local_name(t.tag) == "text"]
            else:
                widths[serie] = [float(r.get("width") or 0) for r in series.iter() if _local_name(r.tag) == "rect"]
    for serie, texts in labels.items():
        for text, width in zip(texts, widths.get(serie, []), strict=False):
            if text.text and width < len(text.text) * STYLE.value_font_size * 0.62 + 6:
                text.text = None


def _accessible_svg(title: str, *, stacked: bool) -> Callable[[ElementTree.Element], ElementTree.Element]:
    """pygal XML filter: label the chart, drop its script, comments and per-series ids."""

    def clean(root: ElementTree.Element) -> ElementTree.Element:
        for parent in list(root.iter()):
            for child in list(parent):
                name = _local_name(child.tag)
                if name is None or name == "script" or (name == "title" and parent is not root):
                    parent.remove(child)
                elif name == "title":
                    child.text = title
                else:
                    child.attrib.pop("id", None)
        if stacked:
            _hide_crowded_values(root)
        root.set("role", "img")
        root.set("aria-label", title)
        root.set("class", "chart-svg")
        return root

    return clean


def _chart(kind: type[Any], *, key: str, title: str, rows: int, series: int, **config: Any) -> Any:
    legend = series > 1
    chart = kind(
        style=STYLE,
        js=[],
        disable_xml_declaration=True,
        width=CHART_WIDTH,
        height=ROW_HEIGHT * max(rows, 1) + (100 if legend else 60),
        show_legend=legend,
        legend_at_bottom=True,
        legend_at_bottom_columns=series,
        print_values=True,
        print_zeroes=False,
        truncate_label=-1,
        truncate_legend=-1,
        show_y_guides=False,
        margin=12,
        max_scale=8,
        **config,
    )
    # A stable, page-unique id scopes pygal's CSS to this chart.
    chart.uuid = f"review-{key}"
    chart.add_xml_filter(_accessible_svg(title, stacked=kind is pygal.HorizontalStackedBar))
    return chart


def _render(chart: Any, *, title: str, shown: int, total: int) -> Chart:
    svg = chart.render(is_unicode=True)
    # Safe: ElementTree escaped every text and attribute while serialising (see the module docstring).
    return Chart(title=title, svg=mark_safe(svg), shown=shown, total=total)  # noqa: S308


def _short(label: str) -> str:
    """Axis labels stay short so the bars keep their width; the table has the full names."""
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _bars(key: str, title: str, labels: list[str], series: list[tuple[str, list[int]]]) -> Chart:
    """Horizontal bars of counts, one row per label (the first on top), stacked when several series."""
    shown = labels[:MAX_BARS]
    kind = pygal.HorizontalStackedBar if len(series) > 1 else pygal.HorizontalBar
    top = max((sum(values) for values in zip(*(v[:MAX_BARS] for _, v in series), strict=True)), default=0)
    # Small counts: whole-number ticks rather than pygal's 0.1 steps.
    config = {"range": (0, 5)} if top < 5 else {}
    chart = _chart(kind, key=key, title=title, rows=len(shown), series=len(series), **config)
    # pygal draws the first value at the bottom of a horizontal chart: reverse to read top-down.
    chart.x_labels = [_short(label) for label in reversed(shown)]
    for name, values in series:
        chart.add(name, list(reversed(values[:MAX_BARS])))
    return _render(chart, title=title, shown=len(shown), total=len(labels))


def _grouped(key: str, title: str, labels: list[str], series: list[tuple[str, list[float]]]) -> Chart:
    """Horizontal bars side by side, one group per label (the first on top)."""
    shown = labels[:MAX_BARS]
    chart = _chart(pygal.HorizontalBar, key=key, title=title, rows=len(shown) * 2, series=len(series))
    chart.x_labels = [_short(label) for label in reversed(shown)]
    for name, values in series:
        chart.add(name, list(reversed(values[:MAX_BARS])))
    return _render(chart, title=title, shown=len(shown), total=len(labels))


def _status_key(status: DecisionStatus) -> str:
    """The figures count auto-approved decisions as ``auto``; every other status by its value."""
    return "auto" if status == DecisionStatus.AUTO_APPROVED else status.value


def status_chart(figures: dict[str, Any]) -> Chart:
    totals = figures["totals"]
    statuses = [s for s in STATUS_ORDER if totals[_status_key(s)]]
    return _bars(
        "status",
        "Decisions by final status",
        [s.label for s in statuses],
        [("Decisions", [totals[_status_key(s)] for s in statuses])],
    )


def dimension_chart(figures: dict[str, Any], dimension: str, what: str) -> Chart:
    """Decisions per action type / owning role / AI model, auto-approved and not."""
    rows = figures[f"by_{dimension}"]
    return _bars(
        dimension,
        f"Decisions by {what}: auto-approved and human",
        [r["label"] for r in rows],
        [("Auto-approved", [r["auto"] for r in rows]), ("Human", [r["human"] for r in rows])],
    )


def _time_unit(seconds: list[float]) -> tuple[str, float]:
    longest = max(seconds, default=0)
    if longest >= 3 * 3600:
        return "hours", 3600.0
    return "minutes", 60.0


def time_to_decision_chart(figures: dict[str, Any]) -> Chart:
    rows = [r for r in figures["by_owner_role"] if r["time_to_decision"]["p50"] is not None]
    values = [r["time_to_decision"][f"p{p}"] for r in rows for p in PERCENTILES]
    unit, per = _time_unit([v for v in values if v is not None])
    title = f"Time to decision by owning role ({unit})"
    return _grouped(
        "time_owner_role",
        title,
        [r["label"] for r in rows],
        [
            (f"p{p}", [round(r["time_to_decision"][f"p{p}"] / per, 1) for r in rows])
            for p in PERCENTILES  # every row with a p50 has every percentile
        ],
    )


def approver_chart(figures: dict[str, Any]) -> Chart:
    rows = figures["by_approver"]
    return _bars(
        "approver",
        "Sign-offs by approver and verdict",
        [r["label"] for r in rows],
        [
            ("Approvals", [r["approvals"] for r in rows]),
            ("Overrides", [r["overrides"] for r in rows]),
            ("Rejections", [r["rejections"] for r in rows]),
        ],
    )


def reason_chart(figures: dict[str, Any], verdict: str) -> Chart:
    entries = figures["reason_codes"].get(verdict, [])
    noun = "Override" if verdict == Verdict.OVERRIDE else "Reject"
    return _bars(
        f"reasons_{verdict}",
        f"{noun} reason codes",
        [e["label"] for e in entries],
        [("Sign-offs", [e["count"] for e in entries])],
    )


# --- Sections: a chart beside its table ----------------------------------------------------


def _totals_table(totals: dict[str, Any]) -> Table:
    t = totals
    ttd = t["time_to_decision"]
    decided_by_human = t["approved"] + t["overridden"] + t["rejected"]
    closed = decided_by_human + t["expired"]
    rows = [
        ("total", "Decisions", _count(t["total"])),
        ("auto", "Auto-approved", _count(t["auto"])),
        ("human", "Human (not auto-approved)", _count(t["human"])),
        *[(s.value, s.label, _count(t[s.value])) for s in STATUS_ORDER if s != DecisionStatus.AUTO_APPROVED],
        ("approve_rate", f"Approve rate (of {closed} closed by a human or expired)", _rate(t["approve_rate"])),
        ("override_rate", "Override rate", _rate(t["override_rate"])),
        ("reject_rate", "Reject rate", _rate(t["reject_rate"])),
        ("expire_rate", "Expire rate", _rate(t["expire_rate"])),
        (
            "false_positive_rate",
            "False-positive rate",
            _of(t["false_positives"], t["outcomes"], t["false_positive_rate"]),
        ),
        ("over_blocking_rate", "Over-blocking", _of(t["over_blocked"], t["containments"], t["over_blocking_rate"])),
        *[(f"p{p}", f"Time to decision, p{p}", _duration(ttd[f"p{p}"])) for p in PERCENTILES],
        (
            "escalations_per_decision",
            f"Escalations per decision ({t['escalations']} escalations)",
            _ratio(t["escalations_per_decision"]),
        ),
    ]
    return Table(
        caption="Totals of the period",
        columns=["Figure", "Value"],
        rows=[Row(key=k, label=label, cells=[cell]) for k, label, cell in rows],
    )


DIMENSION_COLUMNS = [
    "Decisions",
    "Auto-approved",
    "Human",
    "Approve rate",
    "Override rate",
    "Reject rate",
    "Expire rate",
    "Expired",
    "False-positive rate",
    "Over-blocking",
    "Time to decision p50",
    "p90",
    "p99",
    "Escalations per decision",
]


def _dimension_cells(r: dict[str, Any]) -> list[Cell]:
    ttd = r["time_to_decision"]
    return [
        _count(r["total"]),
        _count(r["auto"]),
        _count(r["human"]),
        _rate(r["approve_rate"]),
        _rate(r["override_rate"]),
        _rate(r["reject_rate"]),
        _rate(r["expire_rate"]),
        _count(r["expired"]),
        _of(r["false_positives"], r["outcomes"], r["false_positive_rate"]),
        _of(r["over_blocked"], r["containments"], r["over_blocking_rate"]),
        *[_duration(ttd[f"p{p}"]) for p in PERCENTILES],
        _ratio(r["escalations_per_decision"]),
    ]


def _dimension_section(figures: dict[str, Any], dimension: str, what: str, title: str, intro: str) -> Section:
    rows = figures[f"by_{dimension}"]
    return Section(
        key=dimension,
        title=title,
        intro=intro,
        table=Table(
            caption=f"{title}: every figure",
            columns=[what[0].upper() + what[1:], *DIMENSION_COLUMNS],
            rows=[Row(key=r["key"], label=r["label"], cells=_dimension_cells(r)) for r in rows],
        ),
        chart=dimension_chart(figures, dimension, what) if rows else None,
    )


def _time_section(figures: dict[str, Any]) -> Section:
    rows = [r for r in figures["by_owner_role"] if r["time_to_decision"]["p50"] is not None]
    return Section(
        key="time_owner_role",
        title="Delayed response by owning role",
        intro="How long the people of each owning role took from submission to the human verdict.",
        table=Table(
            caption="Time to decision by owning role",
            columns=["Owning role", "Decided by a human", *[f"p{p}" for p in PERCENTILES], "Expired"],
            rows=[
                Row(
                    key=r["key"],
                    label=r["label"],
                    cells=[
                        _count(r["approved"] + r["overridden"] + r["rejected"]),
                        *[_duration(r["time_to_decision"][f"p{p}"]) for p in PERCENTILES],
                        _count(r["expired"]),
                    ],
                )
                for r in rows
            ],
        ),
        chart=time_to_decision_chart(figures) if rows else None,
        empty="No human verdicts in this period.",
    )


def _approver_section(figures: dict[str, Any]) -> Section:
    rows = figures["by_approver"]
    return Section(
        key="approver",
        title="By approver",
        intro="Live sign-offs (voided ones excluded) of the period's decisions, per person.",
        table=Table(
            caption="Sign-offs by approver",
            columns=[
                "Approver",
                "Sign-offs",
                "Approvals",
                "Overrides",
                "Rejections",
                "Approved, later false positive or reverted",
                *[f"Time to sign p{p}" for p in PERCENTILES],
            ],
            rows=[
                Row(
                    key=r["key"],
                    label=r["label"],
                    cells=[
                        _count(r["signoffs"]),
                        _count(r["approvals"]),
                        _count(r["overrides"]),
                        _count(r["rejections"]),
                        _of(r["approved_then_false_or_reverted"], r["approved_with_outcome"], r["over_blocking_rate"]),
                        *[_duration(r["time_to_sign"][f"p{p}"]) for p in PERCENTILES],
                    ],
                )
                for r in rows
            ],
        ),
        chart=approver_chart(figures) if rows else None,
        empty="Nobody signed a decision of this period.",
    )


def _break_glass_section(figures: dict[str, Any]) -> Section:
    rows = figures.get("break_glass", [])  # reports frozen before break-glass existed have none
    return Section(
        key="break-glass",
        title="Break-glass use",
        intro=(
            "Decisions of the period executed before their quorum, per person and the role they broke glass as, "
            "with how their post-hoc reviews went."
        ),
        table=Table(
            caption="Break-glass uses by person and role",
            columns=["Person (role)", "Uses", "Confirmed", "Condemned", "Unreviewed", "Review overdue"],
            rows=[
                Row(
                    key=f"{r['person']}|{r['role']}",
                    label=f"{r['person']} ({r['role']})",
                    cells=[_count(r[k]) for k in ("uses", "confirmed", "condemned", "unreviewed", "overdue")],
                )
                for r in rows
            ],
        ),
        chart=None,
        empty="Nobody broke glass on a decision of this period.",
    )


def _reason_section(figures: dict[str, Any], verdict: str) -> Section:
    entries = figures["reason_codes"].get(verdict, [])
    total = sum(e["count"] for e in entries)
    noun, past = ("Override", "overrode") if verdict == Verdict.OVERRIDE else ("Reject", "rejected")
    return Section(
        key=f"reasons_{verdict}",
        title=f"{noun} reason codes",
        intro=f"Why people {past}: the reason code of every live {noun.lower()} sign-off.",
        table=Table(
            caption=f"{noun} sign-offs per reason code",
            columns=["Reason", "Sign-offs", "Share"],
            rows=[
                Row(
                    key=e["code"],
                    label=e["label"],
                    cells=[_count(e["count"]), _rate(round(e["count"] / total, 4) if total else None)],
                )
                for e in entries
            ],
        ),
        chart=reason_chart(figures, verdict) if entries else None,
        empty=f"No {noun.lower()}s in this period.",
    )


def review_sections(figures: dict[str, Any]) -> list[Section]:
    """Every chart of the review with its table, in the order the page shows them."""
    totals = figures["totals"]
    return [
        Section(
            key="totals",
            title="Totals",
            intro="Every decision submitted in the period, by final status, with the rates and delays.",
            table=_totals_table(totals),
            chart=status_chart(figures) if totals["total"] else None,
        ),
        _dimension_section(
            figures, "action_type", "action type", "By action type", "What the AI recommended, per kind of action."
        ),
        _dimension_section(
            figures,
            "owner_role",
            "owning role",
            "By owning role",
            "The role that owned each decision when it was routed (frozen at intake).",
        ),
        _time_section(figures),
        _dimension_section(
            figures, "model", "AI model version", "By AI model version", "The model and version that recommended it."
        ),
        _approver_section(figures),
        _break_glass_section(figures),
        _reason_section(figures, Verdict.OVERRIDE.value),
        _reason_section(figures, Verdict.REJECT.value),
    ]
