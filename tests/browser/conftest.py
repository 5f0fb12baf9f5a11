from pathlib import Path

import pytest
from django.conf import settings

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Debian's Chromium: Playwright cannot download its own browser here.
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium",
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


@pytest.fixture
def screenshot(page):
    """Keep a screenshot as a test artefact: screenshot("name"), or of another page than the
    test's first: screenshot("name", on=other)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str, on=None) -> Path:
        path = ARTIFACTS / f"{name}.png"
        (on or page).screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def log_in(page, live_server):
    def as_user(username: str, password: str = "pass") -> None:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/articles/")

    return as_user


@pytest.fixture(autouse=True)
def no_policy_violations(request):
    """Every browser test fails on anything the Content-Security-Policy refused (an inline
    style or script, an eval, an address outside the app): the browser reports each one."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    refused = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield refused
    if "policy_violations_expected" not in request.keywords:
        assert not refused, refused
