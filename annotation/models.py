from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, RangeOperators
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Func, Q
from django.urls import reverse


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
        return reverse("annotation:entity_detail", args=[self.pk])

    @property
    def names(self) -> list[str]:
        return [self.name, *self.aliases]


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
        return self.select_related("label", "entity").order_by("start", "end")


class Mention(models.Model):
    """A span of an article's text (character offsets, end exclusive) with a label."""

    class Origin(models.TextChoices):
        MODEL = "model"
        PATTERN = "pattern"
        ANALYST = "analyst"

    class Status(models.TextChoices):
        SUGGESTED = "suggested"
        CONFIRMED = "confirmed"
        REJECTED = "rejected"

    article = models.ForeignKey("corpus.Article", on_delete=models.CASCADE, related_name="mentions")
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

    objects = MentionQuerySet.as_manager()

    class Meta:
        ordering = ["article", "start"]
        indexes = [models.Index(fields=["article", "start"])]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="mention_not_empty"),
            # Two standing mentions never overlap; a rejected suggestion may lie under a new one.
            ExclusionConstraint(
                name="mention_no_overlap",
                expressions=[
                    ("article", RangeOperators.EQUAL),
                    (Func(F("start"), F("end"), function="int4range"), RangeOperators.OVERLAPS),
                ],
                condition=~Q(status="rejected"),
            ),
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
