"""Agreement between two analysts: span F1, token kappa and the reviewer's list of differences.

The expected numbers of the hand-made pair are worked out by hand in the comments, not by the code
under test. No database: annotation.agreement is plain Python.
"""

import random
import re
import subprocess
import sys

import pytest

from annotation.agreement import (ALL, Difference, DifferenceKind, differences, span_agreement,
                                  token_kappa, token_labels, tokenize)
from annotation.evaluation import Span

TEXT = ("Minister Farhat Horchani said 200 ISIS fighters crossed from Libya. "
        "Police in Ben Guerdane arrested 12 of them.")


def _span(words: str, label: str) -> Span:
    start = TEXT.index(words)
    return Span(start, start + len(words), label)


# Every kind of difference, plus two spans marked identically ("200", "Ben Guerdane").
A = [_span("Farhat Horchani", "ACTOR"),          # boundary with B's "Minister Farhat Horchani"
     _span("200", "FIGURE"),                     # identical
     _span("ISIS", "GROUP"),                     # label_and_boundary with B's "ISIS fighters"
     _span("Libya", "PLACE"),                    # label: B says GROUP
     _span("Police", "GROUP"),                   # only_a
     _span("Ben Guerdane", "PLACE")]             # identical
B = [_span("Minister Farhat Horchani", "ACTOR"),
     _span("200", "FIGURE"),
     _span("ISIS fighters", "ACTOR"),
     _span("Libya", "GROUP"),
     _span("Ben Guerdane", "PLACE"),
     _span("12", "FIGURE")]                      # only_b


def test_tokenizer_keeps_hyphenated_and_apostrophe_words_whole():
    text = "Tunisia’s worry-raising raid (Sirte's) ended."
    assert [text[s:e] for s, e in tokenize(text)] == [
        "Tunisia’s", "worry-raising", "raid", "(", "Sirte's", ")", "ended", "."]


def test_tokenize_stays_within_the_body_bounds():
    body_start = TEXT.index("Police")
    assert [TEXT[s:e] for s, e in tokenize(TEXT, start=body_start, end=body_start + 9)] == [
        "Police", "in"]


def test_span_agreement_per_label_on_the_hand_made_pair():
    agreement = span_agreement(A, B)
    # label   |A| |B| exact overlap   F1 = 2·exact/(|A|+|B|)   lenient = 2·overlap/(|A|+|B|)
    # ACTOR    1   2    0     1       0                        2/3 (Farhat Horchani ~ Minister …)
    # FIGURE   1   2    1     1       2/3                      2/3
    # GROUP    2   1    0     0       0                        0   (ISIS and Libya do not overlap)
    # PLACE    2   1    1     1       2/3                      2/3
    # all      6   6    2     3       4/12 = 1/3               6/12 = 1/2
    expected = {"ACTOR": (1, 2, 0, 1, 0.0, 2 / 3), "FIGURE": (1, 2, 1, 1, 2 / 3, 2 / 3),
                "GROUP": (2, 1, 0, 0, 0.0, 0.0), "PLACE": (2, 1, 1, 1, 2 / 3, 2 / 3),
                ALL: (6, 6, 2, 3, 1 / 3, 1 / 2)}
    assert {label: (row.spans_a, row.spans_b, row.exact_matches, row.overlap_matches,
                    pytest.approx(row.f1), pytest.approx(row.lenient_f1))
            for label, row in agreement.items()} == expected


def test_token_kappa_per_label_and_overall_on_the_hand_made_pair():
    # 20 tokens:
    #  #  token     A       B         #  token     A       B
    #  0  Minister  O       ACTOR    10  .         O       O
    #  1  Farhat    ACTOR   ACTOR    11  Police    GROUP   O
    #  2  Horchani  ACTOR   ACTOR    12  in        O       O
    #  3  said      O       O        13  Ben       PLACE   PLACE
    #  4  200       FIGURE  FIGURE   14  Guerdane  PLACE   PLACE
    #  5  ISIS      GROUP   ACTOR    15  arrested  O       O
    #  6  fighters  O       ACTOR    16  12        O       FIGURE
    #  7  crossed   O       O        17  of        O       O
    #  8  from      O       O        18  them      O       O
    #  9  Libya     PLACE   GROUP    19  .         O       O
    # Counts A: ACTOR 2, FIGURE 1, GROUP 2, PLACE 3, O 12
    #        B: ACTOR 5, FIGURE 2, GROUP 1, PLACE 2, O 10
    # all: agree on 14 tokens (all but 0 5 6 9 11 16): po = 14/20 = 0.7
    #      pe = (2·5 + 1·2 + 2·1 + 3·2 + 12·10)/400 = 140/400 = 0.35; kappa = 0.35/0.65 = 7/13
    # ACTOR  (A yes 2, B yes 5, both yes 2, both no 15): po = 17/20 = 0.85
    #        pe = (2·5 + 18·15)/400 = 0.7;  kappa = 0.15/0.3 = 1/2
    # FIGURE (A 1, B 2, both yes 1, both no 18): po = 0.95
    #        pe = (1·2 + 19·18)/400 = 0.86; kappa = 0.09/0.14 = 9/14
    # GROUP  (A 2, B 1, both yes 0, both no 17): po = 0.85
    #        pe = (2·1 + 18·19)/400 = 0.86; kappa = -0.01/0.14 = -1/14 (worse than chance)
    # PLACE  (A 3, B 2, both yes 2, both no 17): po = 0.95
    #        pe = (3·2 + 17·18)/400 = 0.78; kappa = 0.17/0.22 = 17/22
    assert len(tokenize(TEXT)) == 20
    assert token_kappa(TEXT, A, B) == {
        "ACTOR": pytest.approx(1 / 2), "FIGURE": pytest.approx(9 / 14),
        "GROUP": pytest.approx(-1 / 14), "PLACE": pytest.approx(17 / 22),
        ALL: pytest.approx(7 / 13)}


def test_token_kappa_counts_only_the_tokens_of_the_body():
    # Body = "Police in Ben Guerdane arrested 12 of them." (9 tokens)
    #   A: Police GROUP, Ben Guerdane PLACE PLACE, 6 O;  B: Ben Guerdane PLACE PLACE, 12 FIGURE, 6 O
    # all:   agree on 7 (not Police, 12): po = 7/9; pe = (2·2 + 6·6)/81 = 40/81
    #        kappa = (63 − 40)/(81 − 40) = 23/41
    # GROUP: po = 8/9, pe = (1·0 + 8·9)/81 = 72/81, kappa = 0
    # ACTOR: no ACTOR token in the body for either: pe = 1, undefined
    kappa = token_kappa(TEXT, A, B, start=TEXT.index("Police"))
    assert kappa[ALL] == pytest.approx(23 / 41)
    assert kappa["GROUP"] == pytest.approx(0.0)
    assert kappa["ACTOR"] is None


def test_differences_show_every_kind_in_text_order():
    assert differences(A, B) == [
        Difference(DifferenceKind.BOUNDARY, A[0], B[0]),
        Difference(DifferenceKind.LABEL_AND_BOUNDARY, A[2], B[2]),
        Difference(DifferenceKind.LABEL, A[3], B[3]),
        Difference(DifferenceKind.ONLY_A, A[4], None),
        Difference(DifferenceKind.ONLY_B, None, B[5]),
    ]


def test_difference_kinds_are_plain_strings_for_templates_and_json():
    assert [d.kind for d in differences(A, B)] == [
        "boundary", "label_and_boundary", "label", "only_a", "only_b"]


def test_overlapping_spans_pair_one_to_one_by_largest_overlap():
    # A's 0-10 shares 4 characters with B's 0-4 and 5 with B's 5-10: paired with 5-10.
    a = [Span(0, 10, "ACTOR")]
    b = [Span(0, 4, "ACTOR"), Span(5, 10, "ACTOR")]
    assert differences(a, b) == [Difference(DifferenceKind.ONLY_B, None, Span(0, 4, "ACTOR")),
                                 Difference(DifferenceKind.BOUNDARY, a[0], Span(5, 10, "ACTOR"))]
    assert span_agreement(a, b)["ACTOR"].overlap_matches == 1


def test_both_empty_has_no_differences_and_undefined_scores():
    agreement = span_agreement([], [])
    assert list(agreement) == [ALL]
    assert (agreement[ALL].f1, agreement[ALL].lenient_f1) == (None, None)
    assert token_kappa(TEXT, [], []) == {ALL: None}
    assert differences([], []) == []


def test_one_analyst_empty_scores_zero_and_lists_only_the_other():
    # B all O: per label pe = share of A's O tokens = po, so kappa = 0 (chance), not undefined.
    assert span_agreement(A, [])[ALL].f1 == 0.0
    assert token_kappa(TEXT, A, []) == {label: 0.0 for label in
                                        ("ACTOR", "FIGURE", "GROUP", "PLACE", ALL)}
    assert [d.kind for d in differences(A, [])] == ["only_a"] * len(A)


def test_identical_annotations_agree_perfectly_and_unused_labels_are_undefined():
    agreement = span_agreement(A, list(A), labels=["CLAIM"])
    assert agreement[ALL].f1 == 1.0 and agreement[ALL].lenient_f1 == 1.0
    assert agreement["CLAIM"].f1 is None  # nobody marked a claim: nothing to agree on
    kappa = token_kappa(TEXT, A, list(A), labels=["CLAIM"])
    assert kappa == {"ACTOR": 1.0, "FIGURE": 1.0, "GROUP": 1.0, "PLACE": 1.0, ALL: 1.0,
                     "CLAIM": None}
    assert differences(A, list(A)) == []


def test_first_span_in_text_order_wins_a_token_when_one_analysts_spans_overlap():
    text = "Defense minister Farhat Horchani spoke."
    # "Defense minister Farhat" ACTOR and "minister Farhat Horchani" GROUP overlap on two tokens.
    overlapping = [Span(8, 32, "GROUP"), Span(0, 23, "ACTOR")]
    assert token_labels(tokenize(text), overlapping) == ["ACTOR", "ACTOR", "ACTOR", "GROUP", "O",
                                                         "O"]
    kappa = token_kappa(text, overlapping, [Span(0, 23, "ACTOR")])
    # B: ACTOR ACTOR ACTOR O O O. all: po = 5/6, pe = (3·3 + 2·3)/36 = 15/36, kappa = 15/21 = 5/7
    assert kappa[ALL] == pytest.approx(5 / 7)
    assert [d.kind for d in differences(overlapping, [Span(0, 23, "ACTOR")])] == ["only_a"]


def test_a_partly_covered_token_counts_as_covered():
    text = "Horchani spoke."
    assert token_labels(tokenize(text), [Span(3, 5, "ACTOR")]) == ["ACTOR", "O", "O"]


@pytest.mark.parametrize(("spans", "message"), [
    ([(5, 5, "ACTOR")], "need 0 <= start < end"),
    ([(-1, 4, "ACTOR")], "need 0 <= start < end"),
    ([(0, 4)], "expected (start, end, label)"),
    ([("0", 4, "ACTOR")], "start and end must be integers"),
    ([(0, 4, "")], "non-empty string"),
    ([(0, 4, "O")], "reserved"),
    ([(0, 4, "all")], "reserved"),
])
def test_bad_spans_are_refused_with_a_message_naming_the_span(spans, message):
    with pytest.raises(ValueError, match=f"A span #0 .*{re.escape(message)}"):
        span_agreement(spans, [])


def test_spans_or_bounds_outside_the_text_are_refused():
    with pytest.raises(ValueError, match="ends after the text"):
        token_kappa("short", [(0, 9, "ACTOR")], [])
    with pytest.raises(ValueError, match="body bounds"):
        token_kappa("short", [], [], start=3, end=2)
    with pytest.raises(ValueError, match="reserved"):
        span_agreement([], [], labels=["O"])


def test_the_module_imports_neither_django_nor_spacy():
    # It must stay usable from benchmarks and scripts; annotation.evaluation is shared with it.
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, annotation.agreement; "
         "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'spacy'}))"],
        capture_output=True, text=True, check=True).stdout
    assert imported.strip() == "[]"


def _random_annotation(rng: random.Random) -> list[Span]:
    """Up to six spans of four labels anywhere in TEXT, overlaps and duplicates allowed."""
    spans = []
    for _ in range(rng.randint(0, 6)):
        start = rng.randrange(len(TEXT) - 1)
        spans.append(Span(start, rng.randint(start + 1, min(len(TEXT), start + 25)),
                          rng.choice(["ACTOR", "GROUP", "PLACE", "FIGURE"])))
    return spans


def _mirrored(found: list[Difference]) -> list[Difference]:
    swap = {DifferenceKind.ONLY_A: DifferenceKind.ONLY_B,
            DifferenceKind.ONLY_B: DifferenceKind.ONLY_A}
    return [Difference(swap.get(d.kind, d.kind), d.b, d.a) for d in found]


@pytest.mark.parametrize("seed", range(200))
def test_an_annotation_agrees_perfectly_with_itself(seed):
    a = _random_annotation(random.Random(seed)) or A
    assert differences(a, a) == []
    agreement = span_agreement(a, a)
    assert all(row.f1 == 1.0 and row.lenient_f1 == 1.0 for row in agreement.values())
    # 1.0 wherever kappa is defined; undefined only if a label covers every token or none.
    assert all(value in (1.0, None) for value in token_kappa(TEXT, a, a).values())


@pytest.mark.parametrize("seed", range(200))
def test_swapping_the_analysts_swaps_only_a_and_only_b_and_keeps_the_scores(seed):
    rng = random.Random(seed)
    a, b = (_random_annotation(rng), _random_annotation(rng)) if seed else (A, B)
    assert differences(b, a) == _mirrored(differences(a, b))
    assert ({label: (row.f1, row.lenient_f1) for label, row in span_agreement(b, a).items()}
            == {label: (row.f1, row.lenient_f1) for label, row in span_agreement(a, b).items()})
    swapped, kappa = token_kappa(TEXT, b, a), token_kappa(TEXT, a, b)
    assert swapped.keys() == kappa.keys()
    assert all(swapped[label] == pytest.approx(kappa[label]) if kappa[label] is not None
               else swapped[label] is None for label in kappa)
