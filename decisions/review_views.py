"""The periodic review pages: dashboard, frozen reports, review sign-off. (Being written.)"""

from django.http import HttpRequest, HttpResponse


def dashboard(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


def report_list(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


def report_detail(request: HttpRequest, public_id) -> HttpResponse:
    raise NotImplementedError
