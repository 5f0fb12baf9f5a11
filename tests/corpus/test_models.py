import pytest
from django.db import IntegrityError

from corpus.models import Article
from corpus.text import text_hash
from tests.factories import ArticleFactory


def test_saving_an_article_derives_its_hash_and_body(db):
    article = ArticleFactory(text="Headline\n\nBody.\n\nShare This")
    assert article.text_hash == text_hash(article.text)
    assert article.body == "Headline\n\nBody."


def test_two_articles_with_the_same_normalised_text_cannot_both_be_stored(db):
    ArticleFactory(text="Habib Essid said so.")
    with pytest.raises(IntegrityError):
        ArticleFactory(text="  habib essid said so. ")


def test_an_article_needs_text(db):
    with pytest.raises(IntegrityError):
        Article.objects.create(title="Empty", text="")


def test_untagged_articles_are_the_new_ones(db):
    new, tagged = ArticleFactory(), ArticleFactory(status=Article.Status.PRETAGGED)
    assert list(Article.objects.untagged()) == [new]
    assert tagged not in Article.objects.untagged()
