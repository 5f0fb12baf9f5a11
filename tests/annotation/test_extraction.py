"""Re-running the pre-tagger replaces only untouched suggestions (idempotency)."""

from annotation import decisions, extraction
from annotation.models import Mention


def test_rerun_keeps_every_decided_mention_and_adds_no_duplicates(seed_articles, nlp, analyst):
    article = seed_articles[2]
    extraction.pretag(article, nlp=nlp)
    first = list(article.mentions.order_by("start"))
    confirmed, rejected = first[0], first[1]
    decisions.confirm(confirmed.pk, version=confirmed.version, by=analyst)
    decisions.reject(rejected.pk, version=rejected.version, by=analyst)

    extraction.pretag(article, nlp=nlp)

    again = list(article.mentions.order_by("start"))
    assert len(again) == len(first)
    assert Mention.objects.get(pk=confirmed.pk).status == "confirmed"
    assert Mention.objects.get(pk=rejected.pk).status == "rejected"
    spans = [(m.start, m.end) for m in again]
    assert len(spans) == len(set(spans))


def test_rejected_suggestion_is_not_suggested_again(seed_articles, nlp, analyst):
    article = seed_articles[0]
    extraction.pretag(article, nlp=nlp)
    mention = article.mentions.first()
    decisions.reject(mention.pk, version=mention.version, by=analyst)
    extraction.pretag(article, nlp=nlp)
    assert article.mentions.filter(start=mention.start, end=mention.end).count() == 1


def test_analyst_mention_survives_a_retag_and_blocks_overlapping_suggestions(seed_articles, nlp, analyst):
    article = seed_articles[2]
    extraction.pretag(article, nlp=nlp)
    essid = article.mentions.get(text="Habib Essid")
    essid.delete()
    added = Mention.objects.create(article=article, start=essid.start - len("Minister "), end=essid.end,
                                   text=article.text[essid.start - len("Minister "):essid.end],
                                   label=essid.label, origin=Mention.Origin.ANALYST,
                                   status=Mention.Status.CONFIRMED, decided_by=analyst)
    extraction.pretag(article, nlp=nlp)
    assert Mention.objects.filter(pk=added.pk).exists()
    assert not article.mentions.filter(text="Habib Essid").exists()


def test_retag_does_not_move_an_article_in_progress_back(seed_articles, nlp, analyst):
    article = seed_articles[1]
    extraction.pretag(article, nlp=nlp)
    mention = article.mentions.first()
    decisions.confirm(mention.pk, version=mention.version, by=analyst)
    extraction.pretag(article, nlp=nlp)
    article.refresh_from_db()
    assert article.status == "in_progress"


def test_pretagging_suggests_claims_with_their_speakers_mention_and_a_retag_keeps_decisions(
        seed_articles, nlp, analyst):
    from annotation import claim_decisions
    from annotation.models import Claim

    article = seed_articles[2]
    extraction.pretag(article, nlp=nlp)
    claims = list(article.claims.order_by("start"))
    assert claims and all(c.origin == "model" and c.status == "suggested" for c in claims)
    assert all(article.text[c.start:c.end] == c.text for c in claims)
    spoken = [c for c in claims if c.speaker_mention_id]
    assert spoken and all(c.speaker_mention.start < c.speaker_end and c.speaker_start < c.speaker_mention.end
                          for c in spoken)
    kept, gone = claims[0], claims[1]
    claim_decisions.confirm(kept.pk, version=1, by=analyst)
    claim_decisions.reject(gone.pk, version=1, by=analyst)

    extraction.pretag_many([article], nlp=nlp)

    again = list(article.claims.order_by("start"))
    assert len(again) == len(claims)  # the same claims, no duplicates
    assert Claim.objects.get(pk=kept.pk).status == "confirmed"
    assert Claim.objects.get(pk=gone.pk).status == "rejected"  # and not suggested again
    assert not [c for c in again if c.pk != gone.pk and c.start < gone.end and gone.start < c.end]
    # Speakers' mentions were replaced with the suggestions: the claims point at the new ones.
    assert all(c.speaker_mention is None or c.speaker_mention.pk in
               set(article.mentions.values_list("pk", flat=True)) for c in again)
    assert sum(1 for c in again if c.speaker_mention_id) >= len(spoken) - 1


# One transaction per chunk of articles (store_chunk)

def test_a_chunk_is_stored_whole_or_not_at_all(db):
    import pytest
    from django.db import IntegrityError

    from annotation.models import Event, Label
    from annotation.nlp import Analysis, FoundEntity
    from corpus.models import Article
    from tests.factories import ArticleFactory

    labels = {label.name: label for label in Label.objects.all()}
    good = ArticleFactory(text="Habib Essid visited Sirte on Monday.")
    bad = ArticleFactory(text="Prime Minister Habib Essid spoke.")
    # Two suggestions over the same characters: the database refuses the second article's.
    overlapping = [FoundEntity("Habib Essid", "ACTOR", 15, 26, "PERSON"),
                   FoundEntity("Essid", "ACTOR", 21, 26, "PERSON")]
    with pytest.raises(IntegrityError):
        extraction.store_chunk([(good, Analysis([FoundEntity("Sirte", "PLACE", 20, 25, "GPE")], [])),
                                (bad, Analysis(overlapping, []))], labels)
    for article in (good, bad):
        article.refresh_from_db()
        assert article.status == Article.Status.NEW
        assert not article.mentions.exists()
    assert not Event.objects.exists()


def test_a_message_delivered_twice_tags_its_articles_once(seed_articles):
    from annotation.models import Claim, Event, Mention
    from annotation.tasks import pretag_articles

    ids = [article.pk for article in seed_articles]
    pretag_articles.fn(ids)
    first = (set(Mention.objects.values_list("pk", flat=True)),
             set(Claim.objects.values_list("pk", flat=True)))

    pretag_articles.fn(ids)

    assert (set(Mention.objects.values_list("pk", flat=True)),
            set(Claim.objects.values_list("pk", flat=True))) == first
    assert sorted(Event.objects.filter(action="article.pretag").values_list("subject_id", flat=True)) == ids


def test_fresh_articles_cost_the_same_statements_whatever_their_number(db, nlp):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import ArticleFactory

    def statements(count: int) -> int:
        articles = [ArticleFactory(text=f"Habib Essid said {count * 10 + n} people left Sirte.")
                    for n in range(count)]
        with CaptureQueriesContext(connection) as queries:
            extraction.pretag_many(articles, nlp=nlp)
        assert all(article.mentions.exists() for article in articles)
        return len(queries)

    assert statements(1) == statements(5)


def test_a_chunk_mixes_fresh_articles_and_retags(seed_articles, nlp, analyst):
    from annotation.models import Event

    done, fresh = seed_articles[2], seed_articles[3]
    extraction.pretag(done, nlp=nlp)
    kept = done.mentions.order_by("start").first()
    decisions.confirm(kept.pk, version=kept.version, by=analyst)

    extraction.pretag_many([done, fresh], nlp=nlp)

    assert Mention.objects.get(pk=kept.pk).status == "confirmed"
    assert fresh.mentions.filter(origin="model").exists() and fresh.claims.exists()
    events = {event.subject_id: event for event in Event.objects.filter(action="article.pretag")}
    assert events[fresh.pk].before == {"status": "new"}
    assert events[fresh.pk].after == {"status": "pretagged", "suggestions": fresh.mentions.count(),
                                      "kept": 0, "claims": fresh.claims.count()}
    assert Event.objects.filter(subject_id=done.pk, action="article.pretag").latest("pk").after["kept"] == 1


# Mentions and claims are written with COPY (config.bulk.copy_insert), not bulk_create

def _stored(articles) -> dict:
    """What pre-tagging stored, without ids and times: mentions, claims (with their speaker's
    mention as a span) and Events."""
    from annotation.models import Claim, Event

    ids = [article.pk for article in articles]
    fields = [f.attname for f in Mention._meta.concrete_fields if f.attname not in ("id", "created_at")]
    spans = dict(Mention.objects.filter(article_id__in=ids).values_list("pk", "start"))
    claims = [{**row, "speaker_mention_id": spans.get(row["speaker_mention_id"])}
              for row in Claim.objects.filter(article_id__in=ids).order_by("article", "start")
              .values(*[f.attname for f in Claim._meta.concrete_fields
                        if f.attname not in ("id", "created_at")])]
    return {"mentions": list(Mention.objects.filter(article_id__in=ids).order_by("article", "start")
                             .values(*fields)),
            "claims": claims,
            "events": list(Event.objects.filter(article_id__in=ids).order_by("article", "pk")
                           .values_list("article_id", "action", "subject_type", "subject_id",
                                        "before", "after"))}


def test_fresh_articles_store_by_copy_exactly_what_bulk_create_stored(seed_articles, nlp, monkeypatch):
    from annotation.models import Claim, Event
    from corpus.models import Article

    extraction.pretag_many(seed_articles, nlp=nlp)
    copied = _stored(seed_articles)
    assert copied["mentions"] and any(claim["speaker_mention_id"] for claim in copied["claims"])

    Claim.objects.all().delete()
    Mention.objects.all().delete()
    Event.objects.all().delete()
    Article.objects.update(status=Article.Status.NEW)
    monkeypatch.setattr(extraction, "copy_insert", lambda model, rows: model.objects.bulk_create(rows))
    extraction.pretag_many(list(Article.objects.order_by("pk")), nlp=nlp)

    assert _stored(seed_articles) == copied


def test_copy_writes_awkward_text_and_every_field_as_bulk_create_does(db):
    from annotation.models import Claim, Credibility, Label
    from tests.factories import ArticleFactory

    article = ArticleFactory(text="x" * 200)
    label = Label.objects.get(name="ACTOR")

    def mentions() -> list[Mention]:
        return [Mention(article=article, start=0, end=9, text="tab\there", label=label,
                        model_label="PERSON", origin=Mention.Origin.PATTERN),
                Mention(article=article, start=10, end=40, text='back\\slash "quoted"\nnew line\r\\N',
                        label=label, origin=Mention.Origin.MODEL),
                Mention(article=article, start=50, end=62, text="Ṣalāḥ al-Dīn — «ok» 🙂", label=label,
                        model_label="", origin="model")]

    def claims(speaker: Mention) -> list[Claim]:
        return [Claim(article=article, start=0, end=45, text="a\tb\\N\n“c”", speaker="O'Neil\\",
                      speaker_start=0, speaker_end=9, speaker_mention=speaker, cue="said",
                      direct=True, origin=Claim.Origin.MODEL, credibility=Credibility(2)),
                Claim(article=article, start=50, end=60, text="", speaker_start=None)]

    copied = mentions()
    extraction.copy_insert(Mention, copied)
    extraction.copy_insert(Claim, claims(copied[0]))
    assert all(mention.pk and not mention._state.adding for mention in copied)
    assert [Mention.objects.get(pk=mention.pk).text for mention in copied] == [m.text for m in mentions()]
    by_copy = _stored([article])
    assert by_copy["claims"][0]["speaker_mention_id"] == 0  # the mention at 0, by its start
    assert all(row.created_at for row in [*Mention.objects.all(), *Claim.objects.all()])

    Claim.objects.all().delete()
    Mention.objects.all().delete()
    created = Mention.objects.bulk_create(mentions())
    Claim.objects.bulk_create(claims(created[0]))
    assert _stored([article]) == by_copy
