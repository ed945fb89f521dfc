"""Streamed exports and the auditor's evidence pack. (Being written.)"""

from django.http import HttpRequest, HttpResponse


def export(request: HttpRequest, dataset: str, fmt: str) -> HttpResponse:
    raise NotImplementedError


def evidence_pack(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError
