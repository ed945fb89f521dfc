"""An action type that changes production state or touches regulated data is never system-owned."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from governance.models import ActionType
from tests.governance.factories import ActionTypeFactory

pytestmark = pytest.mark.django_db

NEVER_SYSTEM_OWNED = "can never be system-owned"


def test_production_changing_action_type_cannot_be_system_owned():
    action_type = ActionType(slug="isolate-host", name="Isolate host", changes_production_state=True, system_owned=True)

    with pytest.raises(ValidationError, match=NEVER_SYSTEM_OWNED):
        action_type.full_clean()


def test_regulated_data_action_type_cannot_be_system_owned():
    action_type = ActionType(
        slug="notify-customer",
        name="Notify customer",
        changes_production_state=False,
        touches_regulated_data=True,
        system_owned=True,
    )

    with pytest.raises(ValidationError, match=NEVER_SYSTEM_OWNED):
        action_type.full_clean()


def test_database_refuses_system_owned_production_changing_action_type():
    with pytest.raises(IntegrityError), transaction.atomic():
        ActionTypeFactory(changes_production_state=True, touches_regulated_data=False, system_owned=True)


def test_database_refuses_system_owned_regulated_data_action_type():
    with pytest.raises(IntegrityError), transaction.atomic():
        ActionTypeFactory(changes_production_state=False, touches_regulated_data=True, system_owned=True)


def test_automation_action_type_may_be_system_owned():
    action_type = ActionType(
        slug="enrich-ticket",
        name="Enrich ticket",
        changes_production_state=False,
        touches_regulated_data=False,
        system_owned=True,
    )

    action_type.full_clean()
    action_type.save()

    assert ActionType.objects.get(slug="enrich-ticket").system_owned
    assert not action_type.needs_human


def test_production_changing_action_type_may_be_human_owned():
    action_type = ActionType(slug="disable-account", name="Disable account", changes_production_state=True)

    action_type.full_clean()
    action_type.save()

    assert action_type.needs_human


def test_new_action_type_defaults_to_production_changing_and_human_owned():
    action_type = ActionType(slug="block-ip", name="Block IP")

    assert action_type.changes_production_state
    assert not action_type.system_owned
