import re

import pytest
from playwright.sync_api import expect

from annotation import extraction
from annotation.models import Claim, ClaimLink, Event

# Select characters [start, end) of the article's text, as a mouse would, and let go.
SELECT = """([start, end]) => {
  const text = document.getElementById("article-text");
  const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
  let total = 0, node, from = null, to = null;
  while ((node = walker.nextNode())) {
    const length = node.nodeValue.length;
    if (!from && start < total + length) from = [node, start - total];
    if (!to && end <= total + length) { to = [node, end - total]; break; }
    total += length;
  }
  const range = document.createRange();
  range.setStart(...from);
  range.setEnd(...to);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  text.dispatchEvent(new MouseEvent("mouseup", { bubbles: true }));
}"""


def free_sentence(article, word: str) -> tuple[int, int]:
    """A sentence of the body holding `word` that no suggested claim covers."""
    taken = list(article.claims.values_list("start", "end"))
    for match in re.finditer(r"[A-Z][^.\n]*\b" + word + r"\b[^.\n]*\.", article.body):
        start, end = article.body_start + match.start(), article.body_start + match.end() - 1
        if not any(s < end and start < e for s, e in taken):
            return start, end
    raise AssertionError(f"no free sentence with {word}")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_analyst_marks_a_claim_sets_its_speaker_and_links_it_to_another_articles_claim(
        page, live_server, log_in, screenshot, analyst, seed_articles, nlp):
    extraction.pretag_many(seed_articles, nlp=nlp)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    article = max(seed_articles, key=lambda a: a.claims.count())
    start, end = free_sentence(article, "Libya")
    speaker = article.mentions.filter(label__name="ACTOR").exclude(start__gte=start, end__lte=end).first()
    log_in("alice")
    page.goto(f"{live_server.url}{article.get_absolute_url()}")

    page.evaluate(SELECT, [start, end])
    page.locator("#add-mention").get_by_role("button", name="Claim").click()

    claim = None
    expect(page.locator(".claim-row.is-confirmed")).not_to_have_count(0)
    claim = Claim.objects.get(article=article, origin=Claim.Origin.ANALYST)
    assert claim.text == article.text[start:end] and claim.status == "confirmed"
    expect(page.locator(f"#claim-{claim.pk}")).to_have_class("claim is-confirmed")

    page.locator(f"#claim-row-{claim.pk} .claim-meta").click()
    panel = page.locator("#claim-actions")
    expect(panel).to_be_visible()
    expect(panel.locator(".candidate").first).to_be_visible()

    page.evaluate(SELECT, [speaker.start, speaker.end])
    page.keyboard.press("s")
    expect(page.locator(f"#claim-row-{claim.pk} .claim-speaker")).to_have_text(speaker.text)
    claim.refresh_from_db()
    assert (claim.speaker, claim.speaker_start) == (speaker.text, speaker.start)

    candidate = panel.locator(".candidate").first
    other = int(candidate.get_attribute("data-other"))
    candidate.get_by_role("button", name="corroborates").click()
    expect(panel.locator(".sources .link-corroborates")).to_have_count(1)
    expect(page.locator(f"#claim-row-{claim.pk} .badge.corroborated")).to_have_text("1 backing")
    screenshot("claim-linked")

    link = ClaimLink.objects.get()
    assert (link.claim_id, link.other_id, link.relation) == (claim.pk, other, "corroborates")
    assert [e.action for e in Event.objects.filter(article=article, action__startswith="claim.")] == [
        "claim.add", "claim.speaker", "claim.link"]

    # Confirming the speaker links it to an entity; the claim's row names it at once.
    page.locator("#tab-entities").click()
    page.locator(f"#mention-row-{speaker.pk} button.confirm").click()
    expect(page.locator(f"#mention-row-{speaker.pk}")).to_have_class(re.compile(r"\bis-confirmed\b"))
    speaker.refresh_from_db()
    page.locator("#tab-claims").click()
    expect(page.locator(f"#claim-row-{claim.pk} .claim-speaker a")).to_have_attribute(
        "href", speaker.entity.get_absolute_url())
    assert all(url.startswith(live_server.url) for url in requests), "a request left the app"
