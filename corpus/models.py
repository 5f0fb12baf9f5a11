from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector, SearchVectorField
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Concat

from config.links import url_for
from corpus import text as article_text


class SourceQuerySet(models.QuerySet):
    def get_by_natural_key(self, name: str) -> "Source":
        return self.get(name=name)


class Source(models.Model):
    """A publisher or outlet, graded on the Admiralty code's reliability scale."""

    class Reliability(models.TextChoices):
        A = "A", "A: completely reliable"
        B = "B", "B: usually reliable"
        C = "C", "C: fairly reliable"
        D = "D", "D: not usually reliable"
        E = "E", "E: unreliable"
        F = "F", "F: reliability cannot be judged"

    name = models.CharField(max_length=200, unique=True)
    url = models.URLField(blank=True)
    reliability = models.CharField(max_length=1, choices=Reliability, default=Reliability.F)
    # Who graded it last, and when (every grading is also an Event).
    graded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    graded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SourceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def natural_key(self) -> tuple[str]:
        return (self.name,)


class ImportBatchQuerySet(models.QuerySet):
    def unfinished(self) -> "ImportBatchQuerySet":
        return self.filter(status__in=[ImportBatch.Status.PENDING, ImportBatch.Status.STORING,
                                       ImportBatch.Status.STORED])


class ImportBatch(models.Model):
    """One import of one or more files, processed in the background: pending (waiting for a
    worker) → storing → stored (the articles are in, pre-tagging runs) → ready; or failed when
    nothing could be stored. Counts and per-row errors say what came of every row."""

    class Status(models.TextChoices):
        PENDING = "pending", "waiting for a worker"
        STORING = "storing", "storing"
        STORED = "stored", "pre-tagging"
        READY = "ready", "ready"
        FAILED = "failed", "failed"

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="import_batches")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    files = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    # The rows' spans are decisions already taken (an annotated corpus): stored as confirmed.
    confirmed = models.BooleanField(default=False)
    rows = models.PositiveIntegerField(default=0, help_text="rows read so far, good and bad")
    stored = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # One entry a bad row or file: {"file": ..., "row": ... or null, "error": ...}.
    errors = models.JSONField(default=list, blank=True)
    # Things that did not stop a row (a pre-annotated span with an unknown label), same shape.
    warnings = models.JSONField(default=list, blank=True)

    objects = ImportBatchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.stored} stored, {self.duplicates} duplicate, {self.failed} failed)"

    def get_absolute_url(self) -> str:
        return url_for("corpus:batch_detail", self.pk)

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.READY, self.Status.FAILED)


class ImportFile(models.Model):
    """An uploaded file, kept in the database so that a worker on any machine can read it and a
    batch can be run again after a worker died in the middle of it."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="uploads")
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content = models.BinaryField()

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


def search_document() -> SearchVector:
    """to_tsvector('english', title || ' ' || text): what `Article.search` holds."""
    return SearchVector(Concat("title", Value(" "), "text", output_field=models.TextField()),
                        config="english")


def search_query(q: str) -> SearchQuery:
    """A web-search style query ("quoted phrase", or, -word), in the configuration `Article.search`
    is made with."""
    return SearchQuery(q, search_type="websearch", config="english")


SEARCH_INDEX = "article_search"


def flush_search_index() -> int:
    """Move the full-text index's pending entries into the index proper; returns the pages moved.

    A GIN index takes new rows into a pending list first (fastupdate), which an import of
    thousands of articles makes long; the planner counts it, and then prefers reading every
    article to the index: a search matching one article of 10,000 took 27 ms instead of 4. VACUUM
    would merge it later; an import does it once its batch is ready (importing.mark_ready), in
    tens of milliseconds for 10,000 articles."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [SEARCH_INDEX])
        return cursor.fetchone()[0]


class ArticleQuerySet(models.QuerySet):
    def search(self, q: str) -> "ArticleQuerySet":
        """Articles matching a web-search style query, in no particular order (the default one
        would have PostgreSQL walk the creation-order index instead of the full-text one)."""
        return self.filter(search=search_query(q)).order_by()

    def best_first(self, q: str) -> "ArticleQuerySet":
        """In order of how well they match the query. Ranking reads every article it is given:
        give it few (corpus.views.search ranks at most RANKED_AT_MOST)."""
        return self.annotate(rank=SearchRank(F("search"), search_query(q))).order_by("-rank", "pk")

    def index_for_search(self) -> int:
        """Fill the full-text document of these articles where it is missing. Imports leave it
        to pre-tagging (extraction.pretag_many): computing it takes longer than storing."""
        return self.filter(search__isnull=True).update(search=search_document())

    def untagged(self) -> "ArticleQuerySet":
        return self.filter(status=Article.Status.NEW)

    def with_source(self) -> "ArticleQuerySet":
        # The search document is for PostgreSQL only: never worth carrying to Python.
        return self.select_related("source").defer("search")

    def get_by_natural_key(self, text_hash: str) -> "Article":
        return self.get(text_hash=text_hash)


class Article(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "new"
        PRETAGGED = "pretagged", "pre-tagged"
        IN_PROGRESS = "in_progress", "in progress"
        SUBMITTED = "submitted", "submitted"
        APPROVED = "approved", "approved"
        RETURNED = "returned", "returned"

    title = models.CharField(max_length=500)
    byline = models.CharField(max_length=300, blank=True)
    published = models.DateField(null=True, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="articles")
    # Never changes once stored: mention offsets are character offsets into it.
    text = models.TextField()
    text_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The article body inside the page text; outside it is boilerplate that is never pre-tagged.
    body_start = models.PositiveIntegerField(default=0, editable=False)
    body_end = models.PositiveIntegerField(default=0, editable=False)
    status = models.CharField(max_length=20, choices=Status, default=Status.NEW, db_index=True)
    # The full-text document (title and text), GIN-indexed; NULL until indexed (see
    # ArticleQuerySet.index_for_search): an article is searchable once pre-tagged.
    search = SearchVectorField(null=True, editable=False)
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="articles")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(body_start__lte=F("body_end")),
                                   name="article_body_bounds_ordered"),
            models.CheckConstraint(condition=~Q(text=""), name="article_text_not_empty"),
        ]
        indexes = [GinIndex(fields=["search"], name=SEARCH_INDEX),
                   # The article list's order, read page by page from any article (keyset).
                   models.Index(fields=["created_at", "id"], name="article_created_order")]
        permissions = [
            ("review_article", "Can approve or return a submitted article"),
            ("reopen_article", "Can reopen an approved article"),
            ("assign_article", "Can assign articles to analysts"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return url_for("annotation:article_detail", self.pk)

    def natural_key(self) -> tuple[str]:
        return (self.text_hash,)

    def save(self, *args, **kwargs) -> None:
        if not self.text_hash:
            self.derive_from_text()
        super().save(*args, **kwargs)
        if not kwargs.get("update_fields"):  # an article saved alone is searchable at once
            Article.objects.filter(pk=self.pk).update(search=search_document())

    def derive_from_text(self) -> None:
        """Set the fields that follow from the text (bulk_create skips save(): call this first)."""
        self.text_hash = article_text.text_hash(self.text)
        self.body_start, self.body_end = article_text.body_bounds(self.text)

    @property
    def body(self) -> str:
        return self.text[self.body_start:self.body_end]
