"""Request framing for the API, checked before anything reads the body.

The WSGI servers Countersign runs on frame a body by Content-Length alone: without one, Django
reads an empty body (a chunked request would be answered "field required"), and a
Transfer-Encoding next to a Content-Length would be read as its raw chunk framing. So under
``/api/`` a Transfer-Encoding is refused with 411 (send a Content-Length), a Content-Length that is
not a number with 400, and one over ``API_MAX_BODY_BYTES`` with 413, before the body is read.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


def _refuse(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)


def body_framing_error(request: HttpRequest) -> JsonResponse | None:
    """The refusal for a request whose body the API would misread or that is too large, or None."""
    if request.META.get("HTTP_TRANSFER_ENCODING"):
        return _refuse(
            411,
            "length_required",
            "Send the body with a Content-Length header: Transfer-Encoding (chunked) bodies are not accepted.",
        )
    raw = request.META.get("CONTENT_LENGTH") or "0"
    if not raw.isascii() or not raw.isdigit():
        return _refuse(400, "invalid_content_length", "The Content-Length header must be a number of bytes.")
    if int(raw) > settings.API_MAX_BODY_BYTES:
        return _refuse(
            413, "payload_too_large", f"The request body is larger than {settings.API_MAX_BODY_BYTES} bytes."
        )
    return None


class APIBodyFramingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith("/api/") and (refused := body_framing_error(request)) is not None:
            return refused
        return self.get_response(request)
