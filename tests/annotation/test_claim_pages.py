"""The read-only claim pages: a claim with its sources, the figures list, the entity page's claims."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotation import linking
from annotation.models import Claim, ClaimLink, Label, Mention
from tests.annotation.test_corroboration import claim_in, link
from tests.factories import ArticleFactory, SourceFactory

ESSID = "The prime minister Habib Essid said 36 attackers were killed in Ben Guerdane.\n\nThe town is calm."


def mention(article, text: str, label: str = "FIGURE", *, by=None) -> Mention:
    start = article.text.index(text)
    created = Mention.objects.create(article=article, start=start, end=start + len(text), text=text,
                                     label=Label.objects.get(name=label), status=Mention.Status.CONFIRMED)
    linking.link(created, by=by)
    return created


@pytest.fixture
def essid_claim(analyst) -> Claim:
    """Habib Essid's claim of 36 attackers killed, in a graded outlet, with his entity graded too."""
    article = ArticleFactory(title="Raid on Ben Guerdane", text=ESSID,
                             source=SourceFactory(name="Tunis Daily", reliability="B"))
    speaker = mention(article, "Habib Essid", "ACTOR", by=analyst)
    speaker.entity.reliability = "C"
    speaker.entity.save()
    mention(article, "36")
    mention(article, "Ben Guerdane", "PLACE", by=analyst)
    return claim_in(article, "36 attackers were killed in Ben Guerdane", speaker="Habib Essid",
                    speaker_mention=speaker, cue="said", credibility=2, graded_by=analyst,
                    graded_at=timezone.now())


def other_claim(n: int, text: str, *, source=None) -> Claim:
    article = ArticleFactory(title=f"Report {n}", text=f"Report {n}. Witnesses said {text}. Nothing else.",
                             source=source or SourceFactory(name=f"Outlet {n}"))
    return claim_in(article, text)


# The claim page

def test_claim_page_shows_the_claim_in_its_paragraph_with_its_sources(analyst_client, essid_claim):
    response = analyst_client.get(essid_claim.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert ("The prime minister Habib Essid said <mark class=\"claim-mark\">36 attackers were killed "
            "in Ben Guerdane</mark>.</blockquote>") in html
    assert "The town is calm" not in html  # the next paragraph
    entity = essid_claim.speaker_mention.entity
    assert f'<a href="{entity.get_absolute_url()}">Habib Essid</a>, reliability C: fairly reliable' in html
    assert "Tunis Daily, reliability B: usually reliable" in html
    assert "2: probably true, graded by alice" in html
    assert "<strong>1</strong> independent outlet: Tunis Daily" in html


def test_claim_page_puts_corroborating_and_contradicting_claims_side_by_side(analyst_client, essid_claim):
    backing = other_claim(1, "36 attackers died")
    same = other_claim(2, "thirty-six gunmen were killed")
    against = other_claim(3, "50 attackers were killed")
    link(essid_claim, backing)
    link(same, essid_claim, ClaimLink.Relation.SAME)
    link(essid_claim, against, ClaimLink.Relation.CONTRADICTS)
    html = analyst_client.get(essid_claim.get_absolute_url()).content.decode()
    corroborating, contradicting = html.split('class="side contradicting"')
    assert 'Witnesses said <mark class="evidence">36 attackers died</mark>.' in corroborating
    assert '<mark class="evidence">thirty-six gunmen were killed</mark>' in corroborating
    assert "same claim" in corroborating
    assert '<mark class="evidence">50 attackers were killed</mark>' in contradicting.split("candidates-title")[0]
    assert "<strong>3</strong> independent outlets: Tunis Daily, Outlet 1, Outlet 2" in html
    assert '<strong class="contradicted">yes</strong>, by 1 claim' in html


def test_claim_page_lists_candidates_with_why(analyst_client, essid_claim):
    candidate = other_claim(4, "36 attackers were killed in the raid")
    mention(candidate.article, "36")
    html = analyst_client.get(essid_claim.get_absolute_url()).content.decode()
    assert f'id="candidate-{candidate.pk}"' in html
    assert '<span class="chip figure">36</span>' in html


def test_unknown_claim_is_404(analyst_client, db):
    assert analyst_client.get(reverse("annotation:claim_detail", args=[424242])).status_code == 404


def test_claim_page_needs_a_login(client, essid_claim):
    response = client.get(essid_claim.get_absolute_url())
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_claim_page_takes_the_same_queries_however_many_links(analyst_client, essid_claim, analyst):
    def page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert analyst_client.get(essid_claim.get_absolute_url()).status_code == 200
        return len(queries)

    link(essid_claim, other_claim(0, "36 attackers died"))
    few = page_queries()
    for n in range(1, 12):
        created = link(essid_claim, other_claim(n, f"{30 + n} attackers died"),
                       ClaimLink.Relation.CONTRADICTS if n % 2 else ClaimLink.Relation.CORROBORATES)
        created.created_by = analyst
        created.save()
    assert page_queries() == few


# Figures

@pytest.fixture
def counts(essid_claim):
    """Two counts of attackers in two outlets, and one of soldiers."""
    fifty = other_claim(1, "50 attackers were killed")
    mention(fifty.article, "50")
    soldiers = other_claim(2, "12 soldiers died")
    mention(soldiers.article, "12")
    return essid_claim, fifty, soldiers


def figure_groups(client, **params) -> list[tuple[str, list[str]]]:
    response = client.get(reverse("annotation:figure_list"), params)
    assert response.status_code == 200
    return [(group.noun, [figure.text for figure in group.figures]) for group in response.context["groups"]]


def test_figures_of_the_same_noun_sit_together(analyst_client, counts):
    assert figure_groups(analyst_client) == [("attacker", ["36", "50"]), ("soldier", ["12"])]
    html = analyst_client.get(reverse("annotation:figure_list")).content.decode()
    attackers = html.split('id="figures-attacker"')[1].split("</section>")[0]
    assert "counts differ" in attackers and "Tunis Daily" in attackers and "Outlet 1" in attackers
    assert '<mark class="figure-mark">36</mark> attackers were killed' in attackers


def test_figures_filter_by_word_or_entity(analyst_client, counts):
    assert figure_groups(analyst_client, q="soldiers") == [("soldier", ["12"])]
    assert figure_groups(analyst_client, q="Ben Guerdane") == [("attacker", ["36"])]
    essid = counts[0].speaker_mention.entity
    assert figure_groups(analyst_client, entity=essid.pk) == [("attacker", ["36"])]


def test_figures_take_the_same_queries_however_many_claims(analyst_client, counts):
    def page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            analyst_client.get(reverse("annotation:figure_list"))
        return len(queries)

    few = page_queries()
    for n in range(3, 15):
        claim = other_claim(n, f"{n} fighters crossed the border")
        mention(claim.article, str(n))
    assert page_queries() == few


def test_figures_need_a_login(client, db):
    assert client.get(reverse("annotation:figure_list")).status_code == 302


# The entity page

def test_entity_page_lists_claims_by_and_about_it(analyst_client, essid_claim, analyst):
    essid = essid_claim.speaker_mention.entity
    article = ArticleFactory(text="Officials said Habib Essid resigned on Friday.")
    mention(article, "Habib Essid", "ACTOR", by=analyst)
    about = claim_in(article, "Habib Essid resigned on Friday")
    html = analyst_client.get(essid.get_absolute_url()).content.decode()
    by_section, about_section = html.split('id="claims-about-title"')
    assert "Claims by Habib Essid" in by_section and essid_claim.get_absolute_url() in by_section
    assert about.get_absolute_url() not in by_section
    assert about.get_absolute_url() in about_section and "1 outlet" in about_section


def test_entity_page_takes_the_same_queries_however_many_claims(analyst_client, essid_claim, analyst):
    essid = essid_claim.speaker_mention.entity

    def page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            analyst_client.get(essid.get_absolute_url())
        return len(queries)

    few = page_queries()
    for n in range(8):
        article = ArticleFactory(text=f"Item {n}. Habib Essid said the border is closed.")
        speaker = mention(article, "Habib Essid", "ACTOR", by=analyst)
        link(claim_in(article, "the border is closed", speaker="Habib Essid", speaker_mention=speaker),
             essid_claim)
    assert page_queries() == few
