"""How far two analysts agree on one article, and where they differ: for the reviewer who
adjudicates.

Three views of the same two annotations A and B (spans of `(start, end, label)`, character
offsets into the article text, end exclusive):

- `span_agreement`: per label, how many spans each analyst made, how many are identical, and
  the pairwise F1 that follows (exact, and lenient with one-to-one overlap matching).
- `token_kappa`: Cohen's kappa on tokens, which credits partial agreement on boundaries and
  corrects for the agreement two analysts would reach by chance.
- `differences`: the list a reviewer walks through, in text order, one entry per disagreement.

Claims are compared the same way with the label "CLAIM", in a call of their own: a claim covers
the mentions inside it, and on the token level the first span in text order takes a token.

Plain Python, no Django and no spaCy (like `annotation.evaluation`, whose `Span` it shares), so
views, commands and benchmarks can all call it and its tests need no database.
"""

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from annotation.evaluation import Span

ALL = "all"
"""Key of the overall entry in the dictionaries `span_agreement` and `token_kappa` return."""

OUTSIDE = "O"
"""The label of a token no span covers."""

TOKEN_PATTERN = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]")
"""A token is a run of word characters, hyphen- or apostrophe-joined runs staying one token
("worry-raising", "Tunisia’s"), or a single other non-space character (punctuation). Simple and
stable on purpose: kappa must not move when someone upgrades a spaCy model."""

SpanLike = Span | tuple[int, int, str]


@dataclass(frozen=True)
class LabelAgreement:
    """Counts for one label (or for all labels, `label == "all"`), from which both F1s follow.

    The F1s are None when neither analyst made a span of this label: there was nothing to agree
    or disagree on, and a 1.0 would inflate averages over labels nobody used.
    """

    label: str
    spans_a: int
    spans_b: int
    exact_matches: int  # same start, end and label, one to one
    overlap_matches: int  # same label and overlapping characters, one to one, best overlap first

    @property
    def f1(self) -> float | None:
        """Pairwise F1 = 2·matches / (|A| + |B|): symmetric, no analyst taken as gold."""
        return _pairwise_f1(self.exact_matches, self.spans_a, self.spans_b)

    @property
    def lenient_f1(self) -> float | None:
        """As `f1`, counting spans of the same label that overlap as agreeing (boundaries aside)."""
        return _pairwise_f1(self.overlap_matches, self.spans_a, self.spans_b)


class DifferenceKind(StrEnum):
    ONLY_A = "only_a"  # A marked a span B has nothing overlapping (or left over) for
    ONLY_B = "only_b"
    LABEL = "label"  # same offsets, different label
    BOUNDARY = "boundary"  # same label, overlapping, different offsets
    LABEL_AND_BOUNDARY = "label_and_boundary"  # overlapping, different label and offsets


@dataclass(frozen=True)
class Difference:
    """One disagreement: a span of A and/or a span of B the reviewer must decide between."""

    kind: DifferenceKind
    a: Span | None
    b: Span | None

    @property
    def start(self) -> int:
        return min(span.start for span in (self.a, self.b) if span is not None)

    @property
    def end(self) -> int:
        return max(span.end for span in (self.a, self.b) if span is not None)


def span_agreement(a: Iterable[SpanLike], b: Iterable[SpanLike], *,
                   labels: Iterable[str] = ()) -> dict[str, LabelAgreement]:
    """Per-label agreement of A and B, plus the overall entry under "all".

    Labels are those either analyst used, plus `labels` (so a report can show fixed rows; a label
    nobody used gets None F1s). "all" sums the counts over labels (micro-average): a match always
    needs the same label.
    """
    spans_a, spans_b = _spans(a, "A"), _spans(b, "B")
    result: dict[str, LabelAgreement] = {}
    for label in _labels(spans_a, spans_b, labels):
        of_a = [span for span in spans_a if span.label == label]
        of_b = [span for span in spans_b if span.label == label]
        result[label] = LabelAgreement(
            label=label, spans_a=len(of_a), spans_b=len(of_b),
            exact_matches=_exact_matches(of_a, of_b),
            overlap_matches=len(_pair_by_overlap(of_a, of_b)))
    rows = result.values()
    result[ALL] = LabelAgreement(
        label=ALL, spans_a=len(spans_a), spans_b=len(spans_b),
        exact_matches=sum(row.exact_matches for row in rows),
        overlap_matches=sum(row.overlap_matches for row in rows))
    return result


def tokenize(text: str, *, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """The `(start, end)` offsets of the tokens of `text[start:end]` (see `TOKEN_PATTERN`)."""
    start, end = _bounds(text, start, end)
    return [match.span() for match in TOKEN_PATTERN.finditer(text, start, end)]


def token_labels(tokens: Sequence[tuple[int, int]], spans: Iterable[SpanLike]) -> list[str]:
    """The label of each token: that of the first span in text order (start, end, label) covering
    any of its characters, else "O". One analyst's spans may overlap; the first one wins.
    `tokens` are in order and do not overlap, as `tokenize` returns them."""
    labels = [OUTSIDE] * len(tokens)
    token_starts = [token_start for token_start, _ in tokens]
    token_ends = [token_end for _, token_end in tokens]
    # Last span first, so that an earlier span overwrites it on the tokens they share.
    for span in sorted(_spans(spans, "spans"), key=_text_order, reverse=True):
        first = bisect_right(token_ends, span.start)  # first token ending after the span starts
        stop = bisect_left(token_starts, span.end)  # first token starting at or after its end
        labels[first:stop] = [span.label] * (stop - first)
    return labels


def token_kappa(text: str, a: Iterable[SpanLike], b: Iterable[SpanLike], *,
                start: int = 0, end: int | None = None,
                labels: Iterable[str] = ()) -> dict[str, float | None]:
    """Cohen's kappa of A and B on the tokens of `text[start:end]` (the article body, say).

    Per label: binary kappa (the token has this label, or not). "all": kappa over the labels and
    "O" together. Kappa is (po − pe) / (1 − pe), po the share of tokens labelled alike, pe the
    share expected by chance from each analyst's own label frequencies. 1 is perfect, 0 is chance,
    below 0 worse than chance. None when pe = 1 (both analysts gave every token the same single
    label, e.g. no spans at all, or there are no tokens): kappa is undefined there, not perfect.
    """
    spans_a, spans_b = _spans(a, "A"), _spans(b, "B")
    for span in (*spans_a, *spans_b):
        if span.end > len(text):
            raise ValueError(f"span {span.start}-{span.end} ({span.label}) ends after the text "
                             f"({len(text)} characters)")
    tokens = tokenize(text, start=start, end=end)
    labels_a, labels_b = token_labels(tokens, spans_a), token_labels(tokens, spans_b)
    result = {label: _cohen_kappa([x == label for x in labels_a], [y == label for y in labels_b])
              for label in _labels(spans_a, spans_b, labels)}
    result[ALL] = _cohen_kappa(labels_a, labels_b)
    return result


def differences(a: Iterable[SpanLike], b: Iterable[SpanLike]) -> list[Difference]:
    """Where A and B differ, in text order; spans identical in both are left out.

    Overlapping spans are paired one to one, the pair sharing most characters first (ties: same
    label first, then the tighter pair), so each span appears in at most one difference and a
    long span does not swallow every small one it touches. Spans left unpaired are only_a/only_b.
    """
    spans_a, spans_b = _spans(a, "A"), _spans(b, "B")
    rest_a, rest_b = _without_identical(spans_a, spans_b)
    found: list[Difference] = []
    paired_a, paired_b = set(), set()
    for i, j in _pair_by_overlap(rest_a, rest_b, same_label=False):
        paired_a.add(i)
        paired_b.add(j)
        found.append(Difference(_kind(rest_a[i], rest_b[j]), rest_a[i], rest_b[j]))
    found += [Difference(DifferenceKind.ONLY_A, span, None)
              for i, span in enumerate(rest_a) if i not in paired_a]
    found += [Difference(DifferenceKind.ONLY_B, None, span)
              for j, span in enumerate(rest_b) if j not in paired_b]
    # The key is symmetric in A and B, so swapping the analysts keeps the order.
    return sorted(found, key=lambda d: (d.start, d.end, sorted(_text_order(s) for s in (d.a, d.b)
                                                               if s is not None)))


# =============================================================================================
# Internals
# =============================================================================================

def _spans(spans: Iterable[SpanLike], who: str) -> list[Span]:
    """Checks and converts the caller's spans, with a message naming the bad one."""
    result = []
    for index, item in enumerate(spans):
        if isinstance(item, Span):
            item = (item.start, item.end, item.label)
        try:
            start, end, label = item
        except (TypeError, ValueError):
            message = f"{who} span #{index} {item!r}: expected (start, end, label)"
            raise ValueError(message) from None
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (start, end)):
            raise ValueError(f"{who} span #{index} {item!r}: start and end must be integers")
        if not 0 <= start < end:
            raise ValueError(f"{who} span #{index} {item!r}: need 0 <= start < end")
        if not isinstance(label, str) or not label:
            raise ValueError(f"{who} span #{index} {item!r}: the label must be a non-empty string")
        if label in (ALL, OUTSIDE):
            raise ValueError(f"{who} span #{index} {item!r}: {label!r} is reserved "
                             f"({ALL!r} for the overall row, {OUTSIDE!r} for uncovered tokens)")
        result.append(Span(start, end, label))
    return result


def _labels(spans_a: list[Span], spans_b: list[Span], extra: Iterable[str]) -> list[str]:
    extra = set(extra)
    if reserved := extra & {ALL, OUTSIDE}:
        raise ValueError(f"labels {sorted(reserved)} are reserved ({ALL!r} for the overall row, "
                         f"{OUTSIDE!r} for uncovered tokens)")
    return sorted({span.label for span in (*spans_a, *spans_b)} | extra)


def _text_order(span: Span) -> tuple[int, int, str]:
    return (span.start, span.end, span.label)


def _bounds(text: str, start: int, end: int | None) -> tuple[int, int]:
    end = len(text) if end is None else end
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"body bounds {start}-{end} are not inside the text "
                         f"(0-{len(text)}, start <= end)")
    return start, end


def _pairwise_f1(matches: int, in_a: int, in_b: int) -> float | None:
    return 2 * matches / (in_a + in_b) if in_a + in_b else None


def _exact_matches(spans_a: list[Span], spans_b: list[Span]) -> int:
    # A multiset intersection: a span one analyst entered twice matches at most twice.
    return sum((Counter(spans_a) & Counter(spans_b)).values())


def _without_identical(spans_a: list[Span], spans_b: list[Span]) -> tuple[list[Span], list[Span]]:
    common = Counter(spans_a) & Counter(spans_b)
    rest_a, rest_b = [], []
    for spans, rest in ((spans_a, rest_a), (spans_b, rest_b)):
        left = common.copy()
        for span in spans:
            if left[span] > 0:
                left[span] -= 1
            else:
                rest.append(span)
    return rest_a, rest_b


def _pair_by_overlap(spans_a: list[Span], spans_b: list[Span], *,
                     same_label: bool = True) -> list[tuple[int, int]]:
    """Greedy one-to-one pairing of overlapping spans, most shared characters first (as
    `annotation.claims.score_claims` pairs claims). Returns index pairs (into A, into B).

    Ties go to the same label, then the smaller union; the last tie-break is the spans' own values
    in a symmetric order, so pairing B with A gives the mirrored pairs.
    """
    candidates: list[tuple[Hashable, int, int]] = []
    for i, x in enumerate(spans_a):
        for j, y in enumerate(spans_b):
            overlap = min(x.end, y.end) - max(x.start, y.start)
            if overlap <= 0 or (same_label and x.label != y.label):
                continue
            union = max(x.end, y.end) - min(x.start, y.start)
            key = (-overlap, x.label != y.label, union, sorted((_text_order(x), _text_order(y))))
            candidates.append((key, i, j))
    candidates.sort(key=lambda candidate: candidate[0])
    used_a, used_b, pairs = set(), set(), []
    for _, i, j in candidates:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return pairs


def _kind(x: Span, y: Span) -> DifferenceKind:
    same_offsets = (x.start, x.end) == (y.start, y.end)
    if same_offsets:
        return DifferenceKind.LABEL  # identical spans never get here
    return DifferenceKind.BOUNDARY if x.label == y.label else DifferenceKind.LABEL_AND_BOUNDARY


def _cohen_kappa(labels_a: Sequence[Hashable], labels_b: Sequence[Hashable]) -> float | None:
    """(po − pe) / (1 − pe) in integers (both scaled by n²), so that pe == 1 is tested exactly
    rather than up to rounding; None then, and when there is nothing to compare."""
    n = len(labels_a)
    agreed = sum(x == y for x, y in zip(labels_a, labels_b, strict=True))
    counts_a, counts_b = Counter(labels_a), Counter(labels_b)
    chance = sum(counts_a[label] * counts_b[label] for label in counts_a)  # pe · n²
    if chance == n * n:  # also n == 0
        return None
    return (agreed * n - chance) / (n * n - chance)
