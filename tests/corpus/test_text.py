import random
import unicodedata

import pytest

from corpus.text import body_bounds, normalise, resized, text_hash
from tests.gold import gold_documents as seeds


def test_hash_ignores_spacing_case_and_quote_style():
    assert text_hash("“Hello”  World\n") == text_hash('"hello" world')


def test_hash_tells_different_texts_apart():
    assert text_hash("36 attackers") != text_hash("37 attackers")


def test_normalise_folds_compatibility_characters():
    assert normalise("ﬁve\u00a0people") == "five people"


def test_normalise_is_nfkc_whatever_shortcut_it_takes():
    """The shortcut for no-break spaces, ellipses and ligatures gives what NFKC of the whole text
    gives, also beside combining marks, Hangul jamo and characters the shortcut leaves alone."""
    def by_the_book(text):
        text = unicodedata.normalize("NFKC", text)
        for curly, straight in (("‘", "'"), ("’", "'"), ("“", '"'), ("”", '"'), ("«", '"'), ("»", '"')):
            text = text.replace(curly, straight)
        return " ".join(text.split()).casefold()

    alphabet = ("ae ﬁﬂ\u00a0\u202f\u2009\u3000…\u0301\u0308\u0327\u00b4\u2126\u212b\u1100\u1161"
                "\u11a8ｶﾞ\u2460½\n\t“”’«")
    chosen = random.Random(5)
    for _ in range(3000):
        text = "".join(chosen.choice(alphabet) for _ in range(chosen.randint(1, 12)))
        assert normalise(text) == by_the_book(text), repr(text)


def test_share_buttons_comment_forms_and_teasers_are_outside_the_body():
    text = ("Headline\n\nBody sentence one.\n\n#Tag #Other\n\nCheck Also\n\nTeaser\n\n"
            "Leave a Reply\n\nYour email address will not be published.")
    start, end = body_bounds(text)
    assert text[start:end] == "Headline\n\nBody sentence one."


def test_breadcrumb_line_is_outside_the_body():
    text = "Home / World / Africa – Headline\n\nHeadline\n\nBody."
    start, end = body_bounds(text)
    assert text[start:end] == "Headline\n\nBody."


def test_text_without_boilerplate_is_all_body():
    text = "Headline\nBody that ends with a line saying Share This in the middle of a sentence."
    assert body_bounds(text) == (0, len(text))


@pytest.mark.parametrize("document", seeds(), ids=lambda d: d["id"][:3])
def test_no_gold_mention_lies_outside_the_body_of_a_seed(document):
    start, end = body_bounds(document["text"])
    assert all(start <= span["start"] and span["end"] <= end for span in document["spans"])


def test_boilerplate_of_the_seeds_is_recognised():
    bodies = {d["id"][:3]: d["text"][slice(*body_bounds(d["text"]))] for d in seeds()}
    assert not bodies["001"].endswith("Share This")
    assert "Laisser un commentaire" not in bodies["002"]
    assert not bodies["003"].startswith("Home /")
    assert "Check Also" not in bodies["003"] and "#ArraedLG #BuildingANation" not in bodies["003"]
    assert bodies["004"].endswith("Source: Daily Mail")


@pytest.mark.parametrize(("edge", "grow", "expected"), [
    ("start", True, "Minister Habib Essid"), ("start", False, "Essid"),
    ("end", True, "Habib Essid said"), ("end", False, "Habib"),
])
def test_a_span_edge_moves_by_one_token(edge, grow, expected):
    text = "Prime Minister Habib Essid said so"
    start, end = resized(text, 15, 26, edge=edge, grow=grow)
    assert text[start:end] == expected


def test_a_span_never_grows_across_a_line_break():
    text = "Headline\nTunisia said so."
    assert resized(text, 9, 16, edge="start", grow=True) == (9, 16)


def test_a_one_token_span_does_not_narrow():
    assert resized("Essid spoke.", 0, 5, edge="end", grow=False) == (0, 5)
