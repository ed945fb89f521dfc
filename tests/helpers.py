"""Test helpers that belong to no app: real threads released at once, the admin's forms, and
writing past the record's triggers for a test's setup (as a superuser may)."""

import threading
from contextlib import contextmanager
from html.parser import HTMLParser

from django.db import connection


def run_concurrently(fn, *, threads):
    """Call ``fn(index)`` in ``threads`` real threads released at the same instant.

    Returns one ``(result, exception)`` pair per thread, in index order. Each thread closes its
    own database connection, so this needs ``django_db(transaction=True)``.
    """
    barrier = threading.Barrier(threads)
    outcomes = [(None, None)] * threads

    def work(index):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = (fn(index), None)
        except Exception as exc:  # noqa: BLE001 - handed back to the test to judge
            outcomes[index] = (None, exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert not any(w.is_alive() for w in workers), "a thread is still running (deadlock?)"
    return outcomes


class _AdminFormParser(HTMLParser):
    """Collects what a browser would submit from the admin's change form (``<form id="*_form">``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.data: list[tuple[str, str]] = []
        self._in_form = False
        self._select: tuple[str, bool] | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._in_form = (a.get("id") or "").endswith("_form")
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            self._add(name, a.get("value") or ("on" if kind in {"checkbox", "radio"} else ""))
        elif tag == "select" and name:
            self._select, self._options = (name, "multiple" in a), []
        elif tag == "option" and self._select:
            self._options.append((a.get("value") or "", "selected" in a))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select" and self._select:
            name, multiple = self._select
            chosen = [value for value, selected in self._options if selected]
            if not chosen and not multiple and self._options:
                chosen = [self._options[0][0]]
            for value in chosen:
                self._add(name, value)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._add(self._textarea, "".join(self._text).removeprefix("\n"))
            self._textarea = None

    def _add(self, name: str, value: str) -> None:
        if "__prefix__" not in name:
            self.data.append((name, value))


def admin_form_data(response, **changes) -> dict:
    """The POST data a browser would send from an admin add/change page, with ``changes`` applied.

    Multi-valued fields (``filter_horizontal``) come back as lists. A change whose value is None
    removes the field, as an unticked checkbox does.
    """
    parser = _AdminFormParser()
    parser.feed(response.content.decode())
    data: dict = {}
    for name, value in parser.data:
        if name in data:
            data[name] = [*data[name], value] if isinstance(data[name], list) else [data[name], value]
        else:
            data[name] = value
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


@contextmanager
def triggers_off():
    """Bypass the append-only trigger on PostgreSQL the way a superuser can (replica mode skips
    triggers), for the tampering statement only: it silences every other trigger too."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET session_replication_role")


def force_update(queryset, **fields) -> int:
    """Write fields the database guards, for a test's setup: rows the services would never write
    (a decision submitted in the past, a state forged behind their back). Triggers off."""
    with triggers_off():
        return queryset.update(**fields)
