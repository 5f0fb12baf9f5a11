from collections.abc import Callable

from django.contrib import auth
from django.contrib.auth import middleware as auth_middleware
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject

from config.auth import reading_user_of


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    """Django's, with the user the session read alongside itself (config/sessions.py) given to
    the backend, which then need not read them again; the session's checks are Django's."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _user_of(request))


def _user_of(request: HttpRequest):
    if not hasattr(request, "_cached_user"):
        with reading_user_of(request.session):
            request._cached_user = auth.get_user(request)
    return request._cached_user


def vary_on_htmx(get_response: Callable[[HttpRequest], HttpResponse]):
    """A fragment and its page share a URL: caches must tell them apart (STYLE.md, radiofeed)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        patch_vary_headers(response, ("HX-Request",))
        return response

    return middleware


# Everything from the app itself: no CDN, font service or analytics, nothing inline, no eval
# (htmx runs with allowEval off; see base.html).
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))


def content_security_policy(get_response: Callable[[HttpRequest], HttpResponse]):
    """The policy on every response: pages, fragments, errors, and static files (it comes first
    in MIDDLEWARE, around WhiteNoise)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response

    return middleware
