"""Prometheus metrics (/metrics). What the database knows is read when scraped, so every process
answers the same: pending decisions, escalation lateness, webhook and notification failures, the
outbox backlog. Intake latency is measured where it happens, in each web process (set
PROMETHEUS_MULTIPROC_DIR to a shared directory when one host runs several of them)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from django.db.models import Count, Q, Sum
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from decisions.health.heartbeat import health_state
from decisions.health.outbox import outbox_backlog
from decisions.models import DecisionEvent, DecisionRequest, DecisionStatus, Escalation, EventKind

LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
INTAKE_SECONDS = Histogram(
    "countersign_intake_seconds",
    "Time to accept one submission (POST /api/v1/decisions/), validation to response.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=PROCESS_REGISTRY,
)


class DatabaseCollector(Collector):
    """The figures the database holds, read at scrape time (a few indexed aggregate queries)."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        pending = DecisionRequest.objects.filter(status=DecisionStatus.PENDING).aggregate(
            in_time=Count("id", filter=Q(deadline__gt=now)),
            overdue=Count("id", filter=Q(deadline__lte=now)),
            no_deadline=Count("id", filter=Q(deadline__isnull=True)),
        )
        gauge = GaugeMetricFamily(
            "countersign_pending_decisions", "Pending decisions, by where their deadline stands.", labels=["deadline"]
        )
        for label, value in pending.items():
            gauge.add_metric([label.replace("_", "-")], value)
        yield gauge
        yield self._lateness()
        failures = DecisionEvent.objects.filter(
            kind__in=[EventKind.WEBHOOK_FAILED, EventKind.NOTIFICATION_FAILED]
        ).aggregate(
            webhook=Count("id", filter=Q(kind=EventKind.WEBHOOK_FAILED)),
            notification=Count("id", filter=Q(kind=EventKind.NOTIFICATION_FAILED)),
        )
        counter = CounterMetricFamily(
            "countersign_delivery_failures", "Failed delivery attempts, each a decision event.", labels=["channel"]
        )
        for channel, value in failures.items():
            counter.add_metric([channel], value)
        yield counter
        state = health_state(now=now)
        age = state.sweep_age
        yield GaugeMetricFamily(
            "countersign_sweep_age_seconds",
            "Seconds since the escalation sweep last ran (NaN: never).",
            value=age.total_seconds() if age is not None else float("nan"),
        )
        backlog = outbox_backlog()
        yield GaugeMetricFamily("countersign_outbox_backlog", "Outbox rows not yet performed.", value=backlog.pending)
        oldest = (now - backlog.oldest_at).total_seconds() if backlog.oldest_at else 0.0
        yield GaugeMetricFamily(
            "countersign_outbox_oldest_age_seconds", "Age of the oldest outbox row not yet performed.", value=oldest
        )

    def _lateness(self) -> Metric:
        """Escalation lateness (escalation instant minus deadline), every escalation so far."""
        buckets = {
            f"le_{i}": Count("id", filter=Q(lateness_ms__lte=int(bound * 1000)))
            for i, bound in enumerate(LATENESS_BUCKETS)
        }
        row = Escalation.objects.filter(reason=Escalation.Reason.TIMEOUT).aggregate(
            count=Count("id"), total_ms=Sum("lateness_ms"), **buckets
        )
        cumulative = [(str(bound), row[f"le_{i}"]) for i, bound in enumerate(LATENESS_BUCKETS)]
        cumulative.append(("+Inf", row["count"]))
        family = HistogramMetricFamily(
            "countersign_escalation_lateness_seconds", "How late timed escalations happened after their deadline."
        )
        family.add_metric([], cumulative, sum_value=(row["total_ms"] or 0) / 1000)
        return family


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    registry = CollectorRegistry(auto_describe=True)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(PROCESS_REGISTRY)
    registry.register(DatabaseCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
