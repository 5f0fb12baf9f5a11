import io

import pytest
from django.core.management import call_command
from django.urls import reverse


def test_no_pending_migrations(db):
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_every_page_renders_for_an_analyst(analyst_client, seed_articles):
    article = seed_articles[0]
    for url in [reverse("corpus:article_list"), article.get_absolute_url(),
                reverse("annotation:label_css")]:
        response = analyst_client.get(url)
        assert response.status_code == 200, url


def test_login_page_renders(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content


@pytest.mark.parametrize("name", ["corpus:article_list"])
def test_anonymous_visitor_is_sent_to_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_pages_load_nothing_from_another_origin(analyst_client, seed_articles):
    for url in [reverse("corpus:article_list"), seed_articles[0].get_absolute_url()]:
        html = analyst_client.get(url).content.decode()
        assert "http://" not in html.replace("http://testserver", "")
        assert "https://" not in html
        assert 'src="//' not in html and 'href="//' not in html


def test_the_web_process_does_without_spacy():
    """A web process imports every view, but not spaCy and its model (about 80 MB): pre-tagging
    runs in the worker, and exports import spaCy only to write a spaCy file."""
    import subprocess
    import sys

    code = ("import os, sys; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'\n"
            "import django; django.setup()\n"
            "from django.urls import get_resolver; import config.wsgi\n"
            "get_resolver().resolve('/')  # imports every URL module, so every view\n"
            "print(sorted(m for m in ('spacy', 'thinc', 'numpy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr
