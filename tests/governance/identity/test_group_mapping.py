"""IdP group mappings: edited in the admin by a governance lead with a reason (audited), never
giving the Integration group; the groups claim read from OIDC and SAML shapes; a sync touches
only the groups an IdP may give."""

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.urls import reverse

from governance import rbac, services
from governance.identity.groups import idp_groups_from, mapped_groups, user_sync_sso_groups
from governance.models import IdPGroupMapping
from tests.governance.factories import UserFactory, make_user_in_group
from tests.helpers import admin_form_data

pytestmark = pytest.mark.django_db


def _group(name: str) -> Group:
    return Group.objects.get(name=name)


def test_a_lead_adds_a_mapping_with_a_reason_and_the_audit_log_keeps_it(client, lead):
    url = reverse("admin:governance_idpgroupmapping_add")
    data = admin_form_data(
        client.get(url),
        provider="acme",
        idp_group="soc-analysts",
        group=str(_group(rbac.ANALYST).pk),
        enabled="on",
        change_reason="SOC analysts sign in with Entra ID",
        ticket_ref="CHG-1",
    )

    response = client.post(url, data)

    assert response.status_code == 302
    mapping = IdPGroupMapping.objects.get(idp_group="soc-analysts")
    entry = LogEntry.objects.get_for_object(mapping).get()
    assert entry.actor == lead
    assert entry.additional_data == {"reason": "SOC analysts sign in with Entra ID", "ticket_ref": "CHG-1"}


def test_a_mapping_without_a_reason_is_refused(client, lead):
    url = reverse("admin:governance_idpgroupmapping_add")
    data = admin_form_data(client.get(url), idp_group="soc-analysts", group=str(_group(rbac.ANALYST).pk))

    response = client.post(url, {**data, "change_reason": ""})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["change_reason"] == ["This field is required."]
    assert not IdPGroupMapping.objects.exists()


def test_an_idp_can_never_give_the_integration_group(lead):
    mapping = IdPGroupMapping(idp_group="robots", group=_group(rbac.INTEGRATION))

    with pytest.raises(ValidationError, match="An IdP can only give one of"):
        services.idp_group_mapping_save(actor=lead, mapping=mapping, reason="try")


def test_an_analyst_cannot_open_the_mappings(client):
    client.force_login(make_user_in_group(rbac.ANALYST, is_staff=True))

    assert client.get(reverse("admin:governance_idpgroupmapping_changelist")).status_code == 403


@pytest.mark.parametrize(
    ("extra_data", "expected"),
    [
        ({"id_token": {"groups": ["a", "b"]}, "userinfo": {"groups": ["b", "c"]}}, ["a", "b", "c"]),
        ({"userinfo": {"groups": "a"}}, ["a"]),
        ({"groups": ["a"], "other": ["x"]}, ["a"]),  # SAML: attribute name -> values
        ({"id_token": {"sub": "x"}}, []),
    ],
)
def test_the_groups_claim_is_read_from_oidc_and_saml_shapes(extra_data, expected):
    assert idp_groups_from(extra_data, "groups") == expected


def test_a_mapping_of_another_idp_or_disabled_gives_nothing():
    IdPGroupMapping.objects.create(provider="other", idp_group="soc", group=_group(rbac.ANALYST))
    IdPGroupMapping.objects.create(provider="acme", idp_group="soc", group=_group(rbac.AUDITOR), enabled=False)
    IdPGroupMapping.objects.create(provider="", idp_group="soc", group=_group(rbac.GOVERNANCE_LEAD))

    assert [g.name for g in mapped_groups(provider="acme", idp_groups=["soc"])] == [rbac.GOVERNANCE_LEAD]


def test_a_sync_leaves_groups_no_idp_gives_alone_and_is_audited_with_the_idp_groups():
    user = UserFactory(groups=[rbac.ANALYST, rbac.INTEGRATION])

    changed = user_sync_sso_groups(user=user, groups=[_group(rbac.AUDITOR)], provider="acme", idp_groups=["audit"])

    assert changed
    assert sorted(g.name for g in user.groups.all()) == [rbac.AUDITOR, rbac.INTEGRATION]
    assert user.is_staff
    entry = LogEntry.objects.get_for_object(user).latest("timestamp")
    assert entry.additional_data["reason"] == "SSO login via acme: IdP groups audit"
    assert entry.actor is None


def test_the_mappings_changelist_queries_do_not_grow_with_rows(client, lead, django_assert_num_queries):
    url = reverse("admin:governance_idpgroupmapping_changelist")
    analyst = _group(rbac.ANALYST)
    IdPGroupMapping.objects.create(provider="acme", idp_group="g-0", group=analyst)
    client.get(url)  # process-wide caches (content types) filled: count the steady state
    with django_assert_num_queries(QUERIES):
        one = client.get(url)
    for i in range(1, 50):
        IdPGroupMapping.objects.create(provider="acme", idp_group=f"g-{i}", group=analyst)
    with django_assert_num_queries(QUERIES):
        many = client.get(url)

    assert one.context["cl"].result_count == 1
    assert len(many.context["cl"].result_list) == 50


# Session, user, the health banner, permissions, the counts, the rows with their groups (one
# query), the filters' choices: the same at 1 and at 50 rows.
QUERIES = 10


@pytest.mark.parametrize("posted", [" soc-analysts", "soc-analysts\t", "\u00a0soc-analysts"])
def test_a_duplicate_with_surrounding_space_is_a_form_error_not_a_500(client, lead, posted):
    analyst = _group(rbac.ANALYST)
    IdPGroupMapping.objects.create(provider="acme", idp_group="soc-analysts", group=analyst)
    url = reverse("admin:governance_idpgroupmapping_add")
    data = admin_form_data(
        client.get(url),
        provider=" acme",
        idp_group=posted,
        group=str(analyst.pk),
        enabled="on",
        change_reason="again",
    )

    response = client.post(url, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["__all__"]
    assert IdPGroupMapping.objects.count() == 1


def test_the_integration_group_in_the_admin_is_a_form_error_not_a_500(client, lead):
    url = reverse("admin:governance_idpgroupmapping_add")
    data = admin_form_data(
        client.get(url), idp_group="robots", group=str(_group(rbac.INTEGRATION).pk), change_reason="try"
    )

    response = client.post(url, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["group"]
    assert not IdPGroupMapping.objects.exists()


def test_removal_from_every_mapped_group_ends_every_session_even_with_a_usable_password():
    from allauth.socialaccount.models import SocialAccount
    from django.test import Client

    ada = UserFactory(username="ada", groups=[rbac.ANALYST])
    assert ada.has_usable_password()
    SocialAccount.objects.create(user=ada, provider="acme", uid="ada-sub")
    first, second = Client(), Client()
    first.force_login(ada)
    second.force_login(ada)
    assert first.get("/decisions/").status_code == 200

    user_sync_sso_groups(user=ada, groups=[], provider="acme", idp_groups=["everyone"])

    for client in (first, second):
        response = client.get("/decisions/")
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")
