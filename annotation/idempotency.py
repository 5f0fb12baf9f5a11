"""Idempotent POSTs: a request with a key already answered gets the same answer, and nothing
changes. The view and the record of its answer commit together, so a crash in between leaves
neither; two concurrent requests with one key end with one change and two equal answers."""

import functools
import re

from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from annotation import layers
from annotation.models import IdempotencyRecord
from config import rows

HEADER = "Idempotency-Key"
FIELD = "idempotency_key"
KEPT_HEADERS = ("HX-Trigger", "HX-Trigger-After-Settle", "HX-Redirect", "HX-Refresh", "HX-Retarget",
                "HX-Reswap", "Location")
_VALID_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")


def key_of(request: HttpRequest) -> str | None:
    return request.headers.get(HEADER) or request.POST.get(FIELD) or None


def idempotent(view):
    """Decorate a POST view: replay the stored answer when its key was answered before.

    Most keys are new, so the view runs at once and its answer is recorded under the key in the
    same transaction; no query asks first. A key answered before (a retry) fails that INSERT,
    or fails the view itself (the mention its first run deleted): its work is rolled back and
    the stored answer replayed. So does a key answered meanwhile by a concurrent request."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        key = key_of(request)
        if key is None:
            return view(request, *args, **kwargs)
        if not _VALID_KEY.match(key):
            return HttpResponse("The idempotency key must be 8–100 letters, digits or -_.:",
                                status=422, content_type="text/plain")
        try:
            with transaction.atomic():
                response = view(request, *args, **kwargs)
                if hasattr(response, "render"):
                    response.render()
                if response.status_code < 500 and not getattr(response, "streaming", False):
                    _record(key, request, response)
                elif (record := _stored(key)) is not None:  # not recorded: a retry is asked
                    transaction.set_rollback(True)
                    return _replay(record, request)
        except Exception:
            if (record := _stored(key)) is None:
                raise
            return _replay(record, request)
        return response

    return wrapper


def decision_view(permission: str):
    """A POST that changes state: logged in, holding `permission` (403 otherwise), idempotent,
    and working in the user's layer of the article (annotation/layers.py)."""

    def decorate(view):
        return require_POST(login_required(permission_required(permission, raise_exception=True)(
            idempotent(layers.in_layer(view)))))

    return decorate


def _record(key: str, request: HttpRequest, response: HttpResponse) -> None:
    # Plain SQL (config/rows.py): every decision writes one.
    rows.insert(IdempotencyRecord, [IdempotencyRecord(
        key=key, user_id=request.user.pk, path=request.path, status=response.status_code,
        content_type=response.get("Content-Type", "text/html"),
        body=response.content.decode(response.charset or "utf-8"),
        headers={h: response[h] for h in KEPT_HEADERS if h in response})])


def _stored(key: str) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(key=key).first()


def _replay(record: IdempotencyRecord, request: HttpRequest) -> HttpResponse:
    if record.user_id != request.user.pk or record.path != request.path:
        return HttpResponse("This idempotency key was already used for another request.",
                            status=422, content_type="text/plain")
    response = HttpResponse(record.body, status=record.status, content_type=record.content_type)
    for header, value in record.headers.items():
        response[header] = value
    response["Idempotent-Replay"] = "true"
    return response
