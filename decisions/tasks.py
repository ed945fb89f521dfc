"""Celery tasks: take ids, load rows, call a service. Every task is idempotent."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from decisions import webhooks

logger = logging.getLogger(__name__)


class WebhookNotAccepted(Exception):
    """The receiver did not answer 2xx; the task retries with backoff."""


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=webhooks.MAX_ATTEMPTS - 1,
    ignore_result=True,
    soft_time_limit=30,
    time_limit=45,
)
def deliver_verdict_webhook(self, decision_id: int) -> None:
    """POST a terminal decision's verdict to its integration's webhook (Standard Webhooks).

    Retries 7 times with exponential backoff (2, 4, 8 … 128 s) while the receiver fails; each
    attempt is a decision event. A second delivery of this task after success is a no-op.
    """
    attempt = self.request.retries + 1
    result = webhooks.deliver(decision_id, attempt)
    if result is not None and not result.ok:
        raise self.retry(exc=WebhookNotAccepted(result.error or str(result.status)), countdown=2**attempt)


def enqueue_after_commit(task, *args) -> None:
    """Queue ``task`` once the current transaction commits (nothing if it rolls back).

    A broker that cannot be reached never fails the request that changed the decision: the
    database holds the state, and the periodic sweep picks up what was not queued.
    """

    def send() -> None:
        try:
            task.apply_async(args=args, retry=False)
        except Exception:  # kombu raises several kinds; any of them means "not queued"
            logger.warning("could not queue %s%r; the sweep will catch up", task.name, args, exc_info=True)

    transaction.on_commit(send)
