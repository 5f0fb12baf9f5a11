from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, RangeOperators
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Func, Q
from django.db.models.functions import Coalesce

from annotation import layers
from config.links import url_for
from corpus.models import Source

# The Admiralty code's grades: a source's reliability (A–F), a claim's credibility (1–6).
Reliability = Source.Reliability


class Credibility(models.IntegerChoices):
    CONFIRMED = 1, "1: confirmed by other sources"
    PROBABLE = 2, "2: probably true"
    POSSIBLE = 3, "3: possibly true"
    DOUBTFUL = 4, "4: doubtful"
    IMPROBABLE = 5, "5: improbable"
    UNKNOWN = 6, "6: truth cannot be judged"


def standing_spans_never_overlap(name: str) -> ExclusionConstraint:
    """No two rows of one article's layer that are not rejected cover the same characters."""
    return ExclusionConstraint(
        name=name,
        expressions=[
            ("article", RangeOperators.EQUAL),
            (Coalesce(F("annotator"), 0), RangeOperators.EQUAL),
            (Func(F("start"), F("end"), function="int4range"), RangeOperators.OVERLAPS),
        ],
        condition=~Q(status="rejected"),
    )


class LabelQuerySet(models.QuerySet):
    def spacy_map(self) -> dict[str, str]:
        """spaCy entity label → our label name, from the labels' own data (not code)."""
        return {spacy_label: label.name for label in self for spacy_label in label.spacy_labels}


class Label(models.Model):
    """An entity label. The four defaults are created by a migration; admins can change them."""

    name = models.CharField(max_length=30, unique=True, validators=[RegexValidator(
        r"^[A-Z][A-Z0-9_]*$", "Use capital letters, digits and underscores, e.g. ACTOR.")])
    description = models.CharField(max_length=300, blank=True)
    colour = models.CharField(max_length=7, help_text="Colour of its marks, #rrggbb",
                              validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use #rrggbb.")])
    # Shown on every mark so the label never depends on colour alone.
    marker = models.CharField(max_length=2, help_text="One or two characters shown on each mark")
    key = models.CharField(max_length=1, unique=True, help_text="Keyboard key that picks it")
    spacy_labels = ArrayField(models.CharField(max_length=30), default=list, blank=True,
                              help_text="spaCy entity labels that feed it")
    order = models.PositiveSmallIntegerField(default=0)

    objects = LabelQuerySet.as_manager()

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class EntityQuerySet(models.QuerySet):
    def with_mention_counts(self) -> "EntityQuerySet":
        return self.annotate(mention_count=models.Count("mentions", filter=~Q(
            mentions__status="rejected")))


class Entity(models.Model):
    """The canonical thing mentions refer to: "Habib Essid" with the alias "Essid"."""

    name = models.CharField(max_length=300)
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="entities")
    aliases = ArrayField(models.CharField(max_length=300), default=list, blank=True)
    # The name and aliases normalised (annotation.linking.normalise_name), for indexed lookups.
    keys = ArrayField(models.CharField(max_length=300), default=list, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # As a speaker, graded on the Admiralty code's reliability scale (like an outlet).
    reliability = models.CharField(max_length=1, choices=Reliability, blank=True)
    graded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    graded_at = models.DateTimeField(null=True, blank=True)

    objects = EntityQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "entities"
        constraints = [models.UniqueConstraint(fields=["label", "name"], name="entity_name_per_label")]
        indexes = [GinIndex(name="entity_name_trigram", fields=["name"], opclasses=["gin_trgm_ops"]),
                   GinIndex(name="entity_keys", fields=["keys"])]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        from annotation.linking import normalise_name

        self.keys = sorted({normalise_name(name) for name in self.names})
        if "update_fields" in kwargs and kwargs["update_fields"] is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "keys"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return url_for("annotation:entity_detail", self.pk)

    @property
    def names(self) -> list[str]:
        return [self.name, *self.aliases]


class InLayer(models.Manager):
    """The rows of the layer in use (annotation/layers.py): the shared layer unless a request
    works in an analyst's private one."""

    def get_queryset(self):
        return super().get_queryset().filter(annotator_id=layers.current())


class MentionQuerySet(models.QuerySet):
    def live(self) -> "MentionQuerySet":
        """Mentions that stand: suggested or confirmed, not rejected."""
        return self.exclude(status=Mention.Status.REJECTED)

    def untouched_suggestions(self) -> "MentionQuerySet":
        """Machine suggestions nobody has decided on: the only mentions a re-tag may replace."""
        return self.filter(origin__in=[Mention.Origin.MODEL, Mention.Origin.PATTERN],
                           status=Mention.Status.SUGGESTED, decided_by__isnull=True)

    def label_counts(self, article_ids: list[int]) -> dict[tuple[int, int], int]:
        """{(article id, label id): standing mentions} for a page of articles, in one query."""
        rows = (self.live().filter(article_id__in=article_ids)
                .values_list("article_id", "label_id").annotate(n=models.Count("pk")).order_by())
        return {(article_id, label_id): n for article_id, label_id, n in rows}

    def status_counts(self) -> list[tuple[int, str, int]]:
        """(label id, status, mentions) in one query."""
        return list(self.values_list("label_id", "status").annotate(n=models.Count("pk")).order_by())

    def for_page(self) -> "MentionQuerySet":
        """In text order, with their entities; the page gives them their labels."""
        return self.select_related("entity").order_by("start", "end")


class Mention(models.Model):
    """A span of an article's text (character offsets, end exclusive) with a label."""

    class Origin(models.TextChoices):
        MODEL = "model"
        PATTERN = "pattern"
        ANALYST = "analyst"
        # A pre-annotated span of an imported file (Prodigy, doccano): a suggestion the pre-tagger
        # keeps and suggests nothing over.
        IMPORTED = "imported"

    class Status(models.TextChoices):
        SUGGESTED = "suggested"
        CONFIRMED = "confirmed"
        REJECTED = "rejected"

    article = models.ForeignKey("corpus.Article", on_delete=models.CASCADE, related_name="mentions")
    # The analyst whose private layer holds it (an independent assignment), or None for the
    # article's shared layer; new rows take the layer in use (annotation/layers.py).
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, editable=False,
                                  on_delete=models.CASCADE, related_name="+", default=layers.current)
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    text = models.CharField(max_length=1000)
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="mentions")
    # What the model said, kept to measure the pre-tagger and show the reviewer what changed.
    model_label = models.CharField(max_length=30, blank=True)
    origin = models.CharField(max_length=10, choices=Origin, default=Origin.MODEL)
    status = models.CharField(max_length=10, choices=Status, default=Status.SUGGESTED)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    # The canonical entity (ACTOR, GROUP, PLACE). A link found by a rule waits for the analyst to
    # accept it; `link_reason` says which rule ("surname of Habib Essid").
    entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="mentions")
    entity_accepted = models.BooleanField(default=False)
    link_reason = models.CharField(max_length=200, blank=True)

    objects = InLayer.from_queryset(MentionQuerySet)()
    every_layer = MentionQuerySet.as_manager()

    class Meta:
        ordering = ["article_id", "start"]  # by id: "article" would join the articles to sort
        indexes = [models.Index(fields=["article", "start"])]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="mention_not_empty"),
            # Two standing mentions never overlap; a rejected suggestion may lie under a new one.
            standing_spans_never_overlap("mention_no_overlap"),
        ]

    def __str__(self) -> str:
        return f"{self.text} [{self.label_id}] {self.start}:{self.end}"

    @property
    def is_decided(self) -> bool:
        return self.status != self.Status.SUGGESTED

    def snapshot(self) -> dict:
        """What an Event records of this mention, before and after a change."""
        return {"start": self.start, "end": self.end, "text": self.text, "label": self.label.name,
                "status": self.status, "origin": self.origin, "version": self.version,
                "model_label": self.model_label, "decided_by": self.decided_by_id,
                "decided_at": self.decided_at.isoformat() if self.decided_at else None}


class ClaimQuerySet(models.QuerySet):
    def live(self) -> "ClaimQuerySet":
        return self.exclude(status=Claim.Status.REJECTED)

    def untouched_suggestions(self) -> "ClaimQuerySet":
        """Machine suggestions nobody has changed in any way (a link or a grade moves the
        version): the only claims a re-tag may replace."""
        return self.filter(origin=Claim.Origin.MODEL, status=Claim.Status.SUGGESTED,
                           decided_by__isnull=True, version=1)


class Claim(models.Model):
    """A span of an article that asserts something checkable, with who said it (when the text
    says) and the word that attributes it. Its sources: the speaker, the article and its outlet,
    and other articles' claims linked to it (ClaimLink)."""

    class Origin(models.TextChoices):
        MODEL = "model"
        ANALYST = "analyst"

    class Status(models.TextChoices):
        SUGGESTED = "suggested"
        CONFIRMED = "confirmed"
        REJECTED = "rejected"

    article = models.ForeignKey("corpus.Article", on_delete=models.CASCADE, related_name="claims")
    # The analyst whose private layer holds it (an independent assignment), or None for the
    # article's shared layer; new rows take the layer in use (annotation/layers.py).
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, editable=False,
                                  on_delete=models.CASCADE, related_name="+", default=layers.current)
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    text = models.TextField()
    # The speaker as written in the text and where ("he" resolved to the name the text gives),
    # none when the article asserts the claim in its own voice.
    speaker = models.CharField(max_length=300, blank=True)
    speaker_start = models.PositiveIntegerField(null=True, blank=True)
    speaker_end = models.PositiveIntegerField(null=True, blank=True)
    # The standing ACTOR or GROUP mention at the speaker's place, which links it to an entity.
    speaker_mention = models.ForeignKey(Mention, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="claims_spoken")
    cue = models.CharField(max_length=50, blank=True)
    direct = models.BooleanField(default=False, help_text="a direct quote")
    origin = models.CharField(max_length=10, choices=Origin, default=Origin.MODEL)
    status = models.CharField(max_length=10, choices=Status, default=Status.SUGGESTED)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    credibility = models.PositiveSmallIntegerField(choices=Credibility, null=True, blank=True)
    graded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    graded_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InLayer.from_queryset(ClaimQuerySet)()
    every_layer = ClaimQuerySet.as_manager()

    class Meta:
        ordering = ["article_id", "start"]
        permissions = [("grade_claim", "Can grade claims' credibility and speakers' and outlets' "
                                       "reliability")]
        # No text index: candidate ranking scores claims without one, and a trigram index on long
        # texts made every pre-tagging insert several times slower.
        indexes = [models.Index(fields=["article", "start"])]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="claim_not_empty"),
            models.CheckConstraint(
                condition=Q(speaker_start__isnull=True, speaker_end__isnull=True)
                | Q(speaker_end__gt=F("speaker_start")), name="claim_speaker_span"),
            # One claim per clause: two standing claims never overlap.
            standing_spans_never_overlap("claim_no_overlap"),
        ]

    def __str__(self) -> str:
        return f"{self.text[:60]} ({self.speaker or 'article'}) {self.start}:{self.end}"

    def get_absolute_url(self) -> str:
        return url_for("annotation:claim_detail", self.pk)

    def mentions_inside(self) -> MentionQuerySet:
        """The standing mentions within its span: the entities and figures it carries."""
        return Mention.objects.live().filter(article_id=self.article_id, start__gte=self.start,
                                             end__lte=self.end)

    def snapshot(self) -> dict:
        return {"start": self.start, "end": self.end, "text": self.text, "speaker": self.speaker,
                "speaker_start": self.speaker_start, "speaker_end": self.speaker_end,
                "speaker_mention": self.speaker_mention_id, "cue": self.cue,
                "direct": self.direct, "status": self.status, "origin": self.origin,
                "credibility": self.credibility, "version": self.version,
                "decided_by": self.decided_by_id,
                "decided_at": self.decided_at.isoformat() if self.decided_at else None}


class ClaimLink(models.Model):
    """Another article's claim that backs up or contradicts this one, with the evidence span in
    the other article (the other claim's span unless narrowed) and the analyst who linked them.
    A link reads both ways: one row for a pair."""

    class Relation(models.TextChoices):
        CORROBORATES = "corroborates"
        CONTRADICTS = "contradicts"
        SAME = "same", "same claim"

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="links_out")
    other = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="links_in")
    relation = models.CharField(max_length=15, choices=Relation)
    evidence_start = models.PositiveIntegerField()
    evidence_end = models.PositiveIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["claim", "other"], name="claim_link_once"),
            models.CheckConstraint(condition=~Q(claim=F("other")), name="claim_link_not_self"),
            models.CheckConstraint(condition=Q(evidence_end__gt=F("evidence_start")),
                                   name="claim_link_evidence"),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id} {self.relation} {self.other_id}"

    def snapshot(self) -> dict:
        return {"claim": self.claim_id, "other": self.other_id, "relation": self.relation,
                "evidence_start": self.evidence_start, "evidence_end": self.evidence_end,
                "created_by": self.created_by_id}


class SuppressedSuggestion(models.Model):
    """What analysts keep rejecting (same text, same label) is no longer suggested.

    Counts are kept for every (text, label) decided on; a pair is suppressed once it has been
    rejected `REJECTIONS` times and never confirmed. Admins can switch any pair on or off."""

    REJECTIONS = 2

    text = models.CharField(max_length=300, help_text="normalised text (see annotation.learning)")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="+")
    rejections = models.PositiveIntegerField(default=0)
    confirmations = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=False, help_text="not suggested any more")
    # Set when an admin decides: automatic counting no longer switches it.
    pinned = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-rejections", "text"]
        constraints = [models.UniqueConstraint(fields=["text", "label"], name="suppression_per_label")]

    def __str__(self) -> str:
        return f"{self.text} [{self.label}]"


class EventQuerySet(models.QuerySet):
    def for_article(self, article) -> "EventQuerySet":
        return self.filter(article=article).select_related("actor").order_by("created_at", "pk")


class Event(models.Model):
    """Append-only log of every state change: who, when, what, before and after."""

    article = models.ForeignKey("corpus.Article", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.PROTECT, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=50)
    subject_type = models.CharField(max_length=30)
    subject_id = models.BigIntegerField(null=True, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["subject_type", "subject_id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.subject_type}:{self.subject_id}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("Events are append-only")
        super().save(*args, **kwargs)

    @classmethod
    def record(cls, action: str, subject: models.Model, *, article, actor=None,
               before: dict | None = None, after: dict | None = None) -> "Event":
        return cls.objects.create(action=action, subject_type=subject._meta.model_name,
                                  subject_id=subject.pk, article=article, actor=actor,
                                  before=before, after=after)


class IdempotencyRecord(models.Model):
    """The first answer to a request that carried an idempotency key, to give again on replay.

    Every decision carries a client-generated key; a replay (a double click, a retry after a
    dropped connection, the offline queue syncing) gets this answer back and changes nothing.
    """

    key = models.CharField(max_length=100, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100)
    body = models.TextField()
    # Response headers that carry meaning for htmx (HX-Trigger, HX-Redirect, Location…).
    headers = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"{self.key} → {self.status}"


class AssignmentQuerySet(models.QuerySet):
    def open(self) -> "AssignmentQuerySet":
        """Assignments whose article still waits for its analyst (not submitted nor approved)."""
        from corpus.models import Article

        return self.filter(article__status__in=[Article.Status.NEW, Article.Status.PRETAGGED,
                                                Article.Status.IN_PROGRESS, Article.Status.RETURNED])


class Assignment(models.Model):
    """An article given to an analyst: it is in their queue ("my articles") until submitted."""

    article = models.ForeignKey("corpus.Article", on_delete=models.CASCADE, related_name="assignments")
    analyst = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="assignments")
    # Independent: the analyst works in a private layer of their own, blind to the others, so a
    # reviewer can measure agreement and adjudicate (annotation/layers.py).
    independent = models.BooleanField(default=False)
    # When the private layer got its copy of the pre-tagger's suggestions, and when the analyst
    # submitted it (the layer is then closed; the article is submitted once every layer is).
    seeded_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["article", "analyst"],
                                               name="assignment_once_per_analyst")]
        indexes = [models.Index(fields=["analyst", "article"])]

    def __str__(self) -> str:
        return f"{self.article_id} → {self.analyst_id}"


class ReviewComment(models.Model):
    """A reviewer's comment when returning an article: on a mention, a claim, or the article."""

    article = models.ForeignKey("corpus.Article", on_delete=models.CASCADE,
                                related_name="review_comments")
    mention = models.ForeignKey(Mention, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="review_comments")
    claim = models.ForeignKey(Claim, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="review_comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Which return of the article it came with (the Event "article.return"), so the analyst sees
    # the comments of the last return and the history keeps all of them.
    round = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["article", "round"])]

    def __str__(self) -> str:
        return self.text[:60]
