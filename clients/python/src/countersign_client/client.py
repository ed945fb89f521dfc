"""The Countersign API from Python: ``Countersign`` (sync) and ``AsyncCountersign`` (asyncio).

    client = Countersign("https://countersign.example", api_key="…")
    decision = client.submit(action_type="isolate-host", title=…, recommendation=…, target={…},
                             ai_confidence=0.9, blast_radius="medium", severity="high",
                             model={"name": "triage-agent", "version": "1"})
    verdict = client.wait_for_verdict(decision.id, timeout=600)   # long-poll, no busy loop
    if verdict.may_execute:
        execute(verdict.final_action)

``submit`` sends an ``Idempotency-Key`` (a new UUID unless given) and keeps it across retries, so
a retry never submits twice. Requests the server refused before acting (429) are retried, and so
are 5xx answers and broken connections for requests that are safe to repeat (reads, a submission
with its key); each retry waits ``Retry-After`` when the server sent one, else an exponential
backoff. Refusals raise ``APIError`` subclasses carrying the API's ``code`` and field ``errors``.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from countersign_client.errors import APIError, CountersignError, VerdictTimeout, error_for
from countersign_client.models import Decision, SignOff

API = "/api/v1"
MAX_WAIT = 60  # the server's longest long-poll
USER_AGENT = "countersign-client/0.1"


@dataclass(frozen=True)
class Retry:
    """How often and how long to retry: ``attempts`` in all, backoff ``base * 2**n`` (jittered),
    ``Retry-After`` honoured up to ``max_delay`` seconds."""

    attempts: int = 5
    base: float = 0.5
    max_delay: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return min(self.base * 2**attempt * (0.5 + random.random() / 2), self.max_delay)  # noqa: S311


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _headers(api_key: str | None, token: str | None) -> dict[str, str]:
    if (api_key is None) == (token is None):
        raise CountersignError("give exactly one of api_key (an integration) or token (a person's personal token)")
    auth = f"Api-Key {api_key}" if api_key is not None else f"Bearer {token}"
    return {"Authorization": auth, "User-Agent": USER_AGENT, "Accept": "application/json"}


def submission(
    *,
    action_type: str,
    title: str,
    recommendation: str,
    target: dict[str, Any],
    ai_confidence: float,
    blast_radius: str,
    severity: str,
    model: dict[str, str],
    extra: dict[str, Any],
) -> dict[str, Any]:
    return {
        "action_type": action_type,
        "title": title,
        "recommendation": recommendation,
        "target": target,
        "ai_confidence": ai_confidence,
        "blast_radius": blast_radius,
        "severity": severity,
        "model": model,
        **extra,
    }


class _Plan:
    """One API call: what to send, and whether repeating it after a 5xx or a broken connection is
    safe (a 429 is always retried: the server refused it before acting)."""

    def __init__(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        repeatable: bool,
        timeout: float | None = None,
    ) -> None:
        self.method, self.path, self.json, self.params = method, path, json, params
        self.headers = headers or {}
        self.repeatable = repeatable
        self.timeout = timeout

    def retryable(self, status: int | None) -> bool:
        if status == 429:
            return True
        return self.repeatable and (status is None or status >= 500)


def _wait_seconds(remaining: float) -> int:
    return max(1, min(MAX_WAIT, math.ceil(remaining)))


class _Base:
    def __init__(self, *, timeout: float, retry: Retry | None) -> None:
        self.timeout = timeout
        self.retry = retry or Retry()

    @staticmethod
    def _submit_plan(body: dict[str, Any], idempotency_key: str | None) -> _Plan:
        key = idempotency_key or str(uuid.uuid4())
        return _Plan("POST", f"{API}/decisions/", json=body, headers={"Idempotency-Key": key}, repeatable=True)

    def _wait_plan(self, decision_id: str, wait: int) -> _Plan:
        return _Plan(
            "GET",
            f"{API}/decisions/{decision_id}/",
            params={"wait": wait},
            repeatable=True,
            timeout=wait + self.timeout,
        )

    def _get_plan(self, decision_id: str, wait: int | None) -> _Plan:
        if wait is None:
            return _Plan("GET", f"{API}/decisions/{decision_id}/", repeatable=True)
        return self._wait_plan(decision_id, wait)

    @staticmethod
    def _cancel_plan(decision_id: str, reason: str) -> _Plan:
        return _Plan("POST", f"{API}/decisions/{decision_id}/cancel/", json={"reason": reason}, repeatable=False)

    @staticmethod
    def _outcome_plan(decision_id: str, kind: str, reverted: bool, notes: str) -> _Plan:
        body = {"kind": kind, "reverted": reverted, "notes": notes}
        return _Plan("POST", f"{API}/decisions/{decision_id}/outcome/", json=body, repeatable=False)

    @staticmethod
    def _sign_plan(
        decision_id: str, verdict: str, reason_code: str, rationale: str, override_action: dict[str, Any] | None
    ) -> _Plan:
        body: dict[str, Any] = {"verdict": verdict, "reason_code": reason_code, "rationale": rationale}
        if override_action is not None:
            body["override_action"] = override_action
        return _Plan("POST", f"{API}/decisions/{decision_id}/signoffs/", json=body, repeatable=False)

    def _request(self, plan: _Plan) -> dict[str, Any]:
        """The keyword arguments of ``httpx`` ``request`` for ``plan``."""
        return {
            "method": plan.method,
            "url": plan.path,
            "json": plan.json,
            "params": plan.params,
            "headers": plan.headers,
            "timeout": plan.timeout if plan.timeout is not None else self.timeout,
        }

    def _backoff(self, plan: _Plan, attempt: int, response: httpx.Response | None) -> float | None:
        """The pause before trying ``plan`` again after ``response`` (``None``: a broken
        connection), or ``None`` when it is not tried again."""
        status = None if response is None else response.status_code
        if not plan.retryable(status) or attempt + 1 >= self.retry.attempts:
            return None
        return self.retry.delay(attempt, None if response is None else _retry_after(response))


def _refusal(response: httpx.Response) -> APIError:
    return error_for(response.status_code, _json(response), _retry_after(response))


def _pending_pause(
    data: Any, response: httpx.Response, *, asked: float, deadline: float, timeout: float
) -> tuple[Decision | None, float]:
    """After one long-poll of ``wait_for_verdict``: (the decision, 0) once it is not pending;
    else (None, how long to pause before the next poll); ``VerdictTimeout`` past ``deadline``."""
    decision = Decision.from_api(data)
    if not decision.is_pending:
        return decision, 0.0
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise VerdictTimeout(decision, timeout)
    pause = _retry_after(response)
    if pause is None and time.monotonic() - asked < 0.5:
        pause = 1.0  # answered at once and still pending (an older server): no busy loop
    return None, (min(pause, remaining) if pause else 0.0)


class Countersign(_Base):
    """The synchronous client. ``api_key`` for an integration, ``token`` for a person."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        retry: Retry | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(timeout=timeout, retry=retry)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=_headers(api_key, token), timeout=timeout, transport=transport
        )

    def __enter__(self) -> Countersign:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, plan: _Plan) -> Any:
        attempt = 0
        while True:
            try:
                response = self._http.request(**self._request(plan))
            except httpx.TransportError:
                pause = self._backoff(plan, attempt, None)
                if pause is None:
                    raise
            else:
                if response.status_code < 400:
                    return _json(response), response
                pause = self._backoff(plan, attempt, response)
                if pause is None:
                    raise _refusal(response)
            time.sleep(pause)
            attempt += 1

    def submit(
        self,
        *,
        action_type: str,
        title: str,
        recommendation: str,
        target: dict[str, Any],
        ai_confidence: float,
        blast_radius: str,
        severity: str,
        model: dict[str, str],
        idempotency_key: str | None = None,
        **extra: Any,
    ) -> Decision:
        """Submit a recommendation; the decision as routed (``status`` pending, or auto-approved).
        The same ``idempotency_key`` and body again returns the same decision."""
        body = submission(
            action_type=action_type, title=title, recommendation=recommendation, target=target,
            ai_confidence=ai_confidence, blast_radius=blast_radius, severity=severity, model=model, extra=extra,
        )  # fmt: skip
        data, _ = self._call(self._submit_plan(body, idempotency_key))
        return Decision.from_api(data)

    def get(self, decision_id: str, *, wait: int | None = None) -> Decision:
        """The decision now; with ``wait`` (1..60 s), once it is not pending or the wait ends."""
        data, _ = self._call(self._get_plan(decision_id, wait))
        return Decision.from_api(data)

    def wait_for_verdict(self, decision_id: str, *, timeout: float = 300.0) -> Decision:
        """The decision once it is not pending (long-poll: one request per minute at most while
        nothing happens); ``VerdictTimeout`` (carrying the pending decision) after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            asked = time.monotonic()
            data, response = self._call(self._wait_plan(decision_id, _wait_seconds(remaining)))
            decision, pause = _pending_pause(data, response, asked=asked, deadline=deadline, timeout=timeout)
            if decision is not None:
                return decision
            if pause:
                time.sleep(pause)

    def cancel(self, decision_id: str, *, reason: str = "") -> Decision:
        data, _ = self._call(self._cancel_plan(decision_id, reason))
        return Decision.from_api(data)

    def report_outcome(self, decision_id: str, *, kind: str, reverted: bool = False, notes: str = "") -> Decision:
        """Once per decision, after its verdict: ``kind`` true_positive / false_positive / benign."""
        data, _ = self._call(self._outcome_plan(decision_id, kind, reverted, notes))
        return Decision.from_api(data)

    def sign_off(
        self,
        decision_id: str,
        *,
        verdict: str,
        reason_code: str,
        rationale: str,
        override_action: dict[str, Any] | None = None,
    ) -> SignOff:
        """A person's verdict (a client made with ``token=``; integrations never sign)."""
        data, _ = self._call(self._sign_plan(decision_id, verdict, reason_code, rationale, override_action))
        return SignOff.from_api(data)


class AsyncCountersign(_Base):
    """The asyncio client: the same methods as ``Countersign``, awaited."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        retry: Retry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(timeout=timeout, retry=retry)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=_headers(api_key, token), timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncCountersign:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, plan: _Plan) -> Any:
        attempt = 0
        while True:
            try:
                response = await self._http.request(**self._request(plan))
            except httpx.TransportError:
                pause = self._backoff(plan, attempt, None)
                if pause is None:
                    raise
            else:
                if response.status_code < 400:
                    return _json(response), response
                pause = self._backoff(plan, attempt, response)
                if pause is None:
                    raise _refusal(response)
            await asyncio.sleep(pause)
            attempt += 1

    async def submit(
        self,
        *,
        action_type: str,
        title: str,
        recommendation: str,
        target: dict[str, Any],
        ai_confidence: float,
        blast_radius: str,
        severity: str,
        model: dict[str, str],
        idempotency_key: str | None = None,
        **extra: Any,
    ) -> Decision:
        body = submission(
            action_type=action_type, title=title, recommendation=recommendation, target=target,
            ai_confidence=ai_confidence, blast_radius=blast_radius, severity=severity, model=model, extra=extra,
        )  # fmt: skip
        data, _ = await self._call(self._submit_plan(body, idempotency_key))
        return Decision.from_api(data)

    async def get(self, decision_id: str, *, wait: int | None = None) -> Decision:
        data, _ = await self._call(self._get_plan(decision_id, wait))
        return Decision.from_api(data)

    async def wait_for_verdict(self, decision_id: str, *, timeout: float = 300.0) -> Decision:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            asked = time.monotonic()
            data, response = await self._call(self._wait_plan(decision_id, _wait_seconds(remaining)))
            decision, pause = _pending_pause(data, response, asked=asked, deadline=deadline, timeout=timeout)
            if decision is not None:
                return decision
            if pause:
                await asyncio.sleep(pause)

    async def cancel(self, decision_id: str, *, reason: str = "") -> Decision:
        data, _ = await self._call(self._cancel_plan(decision_id, reason))
        return Decision.from_api(data)

    async def report_outcome(self, decision_id: str, *, kind: str, reverted: bool = False, notes: str = "") -> Decision:
        data, _ = await self._call(self._outcome_plan(decision_id, kind, reverted, notes))
        return Decision.from_api(data)

    async def sign_off(
        self,
        decision_id: str,
        *,
        verdict: str,
        reason_code: str,
        rationale: str,
        override_action: dict[str, Any] | None = None,
    ) -> SignOff:
        data, _ = await self._call(self._sign_plan(decision_id, verdict, reason_code, rationale, override_action))
        return SignOff.from_api(data)


__all__ = ["APIError", "AsyncCountersign", "Countersign", "Retry"]
