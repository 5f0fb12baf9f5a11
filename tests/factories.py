import factory
from django.contrib.auth.models import Group, User

from annotation.models import Label, Mention
from corpus.models import Article, Source


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pass")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or []:
            self.groups.add(Group.objects.get(name=role))


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Outlet {n}")


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article

    title = factory.Sequence(lambda n: f"Article {n}")
    text = factory.Sequence(lambda n: f"Report {n}. Habib Essid said 36 attackers were killed in Ben Guerdane.")
    source = factory.SubFactory(SourceFactory)


class MentionFactory(factory.django.DjangoModelFactory):
    """A mention over the given characters of its article; pass start and end."""

    class Meta:
        model = Mention

    article = factory.SubFactory(ArticleFactory)
    start = 0
    end = 6
    text = factory.LazyAttribute(lambda m: m.article.text[m.start:m.end])
    label = factory.LazyFunction(lambda: Label.objects.get(name="ACTOR"))
    origin = Mention.Origin.MODEL


class ClaimFactory(factory.django.DjangoModelFactory):
    """A claim over the given characters of its article; pass start and end (and the speaker's
    place, if any)."""

    class Meta:
        model = "annotation.Claim"

    article = factory.SubFactory(ArticleFactory)
    start = 0
    end = 10
    text = factory.LazyAttribute(lambda c: c.article.text[c.start:c.end])
    origin = "model"
    status = "suggested"


class ClaimLinkFactory(factory.django.DjangoModelFactory):
    """A link from one claim to another article's claim; the evidence is the other claim's span."""

    class Meta:
        model = "annotation.ClaimLink"

    claim = factory.SubFactory(ClaimFactory)
    other = factory.SubFactory(ClaimFactory)
    relation = "corroborates"
    evidence_start = factory.LazyAttribute(lambda link: link.other.start)
    evidence_end = factory.LazyAttribute(lambda link: link.other.end)
