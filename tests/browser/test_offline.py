"""Offline-first in Chromium: the Content-Security-Policy holds in the browser; decisions taken
offline are kept, shown, and sent once, in order, when the connection is back."""

import re

import pytest
from config.models import Session
from playwright.sync_api import expect

from annotation import decisions, extraction, review
from annotation.models import Claim, ClaimLink, Event, IdempotencyRecord, Mention
from corpus.models import Article
from tests.browser.test_workbench import article, mention  # noqa: F401 - a fixture


@pytest.mark.browser
@pytest.mark.policy_violations_expected
@pytest.mark.django_db(transaction=True)
def test_the_browser_refuses_inline_code_and_outside_addresses(page, live_server, log_in, analyst,
                                                               no_policy_violations):
    log_in("alice")
    page.evaluate("""() => {
        window.__refused = [];
        document.addEventListener("securitypolicyviolation",
                                  (event) => window.__refused.push(event.effectiveDirective));
        const script = document.createElement("script");
        script.textContent = "window.__inline = true";
        document.body.append(script);
        const image = document.createElement("img");
        image.src = "https://cdn.example.org/pixel.png";
        document.body.append(image);
        const button = document.createElement("button");  // code in markup, which htmx would eval
        button.id = "evaluated";
        button.setAttribute("hx-on:click", "window.__evaluated = true");
        document.body.append(button);
        htmx.process(button);
    }""")
    page.click("#evaluated")
    page.wait_for_function("() => window.__refused.length >= 2")
    assert set(page.evaluate("() => window.__refused")) == {"script-src-elem", "img-src"}
    assert page.evaluate("() => [window.__inline, window.__evaluated]") == [None, None]
    assert page.evaluate("() => [htmx.config.allowEval, htmx.config.includeIndicatorStyles]") == [False, False]
    assert len(no_policy_violations) == 2  # and the browser said so on its console


def _suggestions(article, count):
    return list(Mention.objects.filter(article=article, status=Mention.Status.SUGGESTED)
                .order_by("start")[:count])


def _decide(page, mention, verb: str) -> None:
    """Click Confirm or Reject on the mention's row in the side list."""
    page.locator(f"#mention-row-{mention.pk}").get_by_role("button", name=f"{verb} {mention.text}").click()


@pytest.fixture
def pretagged(seed_articles, nlp):
    """The first seed article, pre-tagged."""
    extraction.pretag_many(seed_articles[:1], nlp=nlp)
    return seed_articles[0]


SENT_CONFIRMED = re.compile(r"^(?!.*\bis-pending\b).*\bis-confirmed\b")


def _refuse(route) -> None:
    route.abort("internetdisconnected")


def _go_offline(page) -> None:
    """Cut the connection as a cable would: the browser says it is offline (and the page knows
    it before the test goes on), and every request that still leaves the page fails. Chromium's
    offline emulation alone once let a decision taken right after it reach the server, in a
    CI run on a busy machine."""
    page.context.route("**/*", _refuse)
    page.context.set_offline(True)
    page.wait_for_function("() => !navigator.onLine")


def _go_online(context) -> None:
    context.unroute("**/*", _refuse)
    context.set_offline(False)


def _wait_for_worker(page):
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_ten_decisions_offline_across_two_articles_are_stored_once_in_order(
        page, live_server, log_in, screenshot, analyst, seed_articles, nlp):
    extraction.pretag_many(seed_articles, nlp=nlp)
    first, second = seed_articles[0], seed_articles[1]
    log_in("alice")
    _wait_for_worker(page)
    for article in (first, second):  # opened online: kept for offline use
        page.goto(f"{live_server.url}{article.get_absolute_url()}")
        _wait_for_worker(page)
    page.reload()  # now through the worker, which keeps the page
    page.goto(f"{live_server.url}{first.get_absolute_url()}")
    context = page.context
    _go_offline(page)

    taken = []  # (mention, action) in the order taken
    for mention in _suggestions(first, 3):
        _decide(page, mention, "Confirm")
        taken.append((mention, "mention.confirm"))
    for mention in _suggestions(first, 5)[3:]:
        _decide(page, mention, "Reject")
        taken.append((mention, "mention.reject"))
    expect(page.locator("#sync-status")).to_have_text("offline, 5 changes waiting")
    expect(page.locator(f"#mention-{taken[0][0].pk}")).to_have_class(re.compile(r"\bis-confirmed\b.*\bis-pending\b"))

    page.goto(f"{live_server.url}{second.get_absolute_url()}")  # offline: from the kept copy
    for mention in _suggestions(second, 4):
        _decide(page, mention, "Confirm")
        taken.append((mention, "mention.confirm"))
    last = _suggestions(second, 5)[4]
    _decide(page, last, "Reject")
    taken.append((last, "mention.reject"))
    expect(page.locator("#sync-status")).to_have_text("offline, 10 changes waiting")

    page.reload()  # served from the cache, the waiting decisions drawn again
    expect(page.locator(f"#mention-{last.pk}")).to_have_class(re.compile(r"\bis-rejected\b.*\bis-pending\b"))
    expect(page.locator("#sync-status")).to_have_text("offline, 10 changes waiting")
    screenshot("offline-ten-waiting")
    assert Event.objects.filter(action__in=["mention.confirm", "mention.reject"]).count() == 0

    page.close()  # the tab closed; a new one opens on the first article, still offline
    page = context.new_page()
    page.goto(f"{live_server.url}{first.get_absolute_url()}")
    expect(page.locator("#sync-status")).to_have_text("offline, 10 changes waiting")
    expect(page.locator(f"#mention-{taken[0][0].pk}")).to_have_class(re.compile(r"\bis-confirmed\b"))

    _go_online(context)  # back: the queue is sent, in order, once
    expect(page.locator("#sync-status")).to_be_hidden(timeout=15_000)
    page.wait_for_load_state()
    events = list(Event.objects.filter(action__in=["mention.confirm", "mention.reject"]).order_by("pk"))
    assert [(event.subject_id, event.action) for event in events] == [(m.pk, action) for m, action in taken]
    assert IdempotencyRecord.objects.filter(user=analyst).count() == 10
    for mention, action in taken:
        assert Mention.objects.get(pk=mention.pk).status == action.split(".")[1] + "ed"
    expect(page.locator(f"#mention-{taken[0][0].pk}")).to_have_class("mark label-" +
                                                                     taken[0][0].label.name.lower() + " is-confirmed")
    screenshot("offline-sent", on=page)


def _open_offline(page, live_server, log_in, article):
    """Logged in as alice, the article opened through the service worker, then the connection
    dropped."""
    log_in("alice")
    _wait_for_worker(page)
    page.goto(f"{live_server.url}{article.get_absolute_url()}")
    _go_offline(page)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_stale_offline_decision_is_shown_beside_the_current_state_and_the_analyst_chooses(
        page, live_server, log_in, screenshot, analyst, other_analyst, pretagged):
    article = pretagged
    mine_again, theirs = _suggestions(article, 2)
    _open_offline(page, live_server, log_in, article)
    _decide(page, mine_again, "Confirm")
    _decide(page, theirs, "Reject")
    expect(page.locator("#sync-status")).to_have_text("offline, 2 changes waiting")
    # Meanwhile bob, online, decides both the other way.
    decisions.reject(mine_again.pk, version=mine_again.version, by=other_analyst)
    decisions.confirm(theirs.pk, version=theirs.version, by=other_analyst)

    _go_online(page.context)
    problems = page.locator("#sync-problems")
    expect(problems.locator(".sync-problem")).to_have_count(2)
    first = problems.locator(".sync-problem").first
    expect(first).to_contain_text(f"Yours: confirm “{mine_again.text}”")
    expect(first).to_contain_text(f"Now: “{mine_again.text}” was changed by bob meanwhile: it is now rejected")
    screenshot("offline-conflict")
    assert Mention.objects.get(pk=mine_again.pk).status == Mention.Status.REJECTED  # not applied

    first.get_by_role("button", name="Apply mine again").click()
    expect(problems.locator(".sync-problem")).to_have_count(1)
    problems.get_by_role("button", name="Keep theirs").click()
    expect(problems).to_be_hidden()
    expect(page.locator(f"#mention-{mine_again.pk}")).to_have_class(SENT_CONFIRMED)  # reloaded once sent
    mine_again.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine_again.status, mine_again.decided_by) == (Mention.Status.CONFIRMED, analyst)
    assert (theirs.status, theirs.decided_by) == (Mention.Status.CONFIRMED, other_analyst)
    assert list(Event.objects.filter(subject_id=mine_again.pk, action__startswith="mention.c")
                .values_list("action", "actor__username")) == [("mention.confirm", "alice")]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_ended_session_keeps_the_queue_and_sends_it_after_logging_in(
        page, live_server, log_in, analyst, pretagged):
    article = pretagged
    mention = _suggestions(article, 1)[0]
    _open_offline(page, live_server, log_in, article)
    _decide(page, mention, "Confirm")
    Session.objects.all().delete()  # the session ends while the analyst is offline

    _go_online(page.context)
    expect(page.locator("#sync-status")).to_have_text("log in again to send 1 change")
    assert not Event.objects.filter(action="mention.confirm").exists()
    page.locator("#sync-login").click()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pass")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}{article.get_absolute_url()}")
    # Sent: the page reloads from the server, the mark no longer pending (the status line is
    # hidden, and the mark confirmed, from the moment the page loads, before anything is sent).
    expect(page.locator(f"#mention-{mention.pk}")).to_have_class(SENT_CONFIRMED)
    expect(page.locator("#sync-status")).to_be_hidden()
    assert Event.objects.filter(action="mention.confirm", subject_id=mention.pk).count() == 1


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_undo_offline_takes_the_last_waiting_decision_back_and_sends_nothing_for_it(
        page, live_server, log_in, analyst, pretagged):
    article = pretagged
    kept, undone = _suggestions(article, 2)
    _open_offline(page, live_server, log_in, article)
    _decide(page, kept, "Confirm")
    _decide(page, undone, "Reject")
    expect(page.locator("#sync-status")).to_have_text("offline, 2 changes waiting")
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#sync-status")).to_have_text("offline, 1 change waiting")
    expect(page.locator(f"#mention-{undone.pk}")).to_have_class(re.compile(r"^mark label-\w+ is-suggested$"))

    _go_online(page.context)
    expect(page.locator("#sync-status")).to_be_hidden()
    assert list(Event.objects.filter(action__in=["mention.confirm", "mention.reject", "mention.undo"])
                .values_list("action", "subject_id")) == [("mention.confirm", kept.pk)]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_articles_in_my_queue_open_offline_and_no_fragment_is_ever_kept(
        page, live_server, log_in, analyst, reviewer, seed_articles, nlp):
    extraction.pretag_many(seed_articles[:2], nlp=nlp)
    queued = seed_articles[1]
    review.assign(Article.objects.filter(pk=queued.pk), analyst, by=reviewer)
    log_in("alice")
    _wait_for_worker(page)
    page.goto(f"{live_server.url}/mine/")
    page.wait_for_function("""async (address) =>
        !!(await caches.match(address, { ignoreVary: true }))""",
                           arg=f"{live_server.url}{queued.get_absolute_url()}")
    # A fragment asked for online (a claim's links) goes to the network and is not kept.
    first_claim = queued.claims.order_by("start").first()
    page.goto(f"{live_server.url}{seed_articles[0].get_absolute_url()}")
    page.evaluate("(address) => htmx.ajax('GET', address, {target: '#messages', swap: 'innerHTML'})",
                  f"/claims/{first_claim.pk}/links/")
    page.wait_for_load_state("networkidle")

    _go_offline(page)
    page.goto(f"{live_server.url}{queued.get_absolute_url()}")  # never opened: fetched ahead
    expect(page.locator("h1")).to_have_text(queued.title)
    kept = page.evaluate("""async () => {
        const kept = [];
        for (const name of await caches.keys()) {
            const cache = await caches.open(name);
            for (const request of await cache.keys()) {
                const response = await cache.match(request, { ignoreVary: true });
                kept.push([request.url, response.headers.get("Content-Type"), (await response.text()).slice(0, 200)]);
            }
        }
        return kept;
    }""")
    pages = [(url, text) for url, kind, text in kept if kind.startswith("text/html")]
    assert pages and all("<!doctype html>" in text.lower() for _, text in pages), pages  # whole pages only
    assert not [url for url, _, _ in kept if "/links/" in url]
    assert page.evaluate("() => htmx.config.historyRestoreAsHxRequest") is False
    unkept = page.goto(f"{live_server.url}/figures/")  # never opened: said so, plainly
    assert unkept.status == 503
    expect(page.locator("h1")).to_have_text("You are offline")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_keyboard_pass_offline_ends_as_it_would_have_online(page, live_server, log_in, screenshot,
                                                              analyst, article):
    """The workbench's keyboard pass (tests/browser/test_workbench.py), taken offline: confirm,
    relabel, reject and undo, widen and narrow, add; each drawn at once, all sent on return."""
    log_in("alice")
    page.goto(live_server.url + article.get_absolute_url())
    _go_offline(page)
    keys = page.keyboard
    pending = re.compile(r"\bis-pending\b")

    keys.press("j")
    keys.press("c")
    expect(page.locator(f"#mention-row-{mention('Habib Essid').pk} .mention-status")).to_have_text(
        "Confirmed · waiting")
    keys.press("j")
    keys.press("3")  # PLACE
    expect(page.locator(f"#mention-{mention('Ben Guerdane').pk}")).to_have_class(
        "mark label-place is-confirmed is-pending")
    keys.press("j")
    keys.press("x")
    nato = page.locator(f"#mention-{mention('NATO').pk}")
    expect(nato).to_have_class(re.compile(r"\bis-rejected\b"))
    keys.press("u")  # taken back before it was ever sent
    expect(nato).to_have_class("mark label-group is-suggested")
    keys.press("j")
    tunis = page.locator(f"#mention-{mention('Tunis').pk}")
    keys.press("]")  # widen at the end, drawn at once: "Tunis" → "Tunis."
    expect(tunis).to_have_text("Tunis.")
    keys.press("}")  # and narrow back
    expect(tunis).to_have_text("Tunis")
    expect(tunis).to_have_class(pending)
    keys.press("]")
    keys.press("u")  # a widening taken back offline: the text is as it was
    expect(page.locator("#article-text")).to_have_text(re.compile(r"officials met in Tunis\.\s*$"))
    expect(tunis).to_have_text("Tunis")
    for _ in range(3):
        keys.press("k")
    keys.press("a")
    keys.press("ArrowRight")
    keys.press("Shift+ArrowRight")
    keys.press("4")  # FIGURE
    expect(page.locator("mark.label-figure.is-pending")).to_have_text("about 50")
    expect(page.locator("#sync-status")).to_have_text("offline, 5 changes waiting")
    legend = page.locator("#legend")  # counted again from the page
    expect(legend.locator("li").nth(0).locator(".counts")).to_have_text("1 confirmed · 0 to decide")
    expect(legend.locator("li").nth(2).locator(".counts")).to_have_text("1 confirmed · 1 to decide")
    expect(legend.locator("li").nth(3).locator(".counts")).to_have_text("1 confirmed · 0 to decide")
    screenshot("offline-keyboard-pass")
    assert not Event.objects.filter(action__startswith="mention.").exists()

    _go_online(page.context)
    expect(page.locator("#sync-status")).to_be_hidden(timeout=15_000)
    expect(page.locator("mark.label-figure")).to_have_class("mark label-figure is-confirmed")
    states = {m.text: (m.label.name, m.status) for m in Mention.objects.select_related("label")}
    assert states == {"Habib Essid": ("ACTOR", "confirmed"), "Ben Guerdane": ("PLACE", "confirmed"),
                      "NATO": ("GROUP", "suggested"), "Tunis": ("PLACE", "confirmed"),
                      "about 50": ("FIGURE", "confirmed")}
    decided = ["mention.confirm", "mention.relabel", "mention.reject", "mention.undo", "mention.resize",
               "mention.add"]
    assert list(Event.objects.filter(action__in=decided).order_by("pk").values_list("action", flat=True)) == [
        "mention.confirm", "mention.relabel", "mention.resize", "mention.resize", "mention.add"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_claim_decisions_offline_are_drawn_and_sent(page, live_server, log_in, analyst, seed_articles, nlp):
    extraction.pretag_many(seed_articles, nlp=nlp)  # claims in other articles: candidates to link
    article = seed_articles[0]
    log_in("alice")
    page.goto(f"{live_server.url}{article.get_absolute_url()}")
    keys = page.keyboard
    focused = "() => document.getElementById('annotation').dataset.focusedClaim"
    keys.press("t")  # the claims layer
    for _ in range(article.claims.count()):  # the first claim with a candidate to link to
        keys.press("j")
        panel = page.locator(f"#claim-links[data-claim='{page.evaluate(focused)}']")  # loaded online
        expect(panel).to_be_attached()
        if panel.locator(".candidate").count():
            break
    first = Claim.objects.get(pk=page.evaluate(focused))
    other = int(panel.locator(".candidate").first.get_attribute("data-other"))
    _go_offline(page)
    keys.press("c")
    keys.press("+")  # corroborated by the first candidate
    expect(page.locator("#claim-links .sources .link-corroborates.is-pending")).to_contain_text("Corroborates")
    keys.press("j")
    second = Claim.objects.get(pk=page.evaluate(focused))
    keys.press("x")
    expect(page.locator(f"#claim-row-{first.pk}")).to_have_class(re.compile(r"\bis-confirmed\b.*\bis-pending\b"))
    expect(page.locator(f"#claim-row-{second.pk} .claim-status")).to_have_text("Rejected · waiting")
    keys.press("o")  # on second thoughts: the article's own voice, which confirms it
    expect(page.locator(f"#claim-row-{second.pk} .claim-speaker")).to_have_text("the article itself")
    expect(page.locator(f"#claim-row-{second.pk} .claim-status")).to_have_text("Confirmed · waiting")
    expect(page.locator("#sync-status")).to_have_text("offline, 4 changes waiting")

    _go_online(page.context)
    expect(page.locator("#sync-status")).to_be_hidden(timeout=15_000)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status, second.speaker) == (Claim.Status.CONFIRMED, Claim.Status.CONFIRMED, "")
    assert ClaimLink.objects.filter(relation="corroborates").values_list("claim_id", "other_id").get() in (
        (first.pk, other), (other, first.pk))
    events = list(Event.objects.filter(action__in=["claim.confirm", "claim.reject", "claim.speaker", "claim.link"])
                  .order_by("pk").values_list("action", "subject_id"))
    assert [action for action, _ in events] == ["claim.confirm", "claim.link", "claim.reject", "claim.speaker"]
    assert [subject for _, subject in events[::2]] == [first.pk, second.pk]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_decision_whose_answer_was_lost_is_sent_again_and_applied_once(
        page, live_server, log_in, analyst, pretagged):
    """The request reaches the server, which applies it, but the answer never comes back: the
    page queues it with the same key, sends it again, and the server answers from its record."""
    article = pretagged
    mention = _suggestions(article, 1)[0]
    log_in("alice")
    page.goto(f"{live_server.url}{article.get_absolute_url()}")
    arrived = []

    def lose_the_answer(route):
        arrived.append(route.fetch())  # the server applies it
        route.abort("connectionreset")  # and the browser never hears of it

    page.route(f"**/mentions/{mention.pk}/confirm/", lose_the_answer, times=1)
    answers = []
    page.on("response", lambda response: answers.append(response.headers.get("idempotent-replay"))
            if response.request.method == "POST" else None)
    _decide(page, mention, "Confirm")
    expect(page.locator(f"#mention-{mention.pk}")).to_have_class(re.compile(r"^mark label-\w+ is-confirmed$"),
                                                                  timeout=15_000)
    assert arrived[0].status == 200
    assert answers[-1] == "true"  # the second sending was answered from the record
    expect(page.locator("#sync-problems")).to_be_hidden()
    assert Event.objects.filter(action="mention.confirm", subject_id=mention.pk).count() == 1
    record = IdempotencyRecord.objects.get(user=analyst)
    assert record.path == f"/mentions/{mention.pk}/confirm/"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_confirm_all_and_submit_offline(page, live_server, log_in, analyst, article):
    log_in("alice")
    page.goto(live_server.url + article.get_absolute_url())
    _go_offline(page)
    page.locator("#group-actor").get_by_role("button", name="Confirm all 2").click()
    for name in ("Habib Essid", "Ben Guerdane"):
        expect(page.locator(f"#mention-{mention(name).pk}")).to_have_class("mark label-actor is-confirmed is-pending")
    expect(page.locator("#legend li").first.locator(".counts")).to_have_text("2 confirmed · 0 to decide")
    asked = []
    page.once("dialog", lambda dialog: asked.append(dialog.message) or dialog.accept())
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("#article-status")).to_have_class(re.compile(r"\bis-pending\b"))
    assert asked == ["2 suggestions are still undecided. Submit for review anyway?"]
    expect(page.locator("#sync-status")).to_have_text("offline, 2 changes waiting")

    _go_online(page.context)
    expect(page.locator("#sync-status")).to_be_hidden(timeout=15_000)
    assert {m.text: m.status for m in Mention.objects.filter(label__name="ACTOR")} == {
        "Habib Essid": "confirmed", "Ben Guerdane": "confirmed"}
    article.refresh_from_db()
    assert article.status == Article.Status.SUBMITTED


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_queue_survives_closing_the_browser(page, browser, live_server, log_in, analyst, pretagged):
    article = pretagged
    mentions = _suggestions(article, 2)
    _open_offline(page, live_server, log_in, article)
    for mention in mentions:
        _decide(page, mention, "Confirm")
    expect(page.locator("#sync-status")).to_have_text("offline, 2 changes waiting")
    profile = page.context.storage_state(indexed_db=True)  # what the browser keeps on disk
    page.context.close()

    reopened = browser.new_context(storage_state=profile)  # the browser started again, online
    try:
        again = reopened.new_page()
        again.goto(f"{live_server.url}{article.get_absolute_url()}")
        expect(again.locator(f"#mention-{mentions[1].pk}")).to_have_class(re.compile(r"^mark label-\w+ is-confirmed$"),
                                                                          timeout=15_000)
        expect(again.locator("#sync-status")).to_be_hidden()
    finally:
        reopened.close()
    assert [event.subject_id for event in Event.objects.filter(action="mention.confirm").order_by("pk")] == [
        mention.pk for mention in mentions]
