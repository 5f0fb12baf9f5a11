"""Error pages: a 403 is a page for a page request and a message fragment for an htmx request."""

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
