"""Ranking other articles' claims as candidate sources, and summing up a claim's links."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation import corroboration, linking
from annotation.models import Claim, ClaimLink, Label, Mention
from corpus import text as article_text
from corpus.models import Article
from tests.factories import ArticleFactory, SourceFactory
from tests.gold import gold_documents


def confirmed_gold(seed_articles, analyst) -> dict[int, list[Claim]]:
    """The gold mentions and claims of the five seeds, as an analyst would have confirmed them:
    {article id: its claims}."""
    labels = {label.name: label for label in Label.objects.all()}
    articles = {article_text.text_hash(article.text): article for article in seed_articles}
    claims = {}
    for document in gold_documents():
        article = articles[article_text.text_hash(document["text"])]
        mentions = Mention.objects.bulk_create(
            Mention(article=article, start=span["start"], end=span["end"],
                    text=article.text[span["start"]:span["end"]], label=labels[span["label"]],
                    origin=Mention.Origin.ANALYST, status=Mention.Status.CONFIRMED, decided_by=analyst)
            for span in document["spans"])
        for mention in mentions:
            linking.link(mention, by=analyst, article_mentions=mentions)
        at = {(mention.start, mention.end): mention for mention in mentions}
        claims[article.pk] = Claim.objects.bulk_create(
            Claim(article=article, start=gold["start"], end=gold["end"],
                  text=article.text[gold["start"]:gold["end"]], speaker=gold["speaker"] or "",
                  speaker_start=gold["speaker_start"], speaker_end=gold["speaker_end"],
                  speaker_mention=at.get((gold["speaker_start"], gold["speaker_end"])),
                  cue=gold["cue"] or "", origin=Claim.Origin.ANALYST,
                  status=Claim.Status.CONFIRMED, decided_by=analyst)
            for gold in document["claims"])
    return claims


@pytest.fixture
def gold_claims(seed_articles, analyst) -> dict[int, list[Claim]]:
    return confirmed_gold(seed_articles, analyst)


def find(claims: dict[int, list[Claim]], *words: str) -> Claim:
    """The one gold claim whose text holds all the words (case-insensitive)."""
    found = [claim for article_claims in claims.values() for claim in article_claims
             if all(word.lower() in claim.text.lower() for word in words)]
    assert len(found) == 1, found
    return found[0]


def claim_in(article: Article, text: str, **fields) -> Claim:
    start = article.text.index(text)
    return Claim.objects.create(article=article, start=start, end=start + len(text), text=text,
                                status=Claim.Status.CONFIRMED, **fields)


def link(claim: Claim, other: Claim, relation: str = ClaimLink.Relation.CORROBORATES) -> ClaimLink:
    return ClaimLink.objects.create(claim=claim, other=other, relation=relation,
                                    evidence_start=other.start, evidence_end=other.end)


# Candidates

def test_the_two_claims_of_isis_regrouping_south_of_sirte_rank_each_other_first(gold_claims):
    reorganised = find(gold_claims, "reorganized", "Sirte")
    regrouping = find(gold_claims, "regroup", "south of Sirte")
    assert reorganised.article_id != regrouping.article_id
    assert regrouping in [c.claim for c in corroboration.candidates(reorganised)][:2]
    assert reorganised in [c.claim for c in corroboration.candidates(regrouping)][:2]


def test_a_candidate_says_why_it_ranks(gold_claims):
    reorganised = find(gold_claims, "reorganized", "Sirte")
    regrouping = find(gold_claims, "regroup", "south of Sirte")
    candidate = next(c for c in corroboration.candidates(reorganised) if c.claim == regrouping)
    assert {"ISIS", "Sirte"} <= set(candidate.shared_entities)
    assert candidate.text_rank > 0 and candidate.trigram > 0
    assert candidate.score >= candidate.text_similarity + len(candidate.shared_entities)


def test_candidates_share_figures_by_their_numbers(db):
    first = ArticleFactory(text="Officials said 1,000 fighters crossed the border.")
    second = ArticleFactory(text="About 1000 fighters crossed, a witness said.")
    figure = Label.objects.get(name="FIGURE")
    for article, number in ((first, "1,000"), (second, "1000")):
        start = article.text.index(number)
        Mention.objects.create(article=article, start=start, end=start + len(number), text=number,
                               label=figure, status=Mention.Status.CONFIRMED)
    claim = claim_in(first, "1,000 fighters crossed the border")
    other = claim_in(second, "About 1000 fighters crossed")
    [candidate] = corroboration.candidates(claim)
    assert (candidate.claim, candidate.shared_figures) == (other, ["1000"])


def test_candidates_leave_out_linked_rejected_and_same_article_claims(db):
    text = "Sixty fighters left Sirte for the south."

    def elsewhere(n: int) -> Claim:
        return claim_in(ArticleFactory(text=f"Report {n}. {text}"), text)

    claim = claim_in(ArticleFactory(text=f"{text} Sixty fighters left Sirte again."), text)
    same_article = claim_in(claim.article, "Sixty fighters left Sirte again.")
    linked_out, linked_in, rejected, unlinked = (elsewhere(n) for n in range(4))
    Claim.objects.filter(pk=rejected.pk).update(status=Claim.Status.REJECTED)
    link(claim, linked_out)
    link(linked_in, claim, ClaimLink.Relation.CONTRADICTS)
    found = [candidate.claim for candidate in corroboration.candidates(claim)]
    assert found == [unlinked]
    assert same_article not in found


def test_candidates_take_the_same_queries_however_large_the_corpus(gold_claims):
    claim = find(gold_claims, "reorganized", "Sirte")
    with CaptureQueriesContext(connection) as small:
        corroboration.candidates(claim)
    for n in range(20):
        article = ArticleFactory(text=f"Report {n}. ISIS has regrouped south of Sirte, officials said.")
        claim_in(article, "ISIS has regrouped south of Sirte")
    with CaptureQueriesContext(connection) as large:
        found = corroboration.candidates(claim, limit=30)
    assert len(large) == len(small) <= 3
    assert len(found) == 30


# Summaries

def test_two_articles_of_one_outlet_count_once(db):
    outlet = SourceFactory(name="Daily Example")
    claim = claim_in(ArticleFactory(text="ISIS regrouped south of Sirte.", source=outlet),
                     "ISIS regrouped south of Sirte.")
    same_outlet = claim_in(ArticleFactory(text="ISIS regrouped near Sirte.", source=outlet),
                           "ISIS regrouped near Sirte.")
    other_outlet = claim_in(ArticleFactory(text="ISIS is back south of Sirte."), "ISIS is back south of Sirte.")
    no_outlet = claim_in(ArticleFactory(text="ISIS regroups.", source=None), "ISIS regroups.")
    link(claim, same_outlet)
    link(other_outlet, claim, ClaimLink.Relation.SAME)
    link(claim, no_outlet)
    [summary] = corroboration.summaries([claim])
    assert summary.outlet_count == 3
    assert summary.outlets[0] == "Daily Example"
    assert not summary.contradicted
    assert [lc.claim for lc in summary.corroborating] == [same_outlet, no_outlet]
    assert [lc.claim for lc in summary.same] == [other_outlet]


def test_a_contradicting_link_sets_the_flag_and_adds_no_outlet(db):
    claim = claim_in(ArticleFactory(text="Thirty-six attackers were killed."), "Thirty-six attackers were killed.")
    other = claim_in(ArticleFactory(text="Fifty attackers were killed."), "Fifty attackers were killed.")
    link(other, claim, ClaimLink.Relation.CONTRADICTS)
    mine, theirs = corroboration.summaries([claim, other])
    assert mine.contradicted and theirs.contradicted
    assert (mine.outlet_count, theirs.outlet_count) == (1, 1)
    assert [lc.claim for lc in mine.contradicting] == [other]
    # The evidence lies in the other article: seen from the claim that was linked to, its own span.
    assert (theirs.contradicting[0].evidence_start, theirs.contradicting[0].evidence_end) == (claim.start, claim.end)


def test_a_summary_carries_the_grades_of_its_sources(db, analyst):
    article = ArticleFactory(text="Habib Essid said 36 attackers were killed.",
                             source=SourceFactory(name="Graded", reliability="B"))
    speaker = Mention.objects.create(article=article, start=0, end=11, text="Habib Essid",
                                     label=Label.objects.get(name="ACTOR"), status=Mention.Status.CONFIRMED)
    linking.link(speaker, by=analyst)
    speaker.entity.reliability = "C"
    speaker.entity.save()
    claim = claim_in(article, "36 attackers were killed", speaker="Habib Essid", speaker_mention=speaker,
                     credibility=2)
    [summary] = corroboration.summaries([claim])
    assert summary.speaker_entity.name == "Habib Essid"
    assert summary.speaker_reliability == "C: fairly reliable"
    assert summary.outlet_reliability == "B: usually reliable"
    assert summary.credibility == "2: probably true"


def test_summaries_take_the_same_queries_for_one_claim_or_many(db):
    def linked_pair(n: int) -> Claim:
        claim = claim_in(ArticleFactory(text=f"Claim {n} is made."), f"Claim {n} is made.")
        link(claim, claim_in(ArticleFactory(text=f"Claim {n} is echoed."), f"Claim {n} is echoed."))
        return claim

    one = [linked_pair(0)]
    with CaptureQueriesContext(connection) as few:
        corroboration.summaries(one)
    many = [linked_pair(n) for n in range(1, 15)]
    with CaptureQueriesContext(connection) as lots:
        found = corroboration.summaries(many)
    # The claims, their links, and the claims at the other end of the links.
    assert len(few) == len(lots) == 3
    alone = claim_in(ArticleFactory(text="Alone here."), "Alone here.")
    with CaptureQueriesContext(connection) as unlinked:
        corroboration.summaries([alone])
    assert len(unlinked) == 2
    assert [summary.outlet_count for summary in found] == [2] * 14
