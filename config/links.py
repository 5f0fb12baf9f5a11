"""Addresses of rows, by the id alone, for lists that link hundreds of them and fragments that
every decision sends.

`reverse` walks the URL patterns on every call: about a tenth of a millisecond, more than the
rest of a list row. A pattern whose only argument is the row's id is reversed once for each
script prefix, and the id put in its place.
"""

from django.urls import get_script_prefix, reverse

_SENTINEL = "987654321"
_parts: dict[tuple[str, str], tuple[str, str]] = {}


def url_for(name: str, pk: int) -> str:
    """reverse(name, args=[pk]) for a pattern whose only argument is an id."""
    key = (name, get_script_prefix())
    parts = _parts.get(key)
    if parts is None:
        url = reverse(name, args=[_SENTINEL])
        head, found, tail = url.partition(_SENTINEL)
        if not found or _SENTINEL in tail:
            return reverse(name, args=[pk])
        parts = _parts[key] = (head, tail)
    return f"{parts[0]}{int(pk)}{parts[1]}"
