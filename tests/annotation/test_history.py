"""An article's history page: real decisions told as sentences with before → after, filters,
keyset pages that lose and repeat nothing, a constant number of queries, permissions."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotation import claim_decisions, decisions, extraction
from annotation.history import PAGE_SIZE, Cursor, Known, changes, sentence
from annotation.models import Claim, Event, Label, Mention
from annotation.nlp import FoundEntity
from corpus.models import Article
from tests.factories import ArticleFactory, MentionFactory

TEXT = "Prime Minister Habib Essid said about 50 extremists attacked Sirte on Monday."
ESSID = (TEXT.index("Habib Essid"), TEXT.index(" said"))
SIRTE = (TEXT.index("Sirte"), TEXT.index(" on Monday"))
CLAIM = "about 50 extremists attacked Sirte on Monday"
OTHER_TEXT = "Officials said some 50 gunmen stormed Sirte at dawn on Monday."
OTHER_CLAIM = "some 50 gunmen stormed Sirte at dawn on Monday"


def label(name: str) -> Label:
    return Label.objects.get(name=name)


def pretag(article: Article) -> None:
    """The pre-tagger's own storing step, fed two suggestions (no model needed)."""
    found = [FoundEntity("Habib Essid", "ACTOR", *ESSID, "PERSON"),
             FoundEntity("Sirte", "PLACE", *SIRTE, "GPE")]
    extraction.store_suggestions(article, found, {lab.name: lab for lab in Label.objects.all()})


def mention_at(article: Article, span: tuple[int, int]) -> Mention:
    return article.mentions.get(start=span[0], end=span[1])


def history(client, article: Article, **params):
    return client.get(reverse("annotation:article_history", args=[article.pk]), params)


def event_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li id="event-(\d+)"', html)]


def text_of(html: str) -> str:
    """The page's words on one line, tags dropped: what a reader sees."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def article(db):
    article = ArticleFactory(title="Attack on Sirte", text=TEXT)
    pretag(article)
    return article


@pytest.fixture
def decided(article, analyst, other_analyst):
    """Alice confirms Habib Essid (which links it to an entity), Bob relabels Sirte as a GROUP."""
    decisions.confirm(mention_at(article, ESSID).pk, version=1, by=analyst)
    decisions.relabel(mention_at(article, SIRTE).pk, label("GROUP"), version=1, by=other_analyst)
    return article


# Who, what, before → after

def test_each_decision_reads_as_a_sentence_with_who_did_it(analyst_client, decided):
    page = text_of(history(analyst_client, decided).content.decode())
    assert "alice confirmed ACTOR “Habib Essid”" in page
    assert "bob relabelled “Sirte” PLACE → GROUP" in page
    assert "pre-tagger pre-tagged the article: 2 suggestions and 0 claims" in page
    assert "alice started work on the article status pre-tagged → in progress" in page


def test_newest_event_comes_first(analyst_client, decided):
    html = history(analyst_client, decided).content.decode()
    shown = event_ids(html)
    assert shown == list(Event.objects.filter(article=decided).order_by("-created_at", "-pk")
                         .values_list("pk", flat=True))
    relabel = Event.objects.get(action="mention.relabel")
    pretagged = Event.objects.get(action="article.pretag")
    assert shown.index(relabel.pk) < shown.index(pretagged.pk)


def test_a_relabel_shows_the_label_and_status_before_and_after(analyst_client, decided):
    html = history(analyst_client, decided).content.decode()
    relabel = Event.objects.get(action="mention.relabel")
    entry = html[html.index(f'id="event-{relabel.pk}"'):]
    entry = entry[:entry.index("</li>")]
    assert ('<dt>label</dt><dd><del title="PLACE">PLACE</del> → <ins title="GROUP">GROUP</ins>'
            in entry)
    assert ('<dt>status</dt><dd><del title="suggested">suggested</del> → '
            '<ins title="confirmed">confirmed</ins>' in entry)
    assert "version" not in entry and "decided" not in entry  # bookkeeping is left out


def test_widening_a_mention_says_from_what_to_what(analyst_client, decided, analyst):
    essid = mention_at(decided, ESSID)
    decisions.resize(essid.pk, edge="start", grow=True, version=essid.version, by=analyst)
    page = text_of(history(analyst_client, decided).content.decode())
    assert "alice widened ACTOR “Habib Essid” to “Minister Habib Essid”" in page
    assert f"span {ESSID[0]}–{ESSID[1]} → {TEXT.index('Minister')}–{ESSID[1]}" in page
    assert "text Habib Essid → Minister Habib Essid" in page
    # Each entity link names the mention as it was when the link was made, not as it is now.
    assert "alice linked ACTOR “Habib Essid” to Habib Essid (new entity)" in page
    assert "alice linked ACTOR “Minister Habib Essid” to Habib Essid (spelling variant" in page


def test_the_entity_link_a_confirmation_made_names_the_entity(analyst_client, decided):
    page = text_of(history(analyst_client, decided).content.decode())
    assert "alice linked ACTOR “Habib Essid” to Habib Essid (new entity)" in page
    assert "entity none → Habib Essid" in page


def test_an_undo_says_which_decision_it_took_back(analyst_client, decided, other_analyst):
    decisions.undo(decided.pk, by=other_analyst)
    page = text_of(history(analyst_client, decided).content.decode())
    assert "bob undid the relabelling of PLACE “Sirte”" in page
    assert "label GROUP → PLACE" in page


def test_a_mention_marked_by_hand_and_a_confirm_all_are_told_apart(analyst_client, article, analyst):
    decisions.add(article.pk, TEXT.index("Monday"), len(TEXT) - 1, label("FIGURE"), by=analyst)
    decisions.confirm_all(article.pk, label("ACTOR"), seen={mention_at(article, ESSID).pk: 1},
                          by=analyst)
    page = text_of(history(analyst_client, article).content.decode())
    assert "alice marked FIGURE “Monday”" in page
    assert "alice confirmed ACTOR “Habib Essid” (with “confirm all”)" in page


def test_a_confirm_all_is_one_line_that_opens_on_each_confirmation(analyst_client, analyst, db):
    article = ArticleFactory(text="Casualties: 50, 60 and 70 dead.")
    figures = [MentionFactory(article=article, start=article.text.index(n),
                              end=article.text.index(n) + 2, label=label("FIGURE"))
               for n in ("50", "60", "70")]
    decisions.confirm_all(article.pk, label("FIGURE"), seen={m.pk: 1 for m in figures}, by=analyst)
    html = history(analyst_client, article).content.decode()
    batch = html[html.index('<li class="history-entry history-batch'):]
    batch = batch[:batch.index("</details>")]
    assert "alice confirmed 3 FIGURE suggestions at once (“confirm all”)" in text_of(batch)
    confirmations = Event.objects.filter(action="mention.confirm").values_list("pk", flat=True)
    assert sorted(event_ids(batch)) == sorted(confirmations)
    assert text_of(batch).count("status suggested → confirmed") == 3


def test_claim_decisions_and_links_read_as_sentences(analyst_client, article, analyst):
    claim = claim_decisions.add(article.pk, TEXT.index(CLAIM), TEXT.index(CLAIM) + len(CLAIM),
                                by=analyst, cue="said")
    claim = claim_decisions.set_speaker(claim.pk, *ESSID, version=claim.version, by=analyst)
    claim = claim_decisions.grade(claim.pk, 2, version=claim.version, by=analyst)
    other_article = ArticleFactory(title="Gunmen storm Sirte", text=OTHER_TEXT)
    start = OTHER_TEXT.index(OTHER_CLAIM)
    other = Claim.objects.create(article=other_article, start=start, end=start + len(OTHER_CLAIM),
                                 text=OTHER_CLAIM, status="confirmed")
    link = claim_decisions.link(claim.pk, other.pk, "corroborates", version=claim.version,
                                by=analyst)
    claim.refresh_from_db()
    claim_decisions.unlink(claim.pk, link.pk, version=claim.version, by=analyst)

    page = text_of(history(analyst_client, article).content.decode())
    assert f"alice marked a claim: “{CLAIM}”" in page
    assert f"alice set the speaker of the claim “{CLAIM}” to Habib Essid" in page
    assert "speaker — → Habib Essid" in page
    assert f"alice graded the claim “{CLAIM}” 2: probably true" in page
    assert "credibility — → 2: probably true" in page
    assert (f"alice linked the claim “{CLAIM}” as corroborating “{OTHER_CLAIM}” "
            "(in “Gunmen storm Sirte”)") in page
    assert (f"alice unlinked the claim “{CLAIM}” from “{OTHER_CLAIM}” (in “Gunmen storm Sirte”), "
            "which it had as corroborating") in page


def test_submitting_says_how_many_suggestions_were_left_undecided(analyst_client, decided, analyst):
    decisions.submit(decided.pk, by=analyst, even_if_undecided=True)
    page = text_of(history(analyst_client, decided).content.decode())
    assert "alice submitted the article" in page
    assert "status in progress → submitted" in page


# Sentences for events without a page fetch: the review workflow and actions added later

def unsaved(action: str, subject_type: str = "article", *, before=None, after=None) -> Event:
    return Event(action=action, subject_type=subject_type, subject_id=1, before=before, after=after)


@pytest.mark.parametrize(("event", "expected"), [
    (unsaved("article.approve", before={"status": "submitted"}, after={"status": "approved"}),
     "approved the article"),
    (unsaved("article.return", before={"status": "submitted"},
             after={"status": "returned", "comments": 2}),
     "returned the article with 2 comments"),
    (unsaved("article.return", after={"status": "returned", "comments": ["a", "b", "c"]}),
     "returned the article with 3 comments"),
    (unsaved("article.reopen", before={"status": "approved"}, after={"status": "in_progress"}),
     "reopened the article"),
    (unsaved("article.start", before={"status": "returned"}, after={"status": "in_progress"}),
     "took the returned article up again"),
])
def test_review_workflow_events_read_as_sentences(event, expected):
    assert sentence(event, Known()) == expected


def test_an_unknown_action_falls_back_to_its_name_and_the_fields_it_changed():
    event = unsaved("article.archive", before={"status": "approved", "shelf": None, "version": 3},
                    after={"status": "archived", "shelf": "B", "version": 4})
    assert sentence(event, Known()) == "recorded “article.archive” on the article"
    assert [(c.field, c.before, c.after) for c in changes(event, Known())] == [
        ("status", "approved", "archived"), ("shelf", "—", "B")]


def test_an_unknown_action_with_one_snapshot_lists_its_fields():
    event = unsaved("figure.normalise", "mention", after={"value": 50, "unit": "people"})
    assert sentence(event, Known()) == "recorded “figure.normalise” on mention 1"
    assert [(c.field, c.before, c.after) for c in changes(event, Known())] == [
        ("value", "—", "50"), ("unit", "—", "people")]


def test_a_known_action_with_an_odd_snapshot_falls_back_instead_of_failing():
    event = unsaved("mention.relabel", "mention", before={"label": "PLACE"},
                    after={"label": "GROUP"})
    assert sentence(event, Known()) == "recorded “mention.relabel” on mention 1"
    assert [(c.field, c.before, c.after) for c in changes(event, Known())] == [
        ("label", "PLACE", "GROUP")]


@pytest.mark.parametrize(("event", "expected", "changed"), [
    (unsaved("mention.confirm", "mention", before="odd", after=["odd"]),
     "recorded “mention.confirm” on mention 1", []),
    (unsaved("mention.wobble", "mention", after={"text": "Essid"}),
     "recorded “mention.wobble” on mention 1", [("text", "—", "Essid")]),
    (unsaved("claim.link", "claimlink", after={"relation": "same"}),
     "recorded “claim.link” on claimlink 1", []),
])
def test_malformed_snapshots_never_break_the_page(event, expected, changed):
    assert sentence(event, Known()) == expected
    assert [(c.field, c.before, c.after) for c in changes(event, Known())] == changed


# Filters

def test_filtering_by_person_shows_only_their_changes(analyst_client, decided, other_analyst):
    html = history(analyst_client, decided, person=other_analyst.pk).content.decode()
    assert "bob relabelled “Sirte” PLACE → GROUP" in text_of(html)
    assert sorted(event_ids(html)) == sorted(
        Event.objects.filter(actor=other_analyst).values_list("pk", flat=True))


def test_filtering_by_system_shows_what_no_person_did(analyst_client, decided):
    html = history(analyst_client, decided, person="system").content.decode()
    assert event_ids(html) == [Event.objects.get(action="article.pretag").pk]


def test_filtering_by_kind_keeps_mentions_claims_links_or_the_workflow(analyst_client, decided, analyst):
    start = TEXT.index(CLAIM)
    claim = claim_decisions.add(decided.pk, start, start + len(CLAIM), by=analyst)
    expected = {
        "mentions": Event.objects.filter(subject_type="mention"),
        "claims": Event.objects.filter(action="claim.add", subject_id=claim.pk),
        "links": Event.objects.none(),
        "article": Event.objects.filter(action__startswith="article."),
    }
    for kind, events in expected.items():
        html = history(analyst_client, decided, kind=kind).content.decode()
        assert sorted(event_ids(html)) == sorted(events.values_list("pk", flat=True)), kind
    html = history(analyst_client, decided, kind="links").content.decode()
    assert "No change matches these filters." in html


def test_the_filter_form_offers_the_people_who_changed_the_article(analyst_client, decided, other_analyst):
    html = history(analyst_client, decided, person=other_analyst.pk).content.decode()
    assert f'<option value="{other_analyst.pk}" selected>bob</option>' in html
    assert '<option value="system">System or pre-tagger</option>' in html


def test_an_unknown_kind_or_person_is_refused_with_a_clear_message(analyst_client, decided, stranger):
    response = history(analyst_client, decided, kind="figures")
    assert response.status_code == 422
    assert "There is no kind of change called “figures”" in response.content.decode()
    assert event_ids(response.content.decode()) == []
    response = history(analyst_client, decided, person=stranger.pk)
    assert response.status_code == 422
    assert "Nobody by that id has changed this article" in response.content.decode()


# Pages

@pytest.fixture
def busy(analyst):
    """An article with 250 confirmations (one confirm-all of FIGURE suggestions), of which 60
    share one timestamp to the microsecond, so the pk alone orders them."""
    article = ArticleFactory(text="Casualties: " + "50, " * 250 + "in all.")
    figures = Mention.objects.bulk_create(
        Mention(article=article, start=12 + 4 * i, end=14 + 4 * i, text="50", label=label("FIGURE"))
        for i in range(250))
    decisions.confirm_all(article.pk, label("FIGURE"), seen={m.pk: 1 for m in figures}, by=analyst)
    confirmations = Event.objects.filter(article=article, action="mention.confirm").order_by("pk")
    tied = list(confirmations.values_list("pk", flat=True)[90:150])
    Event.objects.filter(pk__in=tied).update(created_at=timezone.now() - timedelta(hours=1))
    return article


def walk(client, article, first: dict, link_id: str) -> list[list[int]]:
    """The event ids of each page, following one pager link until it is gone."""
    pages, params = [], first
    while True:
        html = history(client, article, **params).content.decode()
        pages.append(event_ids(html))
        found = re.search(rf'<a href="\?([^"]*)" id="{link_id}"', html)
        if found is None:
            return pages
        params = dict(pair.split("=") for pair in found[1].replace("&amp;", "&").split("&"))


def test_older_pages_show_every_event_once_in_order(analyst_client, busy):
    pages = walk(analyst_client, busy, {}, "older-events")
    everything = list(Event.objects.filter(article=busy).order_by("-created_at", "-pk")
                      .values_list("pk", flat=True))
    assert len(everything) == 251  # 250 confirmations and the start of work
    assert [len(page) for page in pages] == [PAGE_SIZE, PAGE_SIZE, 51]
    assert [pk for page in pages for pk in page] == everything


def test_newer_pages_lead_back_to_the_newest_without_a_gap(analyst_client, busy):
    older = walk(analyst_client, busy, {}, "older-events")
    last = {"before": str(Cursor.of(Event.objects.get(pk=older[1][-1])))}
    assert walk(analyst_client, busy, last, "newer-events") == list(reversed(older))


def test_pages_keep_the_filters(analyst_client, busy, analyst):
    params = {"person": str(analyst.pk), "kind": "mentions"}
    pages = walk(analyst_client, busy, params, "older-events")
    assert sum(len(page) for page in pages) == 250
    assert not set(pages[0]) & set(pages[1])


def test_a_damaged_page_link_is_refused_with_a_clear_message(analyst_client, busy):
    for params in ({"before": "yesterday"}, {"before": "999999999999999999_1"},
                   {"after": "12_34_56"},
                   {"before": "1_1", "after": "2_2"}):
        response = history(analyst_client, busy, **params)
        assert response.status_code == 422, params
        html = response.content.decode()
        assert 'class="error"' in html and event_ids(html) == [], params
        assert "Show the newest events" in html


def test_the_number_of_queries_does_not_grow_with_the_events(analyst_client, analyst, other_analyst):
    """Every kind of lookup a page can need happens on both pages: mention links, claim links,
    undos; one page holds nine events and the other a full page of them."""
    counts = []
    for size in (3, 150):
        article = ArticleFactory(text="Prime Minister Habib Essid said: " + "50, " * size + "end.")
        figures = Mention.objects.bulk_create(
            Mention(article=article, start=33 + 4 * i, end=35 + 4 * i, text="50",
                    label=label("FIGURE")) for i in range(size))
        decisions.confirm_all(article.pk, label("FIGURE"), seen={m.pk: 1 for m in figures},
                              by=analyst)
        # The newest events hold one of each lookup: an entity link, a claim link, an undo.
        essid = MentionFactory(article=article, start=15, end=26)
        decisions.confirm(essid.pk, version=1, by=other_analyst)
        claim = claim_decisions.add(article.pk, 0, 26, by=analyst)
        other = Claim.objects.create(article=ArticleFactory(text=f"{OTHER_TEXT} ({size})"),
                                     start=0, end=9, text="Officials", status="confirmed")
        claim_decisions.link(claim.pk, other.pk, "contradicts", version=claim.version, by=analyst)
        decisions.undo(article.pk, by=other_analyst)
        with CaptureQueriesContext(connection) as context:
            response = history(analyst_client, article)
        assert response.status_code == 200
        assert len(event_ids(response.content.decode())) == min(size + 6, PAGE_SIZE)
        counts.append(len(context.captured_queries))
    assert counts[0] == counts[1]


# Days and times

def test_events_are_grouped_by_local_day_with_exact_timestamps(analyst_client, decided, settings):
    settings.TIME_ZONE = "Pacific/Auckland"
    pretagged = Event.objects.get(action="article.pretag")
    two_days_earlier = pretagged.created_at - timedelta(days=2)
    Event.objects.filter(pk=pretagged.pk).update(created_at=two_days_earlier)
    pretagged.refresh_from_db()
    html = history(analyst_client, decided).content.decode()
    local = timezone.localtime(pretagged.created_at)
    assert f'<time class="when" datetime="{local.isoformat()}"' in html
    assert f'{local:%H:%M}</time>' in html
    days = re.findall(r'<h2 id="day-\d+"><time datetime="([\d-]+)">', html)
    assert days == sorted(set(days), reverse=True) and len(days) == 2
    assert days[-1] == local.date().isoformat()
    assert "Times are in Pacific/Auckland" in html


# The page around the timeline

def test_an_article_without_events_says_so_and_links_back(analyst_client, db):
    article = ArticleFactory()
    html = history(analyst_client, article).content.decode()
    assert "Nothing has happened to this article yet." in html
    assert f'href="{article.get_absolute_url()}" id="back-to-article"' in html


def test_a_reviewer_may_read_the_history(client, reviewer, decided):
    client.force_login(reviewer)
    assert history(client, decided).status_code == 200


def test_a_user_without_the_permission_gets_403(client, stranger, decided):
    client.force_login(stranger)
    assert history(client, decided).status_code == 403


def test_anonymous_visitor_is_sent_to_login(client, decided):
    response = history(client, decided)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_missing_article_is_404(analyst_client, db):
    response = analyst_client.get(reverse("annotation:article_history", args=[999_999]))
    assert response.status_code == 404
