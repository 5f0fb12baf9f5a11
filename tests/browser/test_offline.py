"""Offline-first in Chromium: the Content-Security-Policy holds in the browser."""

import pytest


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
