"""Verification while the services keep writing: a decision signed between the read of its
events and the read of its row must not look altered (one snapshot per pass, a second pass
before anything is reported)."""

import threading
import time

import pytest
from django.db import connection

from decisions.ledger.checkpoints import checkpoint_now
from decisions.ledger.sequencer import sequence_pending
from decisions.ledger.verification import verify_ledger
from tests.decisions.scenarios import approve_by_pk, pending

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DECISIONS = 40


def test_signing_while_the_log_is_verified_raises_no_false_alarm(settings):
    settings.LEDGER_VERIFY_RECHECK_SECONDS = 0.0
    waiting = [pending() for _ in range(DECISIONS)]
    sequence_pending()
    checkpoint_now()
    assert verify_ledger().intact
    done = threading.Event()
    signed_at: list[float] = []

    def sign_all() -> None:
        try:
            for decision, (person,) in waiting:
                approve_by_pk(decision.pk, person.pk)
                signed_at.append(time.monotonic())
        finally:
            connection.close()
            done.set()

    signer = threading.Thread(target=sign_all)
    signer.start()
    verifications, spans = [], []
    while not done.is_set():
        started = time.monotonic()
        verifications.append(verify_ledger(record=False))
        spans.append((started, time.monotonic()))
    signer.join()

    # The race was really run: sign-offs committed while a verification was reading.
    assert any(start < at < end for start, end in spans for at in signed_at)
    assert [v.problems for v in verifications if not v.intact] == []
    assert verify_ledger().intact
