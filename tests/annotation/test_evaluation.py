from annotation.evaluation import Span, new_scores, score_document


def test_exact_and_lenient_matching():
    gold = [Span(0, 11, "ACTOR"), Span(20, 27, "PLACE")]
    predicted = [Span(0, 11, "ACTOR"), Span(18, 27, "PLACE"), Span(30, 32, "FIGURE")]
    scores = new_scores()
    score_document(gold, predicted, scores)
    exact, lenient = scores["exact"].overall, scores["lenient"].overall
    assert (exact.precision, exact.recall) == (1 / 3, 1 / 2)
    assert (lenient.precision, lenient.recall) == (2 / 3, 1.0)
    assert scores["exact"].per_label["FIGURE"].precision == 0.0


def test_same_span_with_another_label_is_no_match():
    scores = new_scores()
    score_document([Span(0, 5, "PLACE")], [Span(0, 5, "GROUP")], scores)
    assert scores["lenient"].overall.f1 == 0.0
