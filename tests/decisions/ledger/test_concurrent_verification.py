"""Verification while the services keep writing: a decision signed between the read of its
events and the read of its row must not look altered (one snapshot per pass, a second pass
before anything is reported)."""

import threading

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

    def sign_all() -> None:
        try:
            for decision, (person,) in waiting:
                approve_by_pk(decision.pk, person.pk)
        finally:
            connection.close()
            done.set()

    signer = threading.Thread(target=sign_all)
    signer.start()
    verifications = []
    while not done.is_set():
        verifications.append(verify_ledger(record=False))
    signer.join()

    assert verifications, "the signer finished before a single verification ran"
    assert [v.problems for v in verifications if not v.intact] == []
    assert verify_ledger().intact
