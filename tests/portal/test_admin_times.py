"""The admin shows times in the same zone and format as the analyst pages."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from decisions.templatetags.decision_pages import when
from governance import rbac
from tests.governance.factories import CertificationFactory, make_user_in_group

pytestmark = pytest.mark.django_db

VALID_UNTIL = datetime(2027, 3, 14, 15, 9, tzinfo=UTC)


def _analyst_text(value: datetime) -> str:
    """What the analyst pages print for ``value`` (the text inside their <time> element)."""
    html = str(when(value))
    return html.split(">", 1)[1].rsplit("<", 1)[0]


@pytest.mark.parametrize(
    ("zone", "expected"), [("UTC", "14 Mar 2027, 15:09 UTC"), ("Europe/Paris", "14 Mar 2027, 16:09 CET")]
)
def test_the_certification_list_shows_an_expiry_as_the_analyst_pages_do(client, settings, zone, expected):
    settings.TIME_ZONE = zone
    CertificationFactory(valid_until=VALID_UNTIL)
    client.force_login(make_user_in_group(rbac.AUDITOR))

    page = client.get(reverse("admin:governance_certification_changelist")).content.decode()

    assert _analyst_text(VALID_UNTIL) == expected
    assert expected in page


def test_the_audit_log_shows_when_in_the_same_format(client):
    client.force_login(make_user_in_group(rbac.AUDITOR))
    CertificationFactory()

    page = client.get(reverse("admin:auditlog_logentry_changelist")).content.decode()

    assert timezone.localtime().strftime("%Y") in page
    assert " UTC</td>" in page or " UTC</a>" in page
