"""Critical flows of the analyst's workbench in Chromium: adding a mention by selecting text with
the mouse, and a keyboard-only pass over an article."""

import pytest
from playwright.sync_api import expect

from annotation.models import Event, Label, Mention
from corpus.models import Article
from tests.factories import ArticleFactory, MentionFactory

TEXT = ("Habib Essid said about 50 extremists attacked Ben Guerdane on Monday.\n"
        "NATO officials met in Tunis.")


def span(text: str) -> dict:
    start = TEXT.index(text)
    return {"start": start, "end": start + len(text)}


@pytest.fixture
def article(db):
    article = ArticleFactory(title="Raid on a border town", text=TEXT, status=Article.Status.PRETAGGED)
    labels = {label.name: label for label in Label.objects.all()}
    for text, label in [("Habib Essid", "ACTOR"), ("Ben Guerdane", "ACTOR"), ("NATO", "GROUP"),
                        ("Tunis", "PLACE")]:
        MentionFactory(article=article, label=labels[label], **span(text))
    return article


def expect_focus_on(page, text: str, *, pk: int | None = None) -> None:
    pk = pk or mention(text).pk
    expect(page.locator("#annotation")).to_have_attribute("data-focused", str(pk))
    expect(page.locator(f"#mention-{pk}")).to_have_text(text)


def mention(text: str) -> Mention:
    return Mention.objects.select_related("label").get(text=text)


def select_text(page, text: str) -> None:
    """Drag the mouse over `text` in the article, as a person would."""
    box = page.evaluate("""(needle) => {
        const root = document.getElementById("article-text");
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        let node;
        while ((node = walker.nextNode())) {
            const at = node.nodeValue.indexOf(needle);
            if (at >= 0) {
                const range = document.createRange();
                range.setStart(node, at); range.setEnd(node, at + needle.length);
                const r = range.getBoundingClientRect();
                return {x: r.left, y: r.top, width: r.width, height: r.height};
            }
        }
        return null;
    }""", text)
    middle = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 1, middle)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, middle, steps=4)
    page.mouse.move(box["x"] + box["width"] - 1, middle, steps=4)
    page.mouse.up()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_analyst_adds_a_mention_by_selecting_text(page, live_server, log_in, screenshot, analyst, article):
    log_in("alice")
    page.goto(live_server.url + article.get_absolute_url())
    select_text(page, "about 50")
    picker = page.locator("#add-mention")
    expect(picker).to_be_visible()
    screenshot("add-by-selection-picker")
    text_before = page.evaluate("""() => {
        const text = document.getElementById("article-text");
        text.dataset.kept = "yes";  // lost if the text is drawn again rather than marked in place
        return text.textContent;
    }""")
    picker.get_by_role("button", name="Figure").click()

    added = page.locator("mark.label-figure")
    expect(added).to_have_text("about 50")
    expect(added).to_have_class("mark label-figure is-confirmed")
    expect(picker).to_be_hidden()
    stored = mention("about 50")
    expect(page.locator(f"#group-figure #mention-row-{stored.pk}")).to_contain_text("about 50")
    expect(page.locator("#legend .count-confirmed").nth(3)).to_have_text("1")
    screenshot("add-by-selection-done")
    assert page.evaluate("""() => [document.getElementById("article-text").dataset.kept,
                                   document.getElementById("article-text").textContent]""") == ["yes", text_before]
    assert added.get_attribute("data-mention") == str(stored.pk)
    assert (stored.origin, stored.status, stored.label.name) == ("analyst", "confirmed", "FIGURE")
    assert Event.objects.filter(action="mention.add").count() == 1

    # Two more in the list that now has a row: each row is put in text order, the list not redrawn.
    page.evaluate("() => document.querySelector('#group-figure .mention-list').dataset.kept = 'yes'")
    for word in ("Monday", "extremists"):
        select_text(page, word)
        picker.get_by_role("button", name="Figure").click()
        expect(page.locator("mark.label-figure", has_text=word)).to_have_class("mark label-figure is-confirmed")
    expect(page.locator("#group-figure .mention-row .mention-text")).to_have_text(
        ["about 50", "extremists", "Monday"])
    expect(page.locator("#legend .count-confirmed").nth(3)).to_have_text("3")
    assert page.evaluate("""() => [document.querySelector('#group-figure .mention-list').dataset.kept,
                                   document.getElementById("article-text").dataset.kept,
                                   document.getElementById("article-text").textContent]""") == [
        "yes", "yes", text_before]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_keyboard_only_pass_over_an_article(page, live_server, log_in, screenshot, analyst, article):
    log_in("alice")
    page.goto(live_server.url + article.get_absolute_url())
    keys = page.keyboard
    status = lambda text: page.locator(f"#mention-row-{mention(text).pk} .mention-status")  # noqa: E731

    keys.press("j")
    expect_focus_on(page, "Habib Essid")
    keys.press("c")
    expect(status("Habib Essid")).to_have_text("Confirmed")
    expect(page.locator("#group-actor .confirm-all button")).to_have_text("Confirm all 1")

    keys.press("j")
    keys.press("3")  # PLACE
    expect(page.locator(f"#mention-{mention('Ben Guerdane').pk}")).to_have_class(
        "mark label-place is-confirmed")
    expect_focus_on(page, "Ben Guerdane")
    # Its row moved to the place list, in text order; the actor list has no suggestion left.
    expect(page.locator("#group-place .mention-row .mention-text")).to_have_text(["Ben Guerdane", "Tunis"])
    expect(page.locator("#group-actor .mention-row .mention-text")).to_have_text(["Habib Essid"])
    expect(page.locator("#group-actor .confirm-all")).to_have_count(0)
    expect(page.locator("#group-place .confirm-all button")).to_have_text("Confirm all 1")

    keys.press("j")
    keys.press("x")
    expect(status("NATO")).to_have_text("Rejected")
    page.evaluate("window.__sameDocument = true")  # lost if the page reloads
    keys.press("u")
    expect(status("NATO")).to_have_text("Suggested")

    keys.press("j")
    tunis = mention("Tunis").pk
    keys.press("]")  # widen at the end: "Tunis" → "Tunis."
    expect_focus_on(page, "Tunis.", pk=tunis)
    keys.press("}")  # and narrow back
    expect_focus_on(page, "Tunis", pk=tunis)

    for _ in range(3):
        keys.press("k")
    expect_focus_on(page, "Habib Essid")
    keys.press("a")  # a caret on the next word: "said"
    keys.press("ArrowRight")  # "about"
    keys.press("Shift+ArrowRight")  # "about 50"
    keys.press("4")  # FIGURE
    expect(page.locator("mark.label-figure")).to_have_text("about 50")

    keys.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    screenshot("keyboard-shortcuts")
    keys.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()
    screenshot("keyboard-pass")

    assert page.evaluate("window.__sameDocument") is True
    states = {m.text: (m.label.name, m.status) for m in Mention.objects.select_related("label")}
    assert states == {"Habib Essid": ("ACTOR", "confirmed"), "Ben Guerdane": ("PLACE", "confirmed"),
                      "NATO": ("GROUP", "suggested"), "Tunis": ("PLACE", "confirmed"),
                      "about 50": ("FIGURE", "confirmed")}
    assert Article.objects.get().status == "in_progress"
