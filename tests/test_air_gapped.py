"""Air-gapped: every page of the app, for every role, is served under the Content-Security-Policy
and names no address outside the app in anything a browser would fetch or follow; the static
files it serves load nothing from elsewhere either.

The pages are those of the permission matrix (tests/test_permissions.py: a URL added to the app
is in it, or that test fails), for every role and an anonymous visitor (refusals and the login
page included), whole and as an htmx fragment, plus the Django admin's pages for an admin.
"""

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from config.middleware import CONTENT_SECURITY_POLICY
from corpus.models import Article
from tests.test_permissions import MATRIX, USERS, objects, users  # noqa: F401 - fixtures

# An address outside the app: a scheme with "//", or a protocol-relative "//host".
EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
CSS_ADDRESS = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""", re.IGNORECASE)
# Attributes whose value a browser fetches, follows or submits to.
ADDRESS_ATTRIBUTES = {"src", "href", "action", "formaction", "srcset", "poster", "data",
                      "background", "cite", "manifest", "hx-get", "hx-post", "hx-put",
                      "hx-patch", "hx-delete", "ping", "xlink:href"}


class _Addresses(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found, self._in_style = [], False

    def handle_starttag(self, tag, attrs):
        self._in_style = tag == "style"
        for name, value in attrs:
            if value is None:
                continue
            if name in ADDRESS_ATTRIBUTES:
                values = [part.split()[0] for part in value.split(",") if part.split()] \
                    if name == "srcset" else [value]
                self.found += [(f"<{tag} {name}>", each) for each in values]
            elif name == "style":
                self.found += [(f"<{tag} style>", each) for each in CSS_ADDRESS.findall(value)]
            elif name == "content" and tag == "meta" and "url=" in value.lower():
                self.found.append(("<meta refresh>", value.lower().split("url=", 1)[1]))

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.found += [("<style>", each) for each in CSS_ADDRESS.findall(data)]


def addresses(html: str) -> list[tuple[str, str]]:
    """(where, address) of every address in the page's attributes and styles."""
    parser = _Addresses()
    parser.feed(html)
    return parser.found


def external_addresses(html: str) -> list[tuple[str, str]]:
    return [(where, address) for where, address in addresses(html) if EXTERNAL.match(address)]


def test_the_checker_finds_what_it_should():
    html = ('<link rel="stylesheet" href="https://cdn.example.org/x.css"><script src="//cdn.io/h.js">'
            '</script><img srcset="/a.png 1x, http://x.org/b.png 2x"><a href="/articles/">in</a>'
            '<form action="/login/"></form><div style="background: url(\'https://t.io/p.gif\')"></div>'
            '<style>@import "https://fonts.example/f.css";</style><p>see https://example.org</p>')
    assert [address for _, address in external_addresses(html)] == [
        "https://cdn.example.org/x.css", "//cdn.io/h.js", "http://x.org/b.png", "https://t.io/p.gif",
        "https://fonts.example/f.css"]  # text that mentions an address is not one


def test_the_policy_allows_the_app_alone():
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'self'"
    assert all("unsafe" not in value and "*" not in value and "http" not in value
               for value in directives.values())
    assert directives["object-src"] == "'none'"


def _pages(objects):
    for name, (method, _, kind) in sorted(MATRIX.items()):
        if method == "GET" and name != "annotation:download_export":  # a file, not a page
            yield name, reverse(name, args=[objects[kind]] if kind else [])


@pytest.mark.django_db
def test_every_page_for_every_role_names_nothing_outside_the_app(objects, users):  # noqa: F811
    article = Article.objects.get(pk=objects["article"])
    article.url = "https://www.example-news.org/2017/08/raid"  # metadata: shown, never a link
    article.save(update_fields=["url"])
    checked = 0
    for who in USERS:
        client = Client()
        if who != "anonymous":
            client.force_login(users[who])
        for name, url in _pages(objects):
            for headers in ({}, {"HX-Request": "true"}):
                # Refusals too: the 403 page, and the login page an anonymous visitor ends on.
                response = client.get(url, headers=headers, follow=True)
                assert response.status_code in (200, 403), (who, name, headers, response.status_code)
                assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, (who, name)
                if "html" in response["Content-Type"]:
                    found = external_addresses(response.content.decode())
                    assert not found, (who, name, headers, found)
                checked += 1
    assert checked > 150


@pytest.mark.django_db
def test_the_admin_pages_name_nothing_outside_the_app(objects, users):  # noqa: F811
    client = Client()
    client.force_login(users["admin"])
    index = client.get(reverse("admin:index"))
    links = sorted({href for _, href in addresses(index.content.decode())
                    if href.startswith("/admin/") and "logout" not in href})
    assert len(links) > 5
    for url in [reverse("admin:index"), *links]:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert not external_addresses(response.content.decode()), url


def test_static_files_load_nothing_from_elsewhere(client):
    """Every style sheet and script the app serves (its own, the admin's, htmx), and the policy
    on a static file's response too."""
    checked = 0
    for finder in finders.get_finders():
        for path, storage in finder.list([]):
            if not path.endswith((".css", ".js")) or path.endswith(".map"):
                continue
            text = Path(storage.path(path)).read_text(encoding="utf-8", errors="replace")
            if path.endswith(".css"):
                assert not [a for a in CSS_ADDRESS.findall(text) if EXTERNAL.match(a)], path
            else:  # a script that fetches: no address outside the app in a fetch or an import
                assert not re.search(r"""(?:fetch|import|importScripts)\(\s*['"](?:https?:)?//""", text), path
            checked += 1
    assert checked > 10
    response = client.get(settings.STATIC_URL + "sourcemark.css")
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY  # served or not


NO_NETWORK_RUN = """
import io, os, django
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django.setup()
from django.core.management import call_command
from django.test import Client
from corpus.models import Article
from annotation.models import Mention
call_command("migrate", verbosity=0)
call_command("collectstatic", "--noinput", verbosity=0)
call_command("load_demo", stdout=io.StringIO())
call_command("import_articles", "--sync", "--no-wait", os.environ["ARTICLE"], stdout=io.StringIO())
said = io.StringIO()
call_command("pretag", "--sync", stdout=said)
client = Client()
client.login(username="analyst", password="analyst")
article = Article.objects.get(title="Raid near the border")
page = client.get(article.get_absolute_url())
print("pages", page.status_code, client.get("/sw.js").status_code,
      "suggestions", Mention.objects.filter(article=article).count(), said.getvalue())
"""


@pytest.mark.skipif(shutil.which("unshare") is None or subprocess.run(
    ["unshare", "--net", "true"], capture_output=True).returncode != 0,
    reason="cannot make a network namespace here (unshare --net needs root): the run without any network is not tested")
def test_the_app_runs_on_a_machine_with_no_network_at_all(tmp_path):
    """Set up, import, pre-tag with spaCy and serve pages inside a network namespace with no
    interface up, not even loopback: anything downloaded or reported at run time would fail.
    The database is an embedded PostgreSQL of its own, on a Unix socket."""
    article = tmp_path / "raid.txt"
    article.write_text("Raid near the border\n\nHabib Essid said 36 attackers died in Ben Guerdane "
                       "on Monday, according to the Tunisian interior ministry.\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "DRAMATIQ_BROKER_URL", "SOURCEMARK_E2E_BROKER_URL")}
    env.update(SOURCEMARK_DATA_DIR=str(tmp_path / "data"), ARTICLE=str(article), DEBUG="false",
               ALLOWED_HOSTS="testserver",
               DRAMATIQ_BROKER_URL="stub://")
    done = subprocess.run(["unshare", "--net", sys.executable, "-c", NO_NETWORK_RUN], cwd=settings.BASE_DIR,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    words = done.stdout.split()
    assert words[:3] == ["pages", "200", "200"], done.stdout
    assert int(words[words.index("suggestions") + 1]) >= 3, done.stdout
