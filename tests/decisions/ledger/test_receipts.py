"""Receipts verify offline with the standalone verifier (no Django, no database), and fail when
any byte of them is altered."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decisions.ledger import keys
from decisions.ledger.receipts import receipt_for
from decisions.verifier import verify_receipt
from tests.decisions.scenarios import approve, pending

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
VERIFIER = ROOT / "decisions" / "verifier.py"


@pytest.fixture
def receipt():
    decision, (alice,) = pending()
    approve(decision, alice)
    decision.refresh_from_db()
    return receipt_for(decision)


def _published_key() -> str:
    return keys.public_key_b64(keys.signing_key())


def _run_verifier(path: Path, *args: str) -> subprocess.CompletedProcess:
    """The verifier as an auditor runs it: a plain interpreter, no Django settings, no database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE", "CELERY"))}
    return subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-I", str(VERIFIER), str(path), *args], capture_output=True, text=True, env=env, check=False
    )


def test_a_receipt_verifies_offline_with_the_published_key(receipt, tmp_path):
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))

    result = _run_verifier(path, "--trusted-key", _published_key())

    assert result.returncode == 0, result.stderr
    assert f"VERIFIED: decision {receipt['decision']['id']}, {len(receipt['events'])} events" in result.stdout


def test_the_verifier_imports_neither_django_nor_a_database_driver():
    probe = (
        f"import runpy, sys; runpy.run_path({str(VERIFIER)!r}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'psycopg', 'sqlite3'}))"
    )
    result = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True)  # noqa: S603

    assert result.stdout.strip() == "[]"


def test_a_receipt_checked_against_another_key_fails(receipt, tmp_path):
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    other = base64.b64encode(b"\x01" * 32).decode()

    result = _run_verifier(path, "--trusted-key", other)

    assert result.returncode == 1
    assert "is not signed by key" in result.stderr


def test_a_receipt_with_a_flipped_verdict_fails(receipt):
    signed = next(e for e in receipt["events"] if e["kind"] == "signed")
    signed["data"]["verdict"] = "reject"

    report = verify_receipt(receipt)

    assert not report.ok
    assert f"event #{signed['seq']}: its content does not match its hash" in "\n".join(report.problems)


def test_a_receipt_missing_an_event_fails(receipt):
    del receipt["events"][2]

    assert not verify_receipt(receipt).ok


def test_flipping_any_single_bit_of_a_receipt_makes_it_fail(receipt):
    """Every byte of the receipt's text, each bit: the verifier refuses all of them."""
    text = json.dumps(receipt, separators=(",", ":")).encode()
    assert verify_receipt(json.loads(text)).ok
    survivors = []
    for index in range(len(text)):
        for bit in (0x01, 0x20):
            altered = bytearray(text)
            altered[index] ^= bit
            try:
                parsed = json.loads(altered.decode())
            except (UnicodeDecodeError, ValueError):
                continue  # no longer JSON: the verifier cannot even read it
            if verify_receipt(parsed).ok:
                survivors.append((index, bit, text[max(0, index - 20) : index + 20]))
    assert survivors == [], survivors[:10]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_altered_byte_makes_a_receipt_fail(receipt, data):
    text = json.dumps(receipt, separators=(",", ":")).encode()
    index = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != text[index]))
    altered = bytearray(text)
    altered[index] = replacement
    try:
        parsed = json.loads(altered.decode())
    except (UnicodeDecodeError, ValueError):
        return
    assert not verify_receipt(parsed).ok


def test_the_decision_page_offers_its_receipt_for_download(client):
    from decisions.models import DecisionStatus
    from governance import rbac
    from tests.governance.factories import make_user_in_group

    decision, (alice,) = pending()
    approve(decision, alice)
    client.force_login(make_user_in_group(rbac.AUDITOR))

    page = client.get(f"/decisions/{decision.public_id}/")
    download = client.get(f"/decisions/{decision.public_id}/receipt.json")

    assert f"/decisions/{decision.public_id}/receipt.json" in page.content.decode()
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    assert verify_receipt(json.loads(download.content)).ok
    assert json.loads(download.content)["decision"]["status"] == DecisionStatus.APPROVED


def test_the_api_gives_the_integration_its_decisions_receipt(caller, staffed, make_decision):
    decision = make_decision(caller.integration, staffed.action_type)

    response = caller.client.get(f"/api/v1/decisions/{decision.public_id}/receipt/")

    assert response.status_code == 200
    assert verify_receipt(response.json()).ok


def test_without_a_signing_key_a_receipt_is_a_clear_409(caller, staffed, make_decision, settings, tmp_path):
    decision = make_decision(caller.integration, staffed.action_type)
    settings.LEDGER_SIGNING_KEY = ""
    settings.LEDGER_SIGNING_KEY_FILE = str(tmp_path / "absent")

    response = caller.client.get(f"/api/v1/decisions/{decision.public_id}/receipt/")

    assert response.status_code == 409
    assert response.json()["code"] == "not_in_a_checkpoint_yet"
