"""Search result snippets, cut in Python from the words that matched.

PostgreSQL's ts_headline parses each result's whole text again: for a page of 50 news articles
that took longer than finding them among 100,000. Here the query's lexemes come from
PostgreSQL (its english configuration: stop words dropped, words stemmed), and each text's
words are stemmed with the same Snowball english stemmer to find them.
"""

import re
from functools import lru_cache
from html import escape

import snowballstemmer
from django.utils.safestring import SafeString, mark_safe

FRAGMENTS = 2
BEFORE, AFTER = 70, 150  # characters of a fragment before and after its first match (~35 words)
DELIMITER = " … "
_WORD_START = re.compile(r"(?<![^\W_])[^\W_]")
_WORD_REST = re.compile(r"[^\W_]*")
_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=20_000)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word.lower())


def snippet(text: str, lexemes: list[str] | None) -> SafeString:
    """Up to two fragments of about 35 words around the first matches, each match in <mark>;
    the start of the text when no word of it matched (the title did)."""
    find = _finder(frozenset(lexemes or ()))
    windows: list[tuple[int, int]] = []
    for start, end in find(text, 0, len(text)):
        if windows and start < windows[-1][1]:
            continue
        windows.append((_word_start(text, max(windows[-1][1] if windows else 0, start - BEFORE)),
                        _word_end(text, end + AFTER)))
        if len(windows) == FRAGMENTS:
            break
    fragments = []
    for first, stop in windows or [(0, _word_end(text, BEFORE + AFTER))]:
        parts, position = [], first
        for start, end in find(text, first, stop):
            parts.append(f"{escape(text[position:start])}<mark>{escape(text[start:end])}</mark>")
            position = end
        parts.append(escape(text[position:stop]))
        fragments.append("".join(parts).strip())
    before = "… " if windows and windows[0][0] > 0 else ""  # the text goes on before, after
    after = " …" if (windows[-1][1] if windows else BEFORE + AFTER) < len(text.rstrip()) else ""
    return mark_safe(before + DELIMITER.join(fragments) + after)


@lru_cache(maxsize=256)
def _finder(wanted: frozenset[str]):
    """(text, start, stop) → the (start, end) of each word between those whose stem is wanted.
    A regular expression finds the words that begin like a wanted stem (a stem is a word's
    start but for its last letter: "copi" for "copy"); only those are stemmed."""
    if not wanted:
        return lambda text, start, stop: iter(())
    starts = sorted({stem[:max(2, len(stem) - 1)] for stem in wanted}, key=len, reverse=True)
    candidate = re.compile(r"(?<![^\W_])(?:%s)[^\W_]*" % "|".join(map(re.escape, starts)),
                           re.IGNORECASE)

    def find(text: str, start: int, stop: int):
        for match in candidate.finditer(text, start, stop):
            if match.end() <= stop and _stem(match.group()) in wanted:
                yield match.span()

    return find


def _word_start(text: str, position: int) -> int:
    """The start of the first word at or after `position` that begins there or later."""
    match = _WORD_START.search(text, position)
    return match.start() if match else len(text)


def _word_end(text: str, position: int) -> int:
    """`position`, moved to the end of the word it falls in."""
    position = min(position, len(text))
    return _WORD_REST.match(text, position).end()
