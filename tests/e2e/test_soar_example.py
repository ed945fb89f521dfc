"""README's SOAR example (shell, curl, jq), run as written against a live portal: it submits,
waits by long-poll while the decision is pending, and acts on the final action once a person
approves through the API."""

import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from countersign_client import Countersign

from tests.needs import missing

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

README = Path(__file__).resolve().parents[2] / "README.md"
APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "EDR shows C2 beaconing."}


def soar_script() -> str:
    text = README.read_text()
    section = text[text.index("### SOAR playbooks: shell and curl") :]
    return re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_soar_example_waits_for_the_verdict_and_acts_on_it(world):
    if shutil.which("jq") is None or shutil.which("curl") is None:
        missing("needs curl and jq (apt-get install curl jq)")
    script = soar_script().replace("https://countersign.example", world.url).replace("isolate-host", world.action_type)
    script = script.replace("#!/bin/sh -e\n", 'set -e\nisolate_host() { echo "ISOLATE $1"; }\n')
    env = {"PATH": "/usr/bin:/bin", "COUNTERSIGN_API_KEY": world.key, "HOST": "laptop-042",
           "INCIDENT": "INC-4711", "WHY": "Beaconing to a known C2 domain."}  # fmt: skip
    playbook = subprocess.Popen(  # noqa: S603 - README's own script
        ["/bin/sh", "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,  # noqa: S607
    )
    pending = None
    deadline = time.monotonic() + 20
    while pending is None and time.monotonic() < deadline:
        listed = httpx.get(
            f"{world.url}/api/v1/decisions/",
            params={"status": "pending"},
            headers={"Authorization": f"Api-Key {world.key}"},
        )
        pending = listed.json()["results"][0]["id"] if listed.json()["results"] else None
        time.sleep(0.2)
    assert pending is not None
    time.sleep(1.5)  # the playbook is waiting now
    assert playbook.poll() is None
    with Countersign(world.url, token=world.token) as analyst:
        threading.Thread(target=analyst.sign_off, args=(pending,), kwargs=APPROVE).start()

    output, _ = playbook.communicate(timeout=30)

    assert playbook.returncode == 0, output
    assert "ISOLATE {" in output
    assert '"host":"laptop-042"' in output
