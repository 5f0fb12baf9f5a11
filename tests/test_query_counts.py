"""Query counts of every page and every decision, guarded in CI.

Each case below requests one view twice over: in a small world and in a large one, larger in what
the view depends on (an article's mentions and claims, the articles of a list, a claim's links, an
article's events, an entity's mentions…). It asserts that

(a) the number of SQL queries is the same for both sizes: a view whose count grows with the data
    has an N+1 somewhere, however fast it looks on the demo's five articles; and
(b) the count is at most the view's ceiling in CEILINGS below.

CEILINGS is the record: each value is the count measured when it was last changed. Lower it when
you take queries out of a view (the test keeps passing with a lower count, so only you know:
`pytest tests/test_query_counts.py -rP` prints every case's counts); never raise it without
saying why in the commit. A case known to grow is in N_PLUS_ONE with its cause, and fails strictly
(xfail(strict=True)) until it is fixed; its ceiling is its count in the small world. Once fixed,
take it out of N_PLUS_ONE and set its ceiling to the count measured.

Every request is made as the UI makes it: by the role that uses the view, with `HX-Request: true`
where htmx sends it, and every POST with an `Idempotency-Key` (the browser sends one with every
decision). Before a measured decision, the same decision is taken once unmeasured on a small
article of the same world (or on the same article, where the decision is about the article's own
past, as undo is): a first decision also creates the entity it links to, the pre-tagger's count of
that text and so on, and the steady cost is the one that matters at scale. A page is requested
once unmeasured before the small world's measured request. Each size runs in a transaction rolled
back after it, so neither world sees the other.

Sizes: an article of 5 or 40 sentences (15 or 120 mentions, 5 or 40 claims); 3 or 60 articles
(entities, batches, assignments); 2 or 40 claims linked to a claim; 7 or 140 events.

Run it alone with `python -m pytest tests/test_query_counts.py`; a failure names the case, the
view's both counts and what grew between them.
"""

import functools
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotation import layers, review
from annotation.exporting import FORMATS
from annotation.linking import normalise_name
from annotation.models import Assignment, Claim, ClaimLink, Entity, Event, Label, Mention, ReviewComment
from corpus.models import Article, ImportBatch, Source
from tests.test_permissions import app_urls

# The record: the most queries each case may make (see the module's docstring).
CEILINGS = {
    # Pages (GET)
    "home": 0,
    "login": 0,
    "service_worker": 0,
    "label_css": 1,
    "article_list": 5,
    "article_list (reviewer)": 6,
    "search (query)": 4,
    "search (query, label, status, entity)": 5,
    "article_detail": 8,
    "article_detail (returned, with comments)": 10,
    "article_detail (private layer)": 8,
    "article_history": 8,
    "article_history (filtered)": 5,
    "entity_list": 4,
    "entity_list (search)": 4,
    "entity_detail": 8,
    "entity_detail (admin)": 8,
    "claim_detail": 9,
    "claim_detail (claims in its article)": 7,
    "claim_links": 8,
    "figure_list": 5,
    "figure_list (search, entity)": 3,
    "review_list": 2,
    "article_review": 10,
    "article_review (independent layers)": 14,
    "my_articles": 2,
    "export_page": 2,
    "download_export (jsonl)": 7,
    "download_export (jsonld)": 7,
    "download_export (claims-jsonl)": 7,
    "download_export (claims-csv)": 7,
    "download_export (spacy)": 5,
    "download_export (prodigy)": 5,
    "download_export (csv)": 5,
    "import_list": 2,
    "batch_detail": 3,
    "batch_detail (htmx progress)": 3,
    # Decisions (POST)
    "confirm_mention": 10,
    "reject_mention": 9,  # with its list's "Confirm all" drawn again
    "relabel_mention": 13,
    "resize_mention": 16,
    "delete_mention": 14,
    "accept_link": 14,
    "clear_link": 14,
    "change_link": 15,
    "add_mention": 15,
    "undo_decision (mention)": 24,
    "undo_decision (claim)": 26,
    "confirm_all (two seen)": 25,
    "confirm_all (every suggestion)": 25,
    "submit_article": 18,
    "submit_article (asks first)": 14,
    "confirm_claim": 17,
    "reject_claim": 14,
    "resize_claim": 17,
    "span_claim": 17,
    "speaker_claim": 18,
    "cue_claim": 17,
    "grade_claim": 16,
    "delete_claim": 18,
    "link_claim": 20,
    "unlink_claim": 18,
    "add_claim": 17,
    "grade_entity": 8,
    "grade_source": 8,
    "rename_entity": 10,
    "merge_entity": 13,
    "approve_article": 13,
    "return_article": 15,
    "reopen_article": 13,
    "adjudicate_article": 27,
    "assign_articles": 12,
    "assign_articles (independent)": 20,
    "import_list (upload)": 5,
    "rerun_batch": 2,
    "logout": 3,
}

# Cases whose count grows with the size, and why. Fixing one makes its test pass, which fails
# (strict xfail) until it is taken out of here.
N_PLUS_ONE: dict[str, str] = {}

HTMX = {"HX-Request": "true"}
SENTENCES = (5, 40)  # an article's sentences: 3 mentions and a claim each
ARTICLES = (3, 60)
LINKS = (2, 40)
EVENTS = (6, 120)  # and one undo for every six events

SENTENCE = "Essid said {count} {noun} died in Sirte. "
NOUNS = ("attackers", "fighters", "soldiers")
# Sentences 0 and 1 of every built article are untouched suggestions, for decisions to act on.
# The others hold what work on an article leaves, every kind of it in the small world too.
FRESH = 2

_serial = itertools.count(1)


@dataclass
class Line:
    """One sentence of a built article, with its mentions and its claim."""

    text: str
    start: int
    essid: Mention
    figure: Mention
    sirte: Mention
    claim: Claim

    def span(self, words: str) -> tuple[int, int]:
        start = self.start + self.text.index(words)
        return start, start + len(words)


@dataclass
class Built:
    article: Article
    lines: list[Line]

    @property
    def mentions(self) -> list[Mention]:
        return [m for line in self.lines for m in (line.essid, line.figure, line.sirte)]


@dataclass
class World:
    users: dict

    @property
    def analyst(self):
        return self.users["analyst"]

    @functools.cached_property
    def labels(self) -> dict[str, Label]:
        return {label.name: label for label in Label.objects.all()}

    def entity(self, name: str, label: str) -> Entity:
        return Entity.objects.get_or_create(name=name, label=self.labels[label])[0]

    @functools.cached_property
    def essid_and_sirte(self) -> tuple[Entity, Entity]:
        return self.entity("Essid", "ACTOR"), self.entity("Sirte", "PLACE")

    def sources(self, count: int) -> list[Source]:
        return Source.objects.bulk_create(Source(name=f"Outlet {next(_serial)}") for _ in range(count))

    def build(self, count: int = 1, sentences: int = SENTENCES[0], *, fresh: int = FRESH,
              status: str = Article.Status.IN_PROGRESS, sources: list[Source] | None = None,
              batch: ImportBatch | None = None, searchable: bool = False) -> list[Built]:
        """`count` articles of `sentences` sentences each, in a few queries. The first `fresh`
        sentences hold suggestions nobody decided on; the others cycle through a rejected claim
        and place, a graded claim and a place linked to its entity pending acceptance, and a claim
        in the article's own voice and an accepted place."""
        labels, (essid, sirte) = self.labels, self.essid_and_sirte
        now, by = timezone.now(), self.analyst
        drafts = []
        for index in range(count):
            serial = next(_serial)
            head = f"Report {serial}. "
            texts = [SENTENCE.format(count=36 + i, noun=NOUNS[i % len(NOUNS)]) for i in range(sentences)]
            article = Article(title=f"Article {serial}", text=(head + "".join(texts)).rstrip(),
                              status=status, batch=batch,
                              source=sources[index % len(sources)] if sources else None)
            article.derive_from_text()
            assert (article.body_start, article.body_end) == (0, len(article.text))
            drafts.append((article, head, texts))
        Article.objects.bulk_create([article for article, _, _ in drafts])
        if searchable:  # as pre-tagging leaves it; only search reads it
            Article.objects.filter(pk__in=[article.pk for article, _, _ in drafts]).index_for_search()

        mentions, lines = [], []
        for article, head, texts in drafts:
            start = len(head)
            for i, text in enumerate(texts):
                kind = "fresh" if i < fresh else ("rejected", "pending", "accepted")[i % 3]
                decided = {} if kind == "fresh" else {
                    "status": Mention.Status.CONFIRMED, "decided_by": by, "decided_at": now, "version": 2}

                def mention(words, label, **fields):
                    at = start + text.index(words)
                    return Mention(article=article, start=at, end=at + len(words), text=words,
                                   label=labels[label], model_label=label, **fields)

                count_words = text.split()[2]
                found = [
                    mention("Essid", "ACTOR", **decided, **({} if kind == "fresh" else {
                        "entity": essid, "entity_accepted": True, "link_reason": "same name"})),
                    mention(count_words, "FIGURE", **decided),
                    mention("Sirte", "PLACE", **{
                        "fresh": {},
                        "rejected": {**decided, "status": Mention.Status.REJECTED},
                        "pending": {**decided, "entity": sirte, "entity_accepted": False,
                                    "link_reason": "spelling variant of Sirte"},
                        "accepted": {**decided, "entity": sirte, "entity_accepted": True,
                                     "link_reason": "same name"}}[kind])]
                mentions.extend(found)
                lines.append((article, text, start, kind, found))
                start += len(text)
        Mention.objects.bulk_create(mentions)

        claims = []
        for article, text, start, kind, (essid_m, figure_m, sirte_m) in lines:
            fields = {
                "fresh": {},
                "rejected": {"status": Claim.Status.REJECTED, "decided_by": by, "decided_at": now,
                             "version": 2},
                "pending": {"status": Claim.Status.CONFIRMED, "decided_by": by, "decided_at": now,
                            "credibility": 2, "graded_by": by, "graded_at": now, "version": 3},
                "accepted": {"status": Claim.Status.CONFIRMED, "decided_by": by, "decided_at": now,
                             "version": 2, "speaker": "", "speaker_start": None, "speaker_end": None,
                             "speaker_mention": None, "cue": ""}}[kind]
            speaker = {"speaker": "Essid", "speaker_start": essid_m.start, "speaker_end": essid_m.end,
                       "speaker_mention": essid_m, "cue": "said"}
            claims.append(Claim(article=article, start=figure_m.start, end=sirte_m.end,
                                text=article.text[figure_m.start:sirte_m.end], **{**speaker, **fields}))
        Claim.objects.bulk_create(claims)

        built = {article.pk: Built(article, []) for article, _, _ in drafts}
        for (article, text, start, _, found), claim in zip(lines, claims):
            built[article.pk].lines.append(Line(text, start, *found, claim))
        return list(built.values())

    def article(self, sentences: int, **options) -> Built:
        return self.build(1, sentences, **options)[0]

    def pair(self, sentences: int, **options) -> tuple[Built, Built]:
        """Two articles: a small one for the unmeasured decision, one of `sentences` for the
        measured one."""
        return self.article(SENTENCES[0], **options), self.article(sentences, **options)

    def link(self, claim: Claim, others: list[Claim]) -> list[ClaimLink]:
        return self.link_pairs([(claim, other) for other in others])

    def link_pairs(self, pairs: list[tuple[Claim, Claim]]) -> list[ClaimLink]:
        """Each claim linked to the other of its pair, the relations taken in turn."""
        relations = itertools.cycle(ClaimLink.Relation.values)
        return ClaimLink.objects.bulk_create(
            ClaimLink(claim=claim, other=other, relation=next(relations), evidence_start=other.start,
                      evidence_end=other.end, created_by=self.analyst) for claim, other in pairs)

    def submitted(self, built: Built, *, status: str = Article.Status.SUBMITTED) -> Built:
        """The article as its analyst leaves it: each decision's Event (what the review page reads
        the model's suggestions from), and the submission."""
        article, by = built.article, self.analyst
        decided = Mention.objects.filter(article=article, decided_by__isnull=False).select_related("label")
        events = [Event(action="mention.confirm", subject_type="mention", subject_id=m.pk, article=article,
                        actor=by, before={**m.snapshot(), "status": "suggested", "version": 1},
                        after=m.snapshot()) for m in decided]
        events += [Event(action="claim.confirm", subject_type="claim", subject_id=c.pk, article=article,
                         actor=by, before={**c.snapshot(), "status": "suggested", "version": 1},
                         after=c.snapshot())
                   for c in Claim.objects.filter(article=article, decided_by__isnull=False)]
        events.append(Event(action="article.submit", subject_type="article", subject_id=article.pk,
                            article=article, actor=by, before={"status": "in_progress"},
                            after={"status": "submitted", "undecided": 0}))
        Event.objects.bulk_create(events)
        Article.objects.filter(pk=article.pk).update(status=status)
        article.status = status
        return built

    def history(self, built: Built, count: int) -> None:
        """`count` events on the article, of every kind the history page tells, and an undo for
        every six."""
        article, lines = built.article, built.lines
        other = self.article(1).lines[0].claim
        claim_link = self.link(lines[0].claim, [other])[0]
        entity = self.entity("Essid", "ACTOR")
        mentions = {m.pk: m for m in Mention.objects.filter(article=article).select_related("label")}
        claims = {c.pk: c for c in Claim.objects.filter(article=article)}
        actors = itertools.cycle([self.users["analyst"], self.users["other_analyst"], None])
        group = uuid.uuid4().hex
        events = []
        for k in range(count):
            line, actor = lines[k % len(lines)], next(actors)
            sirte, essid, claim = mentions[line.sirte.pk], mentions[line.essid.pk], claims[line.claim.pk]
            kind = k % 6
            if kind in (0, 4):
                after = {**sirte.snapshot(), "status": "confirmed"}
                if kind == 4:
                    after["group"] = group
                events.append(Event(action="mention.confirm", subject_type="mention", subject_id=sirte.pk,
                                    article=article, actor=actor, before=sirte.snapshot(), after=after))
            elif kind == 1:
                events.append(Event(action="mention.link", subject_type="mention", subject_id=essid.pk,
                                    article=article, actor=actor,
                                    before={"entity": None, "accepted": False},
                                    after={"entity": entity.pk, "accepted": True, "reason": "same name"}))
            elif kind == 2:
                events.append(Event(action="claim.link", subject_type="claimlink", subject_id=claim_link.pk,
                                    article=article, actor=actor, before=None,
                                    after={**claim_link.snapshot(), "from": claim.pk}))
            elif kind == 3:
                events.append(Event(action="claim.grade", subject_type="claim", subject_id=claim.pk,
                                    article=article, actor=actor, before=claim.snapshot(),
                                    after={**claim.snapshot(), "credibility": 2}))
            else:
                events.append(Event(action="article.pretag", subject_type="article", subject_id=article.pk,
                                    article=article, actor=None, before={"status": "new"},
                                    after={"status": "pretagged", "mentions": 3, "claims": 1}))
        events = Event.objects.bulk_create(events)
        Event.objects.bulk_create(
            Event(action="mention.undo", subject_type="mention", subject_id=event.subject_id,
                  article=article, actor=event.actor, before=event.after,
                  after={**event.before, "undoes": event.pk})
            for event in events[::6])

    def independent(self, sentences: int) -> Built:
        """A submitted article that two analysts annotated independently, differing on every
        sentence: alice confirms the places that bob relabels as groups, and rejects the figures
        that bob leaves standing."""
        built = self.article(sentences, fresh=sentences, status=Article.Status.PRETAGGED)
        article = built.article
        alice, bob = self.users["analyst"], self.users["other_analyst"]
        for analyst in (alice, bob):
            review.assign(Article.objects.filter(pk=article.pk), analyst, by=self.users["reviewer"],
                          independent=True)
        layer = Mention.every_layer.filter(article=article)
        layer.filter(annotator=alice).update(status=Mention.Status.CONFIRMED, decided_by=alice, version=2)
        layer.filter(annotator=alice, label__name="FIGURE").update(status=Mention.Status.REJECTED)
        layer.filter(annotator=bob, label__name="PLACE").update(
            label=self.labels["GROUP"], status=Mention.Status.CONFIRMED, decided_by=bob, version=2)
        Assignment.objects.filter(article=article).update(submitted_at=timezone.now())
        Article.objects.filter(pk=article.pk).update(status=Article.Status.SUBMITTED)
        article.status = Article.Status.SUBMITTED
        return built


# Requests

Request = Callable[[Client], HttpResponse]


def get(url: str, *, htmx: bool = False, **params) -> Request:
    return lambda client: client.get(url, params, headers=HTMX if htmx else {})


def post(url: str, data: dict | None = None, *, htmx: bool = True) -> Request:
    def request(client: Client) -> HttpResponse:
        return client.post(url, data or {}, headers={**(HTMX if htmx else {}),
                                                     "Idempotency-Key": uuid.uuid4().hex})
    return request


def url(name: str, *args) -> str:
    return reverse(name if ":" in name else f"annotation:{name}", args=args)


@dataclass
class Probe:
    """What one size of a case requests: `before` unmeasured, in order, then `measured`. With
    `warm`, the measured request is also made once unmeasured before the first size's."""

    measured: Request
    before: list[Request] = field(default_factory=list)
    status: int = 200
    warm: bool = False
    done: Callable[[], bool] | None = None  # whether the measured decision was taken


def page(request: Request, status: int = 200) -> Probe:
    """A page changes nothing: the small world's request warms whatever the process keeps."""
    return Probe(request, status=status, warm=True)


def decision(first: Request, measured: Request, status: int = 200,
             done: Callable[[], bool] | None = None) -> Probe:
    """`done` tells a decision taken from one refused, where both answer alike (a redirect)."""
    return Probe(measured, [first], status, done=done)


def status_of(built: Built) -> str:
    return Article.objects.values_list("status", flat=True).get(pk=built.article.pk)


# The cases: name → (view's URL name, role, what grows, the sizes, setup(world, size) → Probe).

@dataclass
class Case:
    name: str
    view: str
    role: str | None
    grows: str
    sizes: tuple[int, int]
    setup: Callable[[World, int], Probe]
    also: tuple[str, ...] = ()  # users the world needs besides the role's and the analyst

    @property
    def users(self) -> set[str]:
        return {self.role or "analyst", "analyst", *self.also}


CASES: dict[str, Case] = {}


def case(name: str, view: str, role: str | None, grows: str, sizes: tuple[int, int], *,
         also: tuple[str, ...] = ()):
    def register(setup):
        CASES[name] = Case(name, view, role, grows, sizes, setup, also)
        return setup
    return register


# Pages

@case("home", "home", "analyst", "articles", ARTICLES)
def _(world, n):
    world.build(n, 2)
    return page(get("/"), 302)


@case("login", "login", None, "articles", ARTICLES)
def _(world, n):
    world.build(n, 2)
    return page(get(reverse("login")))


@case("service_worker", "service_worker", None, "articles", ARTICLES)
def _(world, n):
    world.build(n, 2)
    return page(get(reverse("service_worker")))


@case("label_css", "annotation:label_css", None, "articles", ARTICLES)
def _(world, n):
    world.build(n, 2)
    return page(get(url("label_css")))


def _article_list(world, n):
    built = world.build(n, 3, sources=world.sources(n))
    Assignment.objects.bulk_create(Assignment(article=b.article, analyst=world.analyst) for b in built[::2])
    Assignment.objects.bulk_create(Assignment(article=b.article, analyst=world.users["other_analyst"])
                                   for b in built[::3])
    return page(get(url("corpus:article_list")))


case("article_list", "corpus:article_list", "analyst", "articles", ARTICLES,
     also=("other_analyst",))(_article_list)
case("article_list (reviewer)", "corpus:article_list", "reviewer", "articles", ARTICLES,
     also=("other_analyst",))(_article_list)


@case("search (query)", "corpus:search", "analyst", "matching articles", ARTICLES)
def _(world, n):
    world.build(n, 3, sources=world.sources(n), searchable=True)
    return page(get(url("corpus:search"), q="attackers Sirte"))


@case("search (query, label, status, entity)", "corpus:search", "analyst", "matching articles", ARTICLES)
def _(world, n):
    world.build(n, 3, sources=world.sources(n), searchable=True)
    entity = world.entity("Essid", "ACTOR")
    return page(get(url("corpus:search"), q="attackers", label="ACTOR", status="in_progress",
                    entity=entity.pk))


@case("article_detail", "annotation:article_detail", "analyst", "mentions and claims", SENTENCES)
def _(world, n):
    built = world.article(n, sources=world.sources(1))
    return page(get(built.article.get_absolute_url()))


@case("article_detail (returned, with comments)", "annotation:article_detail", "analyst",
      "mentions, claims and comments on each", SENTENCES, also=("reviewer",))
def _(world, n):
    built = world.submitted(world.article(n), status=Article.Status.RETURNED)
    reviewer = world.users["reviewer"]
    ReviewComment.objects.bulk_create(
        [ReviewComment(article=built.article, author=reviewer, text="Whole article?")]
        + [ReviewComment(article=built.article, author=reviewer, text="Check", mention=line.sirte,
                         claim=line.claim) for line in built.lines])
    return page(get(built.article.get_absolute_url()))


@case("article_detail (private layer)", "annotation:article_detail", "analyst", "mentions and claims",
      SENTENCES)
def _(world, n):
    built = world.article(n, status=Article.Status.PRETAGGED)
    layers.seed(Assignment.objects.create(article=built.article, analyst=world.analyst, independent=True))
    return page(get(built.article.get_absolute_url()))


@case("article_history", "annotation:article_history", "analyst", "events", EVENTS, also=("other_analyst",))
def _(world, n):
    built = world.article(SENTENCES[0])
    world.history(built, n)
    return page(get(url("article_history", built.article.pk)))


@case("article_history (filtered)", "annotation:article_history", "reviewer", "events", EVENTS,
      also=("other_analyst",))
def _(world, n):
    built = world.article(SENTENCES[0])
    world.history(built, n)
    return page(get(url("article_history", built.article.pk), person=world.analyst.pk, kind="mentions"))


def _entities(world, n):
    built = world.article(n, fresh=0)
    actor = world.labels["ACTOR"]
    names = [f"Person {next(_serial)}" for _ in range(n)]
    entities = Entity.objects.bulk_create(
        Entity(name=name, label=actor, aliases=[f"Alias {name}"],
               keys=sorted({normalise_name(name), normalise_name(f"Alias {name}")})) for name in names)
    for line, entity in zip(built.lines, entities):
        line.essid.entity = entity
    Mention.objects.bulk_update([line.essid for line in built.lines], ["entity"])


@case("entity_list", "annotation:entity_list", "analyst", "entities", ARTICLES)
def _(world, n):
    _entities(world, n)
    return page(get(url("entity_list")))


@case("entity_list (search)", "annotation:entity_list", "analyst", "matching entities", ARTICLES)
def _(world, n):
    _entities(world, n)
    return page(get(url("entity_list"), q="person", label="ACTOR"))


def _entity_page(world, n):
    entity = world.entity(f"Person {next(_serial)}", "ACTOR")
    built = world.build(3, n, fresh=0)
    Mention.objects.filter(article__in=[b.article for b in built], label__name="ACTOR").update(
        entity=entity)
    return page(get(entity.get_absolute_url()))


case("entity_detail", "annotation:entity_detail", "analyst", "the entity's mentions and claims",
     SENTENCES)(_entity_page)
case("entity_detail (admin)", "annotation:entity_detail", "admin", "the entity's mentions and claims",
     SENTENCES)(_entity_page)


def _linked_claim(world, n) -> Built:
    """An article whose first claim is linked to a claim in each of `n` other articles, each from
    an outlet of its own."""
    built = world.article(SENTENCES[0], sources=world.sources(1))
    others = world.build(n, 1, sources=world.sources(n))
    world.link(built.lines[0].claim, [other.lines[0].claim for other in others])
    return built


@case("claim_detail", "annotation:claim_detail", "analyst", "linked claims", LINKS)
def _(world, n):
    return page(get(_linked_claim(world, n).lines[0].claim.get_absolute_url()))


@case("claim_detail (claims in its article)", "annotation:claim_detail", "analyst",
      "mentions and claims of its article", SENTENCES)
def _(world, n):
    return page(get(world.article(n, sources=world.sources(1)).lines[2].claim.get_absolute_url()))


@case("claim_links", "annotation:claim_links", "analyst", "linked claims", LINKS)
def _(world, n):
    return page(get(url("claim_links", _linked_claim(world, n).lines[0].claim.pk), htmx=True))


@case("figure_list", "annotation:figure_list", "analyst", "claims with figures, in articles", ARTICLES)
def _(world, n):
    world.build(n, 3, sources=world.sources(n))
    return page(get(url("figure_list")))


@case("figure_list (search, entity)", "annotation:figure_list", "analyst",
      "claims with figures, in articles", ARTICLES)
def _(world, n):
    world.build(n, 3, sources=world.sources(n), fresh=0)
    return page(get(url("figure_list"), q="attackers", entity=world.entity("Essid", "ACTOR").pk))


@case("review_list", "annotation:review_list", "reviewer", "submitted articles", ARTICLES)
def _(world, n):
    for built in world.build(n, 2, sources=world.sources(n)):
        world.submitted(built)
    return page(get(url("review_list")))


@case("article_review", "annotation:article_review", "reviewer", "mentions, claims and comments",
      SENTENCES)
def _(world, n):
    built = world.submitted(world.article(n))
    ReviewComment.objects.bulk_create(
        ReviewComment(article=built.article, author=world.users["reviewer"], text="Check",
                      mention=line.sirte, claim=line.claim) for line in built.lines)
    return page(get(url("article_review", built.article.pk), all="1"))


@case("article_review (independent layers)", "annotation:article_review", "reviewer",
      "mentions and differences between the layers", SENTENCES, also=("other_analyst",))
def _(world, n):
    return page(get(url("article_review", world.independent(n).article.pk)))


@case("my_articles", "annotation:my_articles", "analyst", "assigned articles", ARTICLES)
def _(world, n):
    built = world.build(n, 2, sources=world.sources(n))
    Article.objects.filter(pk__in=[b.article.pk for b in built[::3]]).update(status=Article.Status.RETURNED)
    Assignment.objects.bulk_create(Assignment(article=b.article, analyst=world.analyst) for b in built)
    return page(get(url("my_articles")))


@case("export_page", "annotation:export_page", "admin", "articles", ARTICLES)
def _(world, n):
    world.build(n, 2)
    return page(get(url("export_page")))


def _download(format_name):
    def setup(world, n):
        built = world.build(n, 2, sources=world.sources(n), fresh=0)
        world.link_pairs([(one.lines[1].claim, other.lines[1].claim)
                          for one, other in zip(built, built[1:])])
        return page(get(url("download_export"), format=format_name, status="all"))
    return setup


for _name in FORMATS:
    case(f"download_export ({_name})", "annotation:download_export", "admin", "articles",
         ARTICLES)(_download(_name))


@case("import_list", "corpus:import_list", "admin", "batches", ARTICLES)
def _(world, n):
    ImportBatch.objects.bulk_create(
        ImportBatch(created_by=world.users["admin"], status=ImportBatch.Status.READY, stored=10,
                    files=["a.jsonl"]) for _ in range(n))
    return page(get(url("corpus:import_list")))


def _batch(world, n, *, status=ImportBatch.Status.STORED) -> ImportBatch:
    problems = [{"file": "news.jsonl", "row": row + 1, "error": "not UTF-8"} for row in range(n)]
    batch = ImportBatch.objects.create(created_by=world.users["admin"], status=status, rows=2 * n,
                                       stored=n, failed=n, files=["news.jsonl"], errors=problems,
                                       warnings=problems)
    world.build(n, 1, batch=batch)
    return batch


@case("batch_detail", "corpus:batch_detail", "admin", "the batch's articles and problems", ARTICLES)
def _(world, n):
    return page(get(_batch(world, n).get_absolute_url()))


@case("batch_detail (htmx progress)", "corpus:batch_detail", "admin", "the batch's articles and problems",
      ARTICLES)
def _(world, n):
    return page(get(_batch(world, n).get_absolute_url(), htmx=True))


# Decisions on mentions: the unmeasured one on a small article, the measured one on the same
# mention of an article of the size measured.

def on_mentions(name: str, view: str, pick: Callable[[Line], Mention], data: dict | None = None,
                prepare: Callable[[World, Built], None] | None = None):
    def setup(world, n):
        pair = world.pair(n)
        for built in pair if prepare else ():
            prepare(world, built)
        return decision(*(post(url(view, pick(built.lines[0]).pk), {"version": 1, **(data or {})})
                          for built in pair))
    case(name, f"annotation:{view}", "analyst", "mentions and claims", SENTENCES)(setup)


def _analysts_own(world, built):
    Mention.objects.filter(pk__in=[line.essid.pk for line in built.lines[:2]]).update(
        origin=Mention.Origin.ANALYST, status=Mention.Status.CONFIRMED)


def _linked_pending(world, built):
    Mention.objects.filter(pk__in=[line.essid.pk for line in built.lines[:2]]).update(
        status=Mention.Status.CONFIRMED, entity=world.entity("Habib Essid", "ACTOR"),
        entity_accepted=False, link_reason="surname of Habib Essid")


on_mentions("confirm_mention", "confirm_mention", lambda line: line.sirte)
on_mentions("reject_mention", "reject_mention", lambda line: line.sirte)
on_mentions("relabel_mention", "relabel_mention", lambda line: line.sirte, {"label": "GROUP"})
on_mentions("resize_mention", "resize_mention", lambda line: line.sirte, {"move": "grow-start"})
on_mentions("delete_mention", "delete_mention", lambda line: line.essid, prepare=_analysts_own)
on_mentions("accept_link", "accept_link", lambda line: line.essid, prepare=_linked_pending)
on_mentions("clear_link", "clear_link", lambda line: line.essid, prepare=_linked_pending)
on_mentions("change_link", "change_link", lambda line: line.essid, {"name": "Habib Essid"},
            prepare=_linked_pending)


@case("add_mention", "annotation:add_mention", "analyst", "mentions and claims", SENTENCES)
def _(world, n):
    return decision(*(post(url("add_mention", built.article.pk),
                           dict(zip(("start", "end"), built.lines[0].span("died"))) | {"label": "GROUP"})
                      for built in world.pair(n)))


@case("undo_decision (mention)", "annotation:undo_decision", "analyst", "mentions and claims", SENTENCES)
def _(world, n):
    built = world.article(n)
    undo = post(url("undo_decision", built.article.pk))
    first, second = (post(url("confirm_mention", line.sirte.pk), {"version": 1})
                     for line in built.lines[:2])
    return Probe(undo, [first, undo, second])


@case("undo_decision (claim)", "annotation:undo_decision", "analyst", "mentions and claims", SENTENCES)
def _(world, n):
    built = world.article(n)
    undo = post(url("undo_decision", built.article.pk))
    first, second = (post(url("confirm_claim", line.claim.pk), {"version": 1}) for line in built.lines[:2])
    return Probe(undo, [first, undo, second])


@case("confirm_all (two seen)", "annotation:confirm_all", "analyst", "mentions and claims", SENTENCES)
def _(world, n):
    built = world.article(n)
    confirm_all = url("confirm_all", built.article.pk)
    return decision(*(post(confirm_all, {"label": label, "seen": [f"{getattr(line, field).pk}:1"
                                                                  for line in built.lines[:2]]})
                      for label, field in (("FIGURE", "figure"), ("PLACE", "sirte"))))


@case("confirm_all (every suggestion)", "annotation:confirm_all", "analyst",
      "the suggestions confirmed", SENTENCES)
def _(world, n):
    built = world.article(n, fresh=n)
    confirm_all = url("confirm_all", built.article.pk)
    return decision(post(confirm_all, {"label": "FIGURE", "seen": [f"{line.figure.pk}:1"
                                                                   for line in built.lines[:2]]}),
                    post(confirm_all, {"label": "PLACE", "seen": [f"{line.sirte.pk}:1"
                                                                  for line in built.lines]}))


@case("submit_article", "annotation:submit_article", "analyst", "mentions and claims", SENTENCES)
def _(world, n):
    pair = world.pair(n)
    return decision(*(post(url("submit_article", built.article.pk), {"even_if_undecided": "1"})
                      for built in pair), done=lambda: status_of(pair[1]) == Article.Status.SUBMITTED)


@case("submit_article (asks first)", "annotation:submit_article", "analyst", "mentions and claims",
      SENTENCES)
def _(world, n):
    return page(post(url("submit_article", world.article(n).article.pk)))


# Decisions on claims, likewise.

def on_claims(name: str, view: str, data: Callable[[Line], dict] = lambda line: {},
              prepare: Callable[[World, Built], None] | None = None):
    def setup(world, n):
        pair = world.pair(n)
        for built in pair if prepare else ():
            prepare(world, built)
        return decision(*(post(url(view, built.lines[0].claim.pk), {"version": 1, **data(built.lines[0])})
                          for built in pair))
    case(name, f"annotation:{view}", "analyst", "mentions and claims", SENTENCES)(setup)


def _claims_own(world, built):
    Claim.objects.filter(pk__in=[line.claim.pk for line in built.lines[:2]]).update(
        origin=Claim.Origin.ANALYST)


on_claims("confirm_claim", "confirm_claim")
on_claims("reject_claim", "reject_claim")
on_claims("resize_claim", "resize_claim", lambda line: {"move": "shrink-start"})
on_claims("span_claim", "span_claim",
          lambda line: dict(zip(("start", "end"), line.span(line.text.split(" ", 3)[3].rstrip(". ")))))
on_claims("speaker_claim", "speaker_claim", lambda line: dict(zip(("start", "end"), line.span("Essid"))))
on_claims("cue_claim", "cue_claim", lambda line: {"cue": "told reporters"})
on_claims("grade_claim", "grade_claim", lambda line: {"credibility": "3"})
on_claims("delete_claim", "delete_claim", prepare=_claims_own)


@case("link_claim", "annotation:link_claim", "analyst", "mentions and claims", SENTENCES)
def _(world, n):
    others = world.build(2, 1, sources=world.sources(2))
    return decision(*(post(url("link_claim", built.lines[0].claim.pk), {
        "version": 1, "other": other.lines[0].claim.pk, "relation": "corroborates"})
        for built, other in zip(world.pair(n), others)))


@case("unlink_claim", "annotation:unlink_claim", "analyst", "mentions and claims", SENTENCES)
def _(world, n):
    others = world.build(2, 1, sources=world.sources(2))
    links = [world.link(built.lines[0].claim, [other.lines[0].claim])[0]
             for built, other in zip(world.pair(n), others)]
    return decision(*(post(url("unlink_claim", link.claim_id), {"version": 1, "link": link.pk})
                      for link in links))


@case("add_claim", "annotation:add_claim", "analyst", "mentions and claims", SENTENCES)
def _(world, n):
    return decision(*(post(url("add_claim", built.article.pk),
                           dict(zip(("start", "end"), built.lines[0].span("Essid said"))))
                      for built in world.pair(n)))


# Grades of speakers and outlets (plain forms, answered with a redirect).

@case("grade_entity", "annotation:grade_entity", "analyst", "the entity's mentions", SENTENCES)
def _(world, n):
    entity = world.entity(f"Person {next(_serial)}", "ACTOR")
    built = world.article(n, fresh=0)
    Mention.objects.filter(article=built.article, label__name="ACTOR").update(entity=entity)
    grade = url("grade_entity", entity.pk)
    return decision(*(post(grade, {"reliability": grade_, "next": entity.get_absolute_url()}, htmx=False)
                      for grade_ in "BC"), status=302,
                    done=lambda: Entity.objects.get(pk=entity.pk).reliability == "C")


@case("grade_source", "annotation:grade_source", "analyst", "the outlet's articles", ARTICLES)
def _(world, n):
    [source] = world.sources(1)
    built = world.build(n, 2, sources=[source])
    grade = url("grade_source", source.pk)
    return decision(*(post(grade, {"reliability": grade_, "next": built[0].article.get_absolute_url()},
                           htmx=False) for grade_ in "BC"), status=302,
                    done=lambda: Source.objects.get(pk=source.pk).reliability == "C")


# Entities (admins, through htmx).

@case("rename_entity", "annotation:rename_entity", "admin", "the entity's mentions", SENTENCES)
def _(world, n):
    serial = next(_serial)
    entity = world.entity(f"Person {serial}", "ACTOR")
    built = world.build(3, n, fresh=0)
    Mention.objects.filter(article__in=[b.article for b in built], label__name="ACTOR").update(
        entity=entity)
    rename = url("rename_entity", entity.pk)
    return decision(*(post(rename, {"name": f"Person {serial} {side}"}) for side in "AB"))


@case("merge_entity", "annotation:merge_entity", "admin", "the merged entity's mentions", SENTENCES)
def _(world, n):
    serial = next(_serial)
    target = world.entity(f"Person {serial}", "ACTOR")
    merged = [world.entity(f"Person {serial} {side}", "ACTOR") for side in "AB"]
    for entity, built in zip(merged, world.pair(n, fresh=0)):
        Mention.objects.filter(article=built.article, label__name="ACTOR").update(entity=entity)
    return decision(*(post(url("merge_entity", entity.pk), {"into": target.name}) for entity in merged))


# Review (reviewers, through plain forms answered with a redirect).

@case("approve_article", "annotation:approve_article", "reviewer", "mentions and claims", SENTENCES)
def _(world, n):
    pair = [world.submitted(built) for built in world.pair(n)]
    return decision(*(post(url("approve_article", built.article.pk), htmx=False) for built in pair),
                    status=302, done=lambda: status_of(pair[1]) == Article.Status.APPROVED)


@case("return_article", "annotation:return_article", "reviewer", "mentions, and comments on each",
      SENTENCES)
def _(world, n):
    pair = [world.submitted(built) for built in world.pair(n)]
    return decision(*(post(url("return_article", built.article.pk), {
        "comment": "Look at the places again.",
        **{f"mention:{m.pk}": "Is this right?" for m in built.mentions},
        f"claim:{built.lines[0].claim.pk}": "Who said it?"}, htmx=False)
        for built in pair), status=302, done=lambda: status_of(pair[1]) == Article.Status.RETURNED)


@case("reopen_article", "annotation:reopen_article", "reviewer", "mentions and claims", SENTENCES)
def _(world, n):
    pair = [world.submitted(built, status=Article.Status.APPROVED) for built in world.pair(n)]
    return decision(*(post(url("reopen_article", built.article.pk), {"reason": "A source was wrong."},
                           htmx=False) for built in pair),
                    status=302, done=lambda: status_of(pair[1]) == Article.Status.RETURNED)


@case("adjudicate_article", "annotation:adjudicate_article", "reviewer",
      "mentions and differences between the layers", SENTENCES, also=("other_analyst",))
def _(world, n):
    requests = []
    for size in (SENTENCES[0], n):
        article = world.independent(size).article
        differences = review.compare(article).differences
        requests.append(post(url("adjudicate_article", article.pk),
                             {f"diff-{k}": "a" if d.a else "b" for k, d in enumerate(differences)},
                             htmx=False))
    return decision(*requests, status=302,
                    done=lambda: article.events.filter(action="article.adjudicate").exists())


def _assign(independent: bool):
    def setup(world, n):
        sets = [world.build(size, 2, status=Article.Status.PRETAGGED) for size in (ARTICLES[0], n)]
        return decision(*(post(url("assign_articles"), {
            "article": [b.article.pk for b in built], "analyst": world.analyst.username,
            **({"independent": "1"} if independent else {})}, htmx=False) for built in sets), status=302,
            done=lambda: Assignment.objects.filter(article__in=[b.article for b in sets[1]],
                                                   analyst=world.analyst).count() == n)
    return setup


case("assign_articles", "annotation:assign_articles", "reviewer", "articles assigned", ARTICLES)(
    _assign(False))
case("assign_articles (independent)", "annotation:assign_articles", "reviewer", "articles assigned",
     ARTICLES)(_assign(True))


# Imports (admins).

@case("import_list (upload)", "corpus:import_list", "admin", "rows of the uploaded file", ARTICLES)
def _(world, n):
    def upload(rows: int) -> Request:
        lines = "".join(f'{{"title": "T{k}", "text": "Essid said {k} attackers died."}}\n'
                        for k in range(rows))
        return lambda client: client.post(
            url("corpus:import_list"), {"files": SimpleUploadedFile("news.jsonl", lines.encode())},
            headers={"Idempotency-Key": uuid.uuid4().hex})
    return decision(upload(ARTICLES[0]), upload(n), status=302)


@case("rerun_batch", "corpus:rerun_batch", "admin", "the batch's articles", ARTICLES)
def _(world, n):
    batches = [_batch(world, size, status=ImportBatch.Status.STORING) for size in (ARTICLES[0], n)]
    return decision(*(post(url("corpus:rerun_batch", batch.pk), htmx=False) for batch in batches),
                    status=302)


@case("logout", "logout", "analyst", "articles", ARTICLES)
def _(world, n):
    world.build(n, 2)

    def log_in_again(client):
        client.force_login(world.analyst)
        return HttpResponse()

    logout = post(reverse("logout"), htmx=False)
    return Probe(logout, [logout, log_in_again], status=302)


# The tests

@pytest.fixture(autouse=True)
def _quick_passwords(settings):
    # The users of conftest.py get a password each: hashed the production way, that takes longer
    # than all the queries of a case.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# The users of tests/conftest.py, by role.
USER_FIXTURES = {"analyst": "analyst", "other_analyst": "other_analyst", "reviewer": "reviewer",
                 "admin": "admin_user"}


class Users(dict):
    def __missing__(self, name):
        raise AssertionError(f"The case uses the user {name!r}: name it in its `also`. (Users are made "
                             "before the worlds, which are rolled back.)")


def measure(client: Client, probe: Probe, case: Case, *, first: bool) -> int:
    for request in [probe.measured] * (probe.warm and first) + probe.before:
        response = request(client)
        assert response.status_code < 400, (case.name, "before", response.status_code,
                                            response.content[:500])
    with CaptureQueriesContext(connection) as queries:
        response = probe.measured(client)
        if response.streaming:
            b"".join(response.streaming_content)  # a download's queries run as it streams
    assert response.status_code == probe.status, (case.name, response.status_code, response.content[:500])
    assert probe.done is None or probe.done(), (case.name, "the measured decision was refused")
    return len(queries)


def _param(name: str):
    marks = ([pytest.mark.xfail(strict=True, reason=f"N+1: {N_PLUS_ONE[name]}")]
             if name in N_PLUS_ONE else [])
    return pytest.param(CASES[name], id=name, marks=marks)


@pytest.mark.parametrize("case", [_param(name) for name in CASES])
def test_queries_do_not_grow_and_stay_under_the_ceiling(case, request, db):
    users = Users({name: request.getfixturevalue(USER_FIXTURES[name]) for name in case.users})
    counts = []
    for size in case.sizes:
        # Each size in a world of its own: what one size made is gone before the other is built.
        with transaction.atomic():
            client = Client()
            if case.role:
                client.force_login(users[case.role])
            counts.append(measure(client, case.setup(World(users), size), case,
                                  first=size == case.sizes[0]))
            transaction.set_rollback(True)
    (small, large), (few, many) = counts, case.sizes
    print(f"{case.name}: {small} queries with {few} ({case.grows}), {large} with {many}; "
          f"ceiling {CEILINGS[case.name]}")  # shown by `pytest -rP`
    assert small == large, (f"{case.name}: {small} queries with {few} ({case.grows}), {large} with "
                            f"{many}: the count grows with the size (an N+1)")
    assert large <= CEILINGS[case.name], (f"{case.name}: {small} queries with {few} ({case.grows}) and "
                                          f"{large} with {many}, over its ceiling of "
                                          f"{CEILINGS[case.name]} (tests/test_query_counts.py)")


def test_every_view_is_measured():
    """A view added to the URL confs without a case here fails: every page and decision is
    guarded."""
    assert {name for name, _ in app_urls()} == {case.view for case in CASES.values()}


def test_every_case_has_a_ceiling_and_every_ceiling_a_case():
    assert set(CEILINGS) == set(CASES)
    assert set(N_PLUS_ONE) <= set(CASES)
