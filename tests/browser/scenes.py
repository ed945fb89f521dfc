"""Scenes for the analyst browser tests: a staffed action type, an integration that talks to the
live server over real HTTP (urllib, no third-party client), and logging in through the page."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from standardwebhooks.webhooks import Webhook

from decisions import integrations
from governance import rbac
from tests.decisions.factories import make_integration
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    CertificationFactory,
    DecisionRoleFactory,
    OwnershipAssignmentFactory,
    RosterFactory,
    UserFactory,
)

PASSWORD = "correct-horse-battery"


class IntegrationAPI:
    """An integration calling the API of the live server with ``Authorization: Api-Key <key>``."""

    def __init__(self, base_url: str, key: str):
        self.base_url = base_url.rstrip("/")
        self.key = key

    def call(self, method: str, path: str, body: dict | None = None, **headers: str) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the live test server, plain http
            f"{self.base_url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Api-Key {self.key}", "Content-Type": "application/json", **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def submit(self, body: dict, *, idempotency_key: str) -> dict:
        status, answer = self.call("POST", "/api/v1/decisions/", body, **{"Idempotency-Key": idempotency_key})
        assert status == 201, answer
        return answer

    def decision(self, decision_id: str) -> dict:
        status, answer = self.call("GET", f"/api/v1/decisions/{decision_id}/")
        assert status == 200, answer
        return answer


def integration_learns_verdict(
    api: IntegrationAPI, decision_id: str, *, status: str, receiver=None, secret: str = ""
) -> dict:
    """How the integration learns the verdict, both ways an integration would: polling
    GET /api/v1/decisions/<id>/, and (given the loopback ``receiver``) the signed webhook,
    whose signature must verify with the integration's secret."""
    answer = api.decision(decision_id)
    assert answer["status"] == status, answer
    if receiver is not None:
        verified = [Webhook(secret).verify(r.body, r.headers) for r in receiver.accepted]
        mine = [v for v in verified if v["data"]["id"] == decision_id]
        assert [v["type"] for v in mine] == [f"decision.{status}"], verified
        assert mine[0]["data"]["final_action"] == answer["final_action"]
    return answer


@dataclass
class Scene:
    action_type: Any
    role: Any
    analyst: Any
    integration: Any
    api: IntegrationAPI


def signing_scene(live_server, *, required_approvals: int = 1, webhook_url: str = "") -> Scene:
    """Isolate-host decisions owned by Tier-3 analysts; Nadia is on call and certified; a SOAR
    integration may submit them and holds an API key."""
    role = DecisionRoleFactory(slug="tier-3-analyst", name="Tier-3 Analyst")
    action_type = ActionTypeFactory(slug="isolate-host", name="Isolate host")
    OwnershipAssignmentFactory(action_type=action_type, owner_role=role)
    ApprovalPolicyFactory(
        name="Containment needs its owner", action_types=[action_type], required_approvals=required_approvals
    )
    analyst = UserFactory(username="nadia", first_name="Nadia", last_name="Rahman", groups=[rbac.ANALYST])
    RosterFactory(role=role, name="Tier-3 follow-the-sun", users=[analyst])
    CertificationFactory(user=analyst, role=role)
    integration = make_integration(action_type, name="SOAR playbooks")
    if webhook_url:
        integration.webhook_url = webhook_url
        integration.save(update_fields=["webhook_url"])
    _row, key = integrations.integration_key_create(integration=integration, name="primary")
    return Scene(action_type, role, analyst, integration, IntegrationAPI(live_server.url, key))


def submission(action_type, **overrides) -> dict:
    return {
        "action_type": action_type.slug,
        "title": "Isolate wks-042",
        "recommendation": "EDR shows credential dumping on wks-042; isolate the host from the network.",
        "target": {"host": "wks-042.corp.example", "edr_id": "a1b2c3"},
        "ai_confidence": 0.93,
        "blast_radius": "medium",
        "severity": "high",
        "incident_ref": "INC-4711",
        "evidence": {"alerts": ["edr-991", "edr-992"], "process": "lsass.exe dump by rundll32"},
        "model": {"name": "soc-triage", "version": "2026.11"},
        **overrides,
    }


def submit_password(page, user) -> None:
    """On the login page: ``user``'s username and password, and Log in."""
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def log_in(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    submit_password(page, user)
    page.wait_for_url(f"{live_server.url}/decisions/")


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")
