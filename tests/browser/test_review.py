"""The review flow in Chromium: an analyst submits, a reviewer returns it with a comment on a
mention, the analyst sees the comment on the article, resubmits, and another reviewer approves."""

import pytest
from playwright.sync_api import expect

from annotation import extraction
from annotation.models import Event
from corpus.models import Article


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_submit_return_with_a_comment_resubmit_and_approve(
        page, live_server, log_in, screenshot, analyst, reviewer, seed_articles, nlp):
    article = seed_articles[2]
    extraction.pretag_many([article], nlp=nlp)
    mention = article.mentions.get(text="Habib Essid")

    def as_user(username: str) -> None:
        page.context.clear_cookies()  # log the previous user out
        log_in(username)

    as_user("alice")
    page.goto(f"{live_server.url}{article.get_absolute_url()}")
    page.locator(f"#mention-row-{mention.pk}").get_by_role("button", name="Reject").click()
    expect(page.locator(f"#mention-row-{mention.pk} .mention-status")).to_have_text("Rejected")
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_role("button", name="Submit anyway").click()
    expect(page.locator("#article-status")).to_have_text("submitted")

    as_user("rita")
    page.get_by_role("link", name="Review", exact=True).click()
    page.get_by_role("link", name=article.title).click()
    row = page.locator(f"#review-mention-{mention.pk}")
    expect(row).to_contain_text("removed")
    row.get_by_role("textbox").fill("Habib Essid is the prime minister: keep him as ACTOR.")
    screenshot("review-return")
    page.get_by_role("button", name="Return to the analyst").click()
    expect(page.locator("#messages")).to_contain_text("Returned to the analyst")

    as_user("alice")
    page.goto(f"{live_server.url}{article.get_absolute_url()}")
    notes = page.locator(".review-notes")
    expect(notes).to_contain_text("Returned by rita")
    expect(notes).to_contain_text("keep him as ACTOR")
    notes.get_by_role("link", name="“Habib Essid”").click()  # the comment leads to the mention
    page.locator(f"#mention-row-{mention.pk}").get_by_role("button", name="Confirm").click()
    expect(page.locator(f"#mention-row-{mention.pk} .mention-status")).to_have_text("Confirmed")
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_role("button", name="Submit anyway").click()
    expect(page.locator("#article-status")).to_have_text("submitted")

    as_user("rita")
    page.goto(f"{live_server.url}/articles/{article.pk}/review/")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#messages")).to_contain_text("Approved")
    page.goto(f"{live_server.url}{article.get_absolute_url()}")
    expect(page.locator(".review-notes.is-approved")).to_contain_text("locked")
    screenshot("review-approved")
    assert Article.objects.get(pk=article.pk).status == Article.Status.APPROVED
    assert [e.action for e in Event.objects.filter(article=article, action__in=[
        "article.submit", "article.return", "article.approve"]).order_by("pk")] == [
        "article.submit", "article.return", "article.submit", "article.approve"]
