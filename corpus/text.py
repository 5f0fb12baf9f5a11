"""Plain functions on article text: normalisation for duplicate detection, boilerplate bounds.

Article text is stored exactly as given (mention offsets point into it); these functions only
read it. No Django here.
"""

import hashlib
import re
import unicodedata


def normalise(text: str) -> str:
    """The form two copies of one article share: NFKC, curly quotes straightened, spaces folded."""
    if not unicodedata.is_normalized("NFKC", text):  # the check is ten times cheaper
        # News text is rarely out of NFKC for more than a no-break space or an ellipsis: those
        # are replaced by their decomposition first, which NFKC would have made of them anyway
        # (so the result is the same), and the whole-text normalisation, fifteen times slower
        # than the check, only runs if something else remains.
        for compatible, decomposed in _COMMON_COMPATIBLE:
            if compatible in text:
                text = text.replace(compatible, decomposed)
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
    # str.replace per quote is several times faster than str.translate on long texts, and
    # split/join folds whitespace (the same characters as \s) faster than a regex.
    for curly, straight in _QUOTES:
        text = text.replace(curly, straight)
    return " ".join(text.split()).casefold()


_QUOTES = (("‘", "'"), ("’", "'"), ("“", '"'), ("”", '"'), ("«", '"'), ("»", '"'))
# No-break, narrow, thin, hair and other fixed-width spaces, the ellipsis, common ligatures.
_COMMON_COMPATIBLE = tuple(
    (character, unicodedata.normalize("NFKD", character))
    for character in "\u00a0\u202f\u2026\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
                     "\u200a\u205f\u3000\ufb01\ufb02")


def text_hash(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


# Lines that belong to the web page around an article, not to the article. Each pattern matches a
# whole line (after stripping). Everything from a closing marker to the end of the text is page
# furniture (comment forms, teasers); opening markers are single lines before the body.
_CLOSING = re.compile(
    r"""^(?:
        share\s+this(?:\s*:)?|share\s+on\s+\w+|share|tweet|print|email|
        leave\s+a\s+(?:reply|comment)|post\s+a\s+comment|\d*\s*comments?|
        laisser\s+un\s+commentaire|votre\s+adresse\s+(?:de\s+messagerie|e-?mail).*|
        your\s+email\s+address\s+will\s+not\s+be\s+published.*|
        check\s+also|read\s+(?:also|more)|related(?:\s+(?:posts|articles|news))?|
        you\s+may\s+also\s+like|more\s+from\s+.{1,40}|also\s+read|see\s+also
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# A trailing line of hashtags only ("#ArraedLG #BuildingANation #HOR").
_HASHTAG_LINE = re.compile(r"^(?:#\w+\s*)+$")
# A breadcrumb: "Home / Section / Subsection ..." at the top of the page.
_BREADCRUMB = re.compile(r"^home\s*(?:/|›|»|>)\s*", re.IGNORECASE)


def body_bounds(text: str) -> tuple[int, int]:
    """Character offsets (start, end) of the article body inside the page text."""
    lines = _lines_with_offsets(text)
    start = 0
    for line_start, line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if _BREADCRUMB.match(stripped):
            # The breadcrumb runs into the headline on the same line in scraped pages
            # ("Home / Municipalities / Government #Libya – Headline"): drop the whole line.
            start = line_start + len(line)
        break

    end = len(text)
    for line_start, line in lines:
        if line_start < start:
            continue
        if _CLOSING.match(line.strip()):
            end = line_start
            break
    # Trailing hashtag-only lines and blank lines before the end are furniture too.
    for line_start, line in reversed(lines):
        if line_start >= end:
            continue
        stripped = line.strip()
        if stripped and not _HASHTAG_LINE.match(stripped):
            break
        end = line_start
    while end > start and text[end - 1].isspace():
        end -= 1
    while start < end and text[start].isspace():
        start += 1
    return start, end


def _lines_with_offsets(text: str) -> list[tuple[int, str]]:
    lines, offset = [], 0
    for line in text.splitlines(keepends=True):
        lines.append((offset, line))
        offset += len(line)
    return lines


# Tokens for moving span edges in the browser (issue 3): runs of word characters, or one other
# non-space character. The web process never loads spaCy for this.
_TOKEN = re.compile(r"\w+|[^\w\s]")
_WINDOW = 200


def token_before(text: str, position: int) -> tuple[int, int] | None:
    """The last token that ends at or before `position` (within a window: tokens are short)."""
    last = None
    for last in _TOKEN.finditer(text, max(0, position - _WINDOW), position):
        pass
    return last.span() if last else None


def token_after(text: str, position: int) -> tuple[int, int] | None:
    """The first token that starts at or after `position`."""
    match = _TOKEN.search(text, position)
    return match.span() if match else None


def resized(text: str, start: int, end: int, *, edge: str, grow: bool) -> tuple[int, int]:
    """The span with its `edge` ("start" or "end") moved one token outwards (grow) or inwards.
    Unchanged when it cannot move: past the text, below one token, or across a line break."""
    new_start, new_end = start, end
    if edge == "start" and grow:
        token = token_before(text, start)
        new_start = token[0] if token else start
    elif edge == "start":
        first = token_after(text, start)
        second = token_after(text, first[1]) if first and first[1] < end else None
        new_start = second[0] if second and second[1] <= end else start
    elif grow:
        token = token_after(text, end)
        new_end = token[1] if token else end
    else:
        last = token_before(text, end)
        previous = token_before(text, last[0]) if last else None
        new_end = previous[1] if previous and previous[0] >= start else end
    if "\n" in text[new_start:new_end]:
        return start, end
    return new_start, new_end


def snap_to_tokens(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow a selection to whole words and drop the white space at its ends."""
    while start > 0 and text[start - 1].isalnum() and start < len(text) and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum() and end > 0 and text[end - 1].isalnum():
        end += 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def truncated(text: str, length: int) -> str:
    """Django's `truncatechars`, quicker for the many texts that need no cut (a text no longer
    than `length` is never cut)."""
    if len(text) <= length:
        return text
    from django.utils.text import Truncator

    return Truncator(text).chars(length)
