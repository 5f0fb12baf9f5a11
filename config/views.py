"""Error pages (a 403 is a page for a page request and a message fragment for an htmx request),
and the service worker."""

import hashlib
import json

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

DENIED = "You are not allowed to do that: your role does not include it. An admin can change your roles."


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.headers.get("HX-Request") == "true":
        # htmx swaps it into the messages area, wherever the request meant to put its answer.
        response = TemplateResponse(request, "403.html#denied-message", {"message": DENIED}, status=403)
        response["HX-Retarget"] = "#messages"
        response["HX-Reswap"] = "outerHTML"
        return response
    return TemplateResponse(request, "403.html", {"message": DENIED}, status=403)


# The app shell: what every page needs, kept by the service worker for working offline.
SHELL = ("sourcemark.css", "annotate.js", "offline.js", "favicon.svg", "django_htmx/htmx-2.min.js")


def service_worker(request: HttpRequest) -> HttpResponse:
    """/sw.js: the service worker, served from the root so that it may look after every page.
    Its cache name follows the shell's file names (hashed by the static storage), so a release
    with new files replaces the old shell."""
    from django.templatetags.static import PrefixNode, static
    from django.urls import reverse

    shell = [static(name) for name in SHELL] + [reverse("annotation:label_css")]
    version = hashlib.sha256("\n".join(shell).encode()).hexdigest()[:12]
    response = TemplateResponse(request, "sw.js", {
        "shell": json.dumps(shell), "version": version, "static_prefix": json.dumps(PrefixNode.handle_simple("STATIC_URL")),
        "login": json.dumps(reverse("login"))}, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response
