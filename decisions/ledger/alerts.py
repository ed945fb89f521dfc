"""Telling people about the record: checkpoints delivered to the witnesses beyond the file
(the auditors' inbox, a witness URL), and a log that no longer verifies, shouted once."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import send_mail
from django.db.models import Q
from standardwebhooks.webhooks import Webhook

from decisions.models import LedgerCheckpoint, LedgerVerification
from decisions.outbound.http import post
from governance import rbac

logger = logging.getLogger(__name__)
User = get_user_model()
ALERTED_KEY = "countersign:ledger:alerted"


def publish(checkpoint_id: int) -> bool:
    """Email the checkpoint to LEDGER_WITNESS_EMAILS and POST it to LEDGER_WITNESS_URL. False
    when a channel failed (the task retries)."""
    checkpoint = LedgerCheckpoint.objects.filter(pk=checkpoint_id).first()
    if checkpoint is None:
        return True
    signed = checkpoint.as_signed()
    body = json.dumps(signed, sort_keys=True, separators=(",", ":"))
    ok = True
    if settings.LEDGER_WITNESS_EMAILS:
        try:
            send_mail(
                subject=f"[Countersign] decision log checkpoint {checkpoint.tree_size}",
                message=f"A signed checkpoint of the decision log. Keep it: verification compares the log with it.\n\n"
                f"{body}\n",
                from_email=None,
                recipient_list=list(settings.LEDGER_WITNESS_EMAILS),
            )
        except OSError:
            logger.warning("checkpoint %s: the witness email could not be sent", checkpoint.tree_size, exc_info=True)
            ok = False
    if settings.LEDGER_WITNESS_URL:
        msg_id = f"chk_{checkpoint.public_id.hex}"
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(settings.LEDGER_WITNESS_SECRET).sign(msg_id, now, body),
        }
        attempt = post(settings.LEDGER_WITNESS_URL, body.encode(), headers, guarded=False)  # the operator's own URL
        if not attempt.ok:
            logger.warning("checkpoint %s: the witness URL answered %s", checkpoint.tree_size, attempt.status)
            ok = False
    return ok


def log_broken(verification: LedgerVerification) -> None:
    """A verification found the log broken: log it as an error and email the governance leads
    and auditors, once per distinct first problem (the banner shows it until it verifies again)."""
    first = verification.problems[0] if verification.problems else "unknown"
    logger.error(
        "THE DECISION LOG DOES NOT VERIFY (%s run): %s", verification.mode, "; ".join(verification.problems[:5])
    )
    if cache.get(ALERTED_KEY) == first:
        return
    recipients = list(
        User.objects.filter(is_active=True)
        .filter(Q(groups__name__in=[rbac.GOVERNANCE_LEAD, rbac.AUDITOR]) | Q(is_superuser=True))
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    if recipients:
        try:
            send_mail(
                subject="[Countersign] ALERT: the decision log does not verify",
                message="A verification of the decision log found it altered:\n\n"
                + "\n".join(f"- {p}" for p in verification.problems[:20])
                + "\n\nRun `manage.py verify_decision_log --full` and compare with the witness copy of the "
                "checkpoints.",
                from_email=None,
                recipient_list=recipients,
            )
        except OSError:
            logger.warning("the ledger alert email could not be sent", exc_info=True)
            return
    cache.set(ALERTED_KEY, first, timeout=None)
