"""`make run` prints every demo login (manage.py demo_logins), each of which really signs in."""

import io
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from governance.demo import DEMO_PASSWORD, GovernanceDemo

pytestmark = pytest.mark.django_db


def test_every_login_seed_demo_creates_is_printed():
    GovernanceDemo().build()
    usable = {u.username for u in get_user_model().objects.all() if u.check_password(DEMO_PASSWORD)}
    out = io.StringIO()

    call_command("demo_logins", stdout=out)

    printed = {line.split()[0] for line in out.getvalue().splitlines()[1:]}
    assert usable
    assert printed == usable


def test_make_run_prints_the_demo_logins():
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text(encoding="utf-8")
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]

    procfile = (Path(__file__).resolve().parents[2] / "Procfile").read_text(encoding="utf-8")

    assert "manage.py demo_logins" in run
    assert run.index("seed_demo") < run.index("demo_logins") < run.index("honcho start -f Procfile")
    assert "manage.py runserver" in procfile
