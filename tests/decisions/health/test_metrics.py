"""/metrics: Prometheus text with the figures the database holds, let in only by the token or the
address allowlist (nobody when neither is set)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from decisions.models import Escalation, OutboxMessage

pytestmark = pytest.mark.django_db


def samples(response) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_are_off_when_neither_token_nor_addresses_are_set(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []

    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_token(client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    settings.METRICS_ALLOWED_IPS = []

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code == 200


def test_metrics_let_in_an_allowed_address(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]

    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 404


def test_metrics_report_pending_decisions_lateness_and_failures(client, settings, api_client, body, decision):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    submitted = api_client.post("/api/v1/decisions/", body, format="json")
    assert submitted.status_code == 201
    Escalation.objects.create(
        decision=decision, from_step=0, reason=Escalation.Reason.TIMEOUT, at=timezone.now(), lateness_ms=700
    )

    found = samples(client.get("/metrics"))

    assert found[("countersign_pending_decisions", (("deadline", "in-time"),))] >= 1
    assert found[("countersign_escalation_lateness_seconds_bucket", (("le", "0.5"),))] == 0
    assert found[("countersign_escalation_lateness_seconds_bucket", (("le", "1.0"),))] == 1
    assert found[("countersign_escalation_lateness_seconds_count", ())] == 1
    assert found[("countersign_escalation_lateness_seconds_sum", ())] == pytest.approx(0.7)
    assert ("countersign_delivery_failures_total", (("channel", "webhook"),)) in found
    assert found[("countersign_intake_seconds_count", ())] >= 1
    assert ("countersign_outbox_backlog", ()) in found


def test_the_outbox_backlog_and_its_oldest_age_are_reported(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    OutboxMessage.objects.create(
        task_name="decisions.tasks.relay_outbox", created_at=timezone.now() - timedelta(minutes=2)
    )
    OutboxMessage.objects.create(task_name="decisions.tasks.relay_outbox", published_at=timezone.now())

    found = samples(client.get("/metrics"))

    assert found[("countersign_outbox_backlog", ())] == 1
    assert 120 <= found[("countersign_outbox_oldest_age_seconds", ())] < 180


def test_overdue_decisions_are_counted_as_overdue(client, settings, decision):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    type(decision).objects.filter(pk=decision.pk).update(deadline=timezone.now() - timedelta(minutes=1))

    found = samples(client.get("/metrics"))

    assert found[("countersign_pending_decisions", (("deadline", "overdue"),))] == 1
