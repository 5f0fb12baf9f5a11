import pytest
from playwright.sync_api import expect

from annotation import extraction
from annotation.models import Event, Mention


@pytest.fixture
def pretagged_seed(seed_articles, nlp):
    extraction.pretag_many(seed_articles, nlp=nlp)
    return seed_articles


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_analyst_logs_in_opens_an_article_and_confirms_a_suggestion(
        page, live_server, log_in, screenshot, analyst, pretagged_seed):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    log_in("alice")
    page.get_by_role("link", name="Tunisian troops pursue jihadists").click()
    mention = pretagged_seed[2].mentions.get(text="Habib Essid")
    row = page.locator(f"#mention-row-{mention.pk}")
    mark = page.locator(f"#mention-{mention.pk}")
    expect(mark).to_have_class("mark label-actor is-suggested")
    page.evaluate("window.__sameDocument = true")  # lost if the page reloads

    row.get_by_role("button", name="Confirm").click()

    expect(mark).to_have_class("mark label-actor is-confirmed")
    expect(row.locator(".mention-status")).to_have_text("Confirmed")
    expect(page.locator("#legend .count-confirmed").first).to_have_text("1")
    expect(page.locator("#article-status")).to_have_text("in progress")
    assert page.evaluate("window.__sameDocument") is True
    screenshot("confirm-suggestion")
    assert Mention.objects.get(pk=mention.pk).status == "confirmed"
    assert Event.objects.filter(action="mention.confirm", subject_id=mention.pk).count() == 1
    assert all(url.startswith(live_server.url) for url in requests), "a request left the app"
