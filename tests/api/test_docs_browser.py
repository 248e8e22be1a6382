"""The interactive API docs in a real browser (Debian's Chromium, headless, via Playwright): Swagger
UI loads from our own static files, lists our operations, and fetches nothing from elsewhere."""

import os

import pytest

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.usefixtures("chromium_installed"),
]


@pytest.fixture
def page(live_server):
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
            )
            yield browser.new_page()
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def test_swagger_ui_lists_our_operations_from_local_assets_only(page, live_server, db):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/api/schema/docs/", timeout=30_000)
    page.wait_for_selector(".opblock-summary", timeout=30_000)
    # Swagger UI renders only the operations near the viewport: scroll through the page and collect
    # the summaries seen on the way.
    summaries = {"Create a connector", "Run a connector", "List connector types", "Create a space"}
    seen = set()
    for _ in range(400):
        text = page.inner_text("body")
        seen |= {summary for summary in summaries if summary in text}
        if seen == summaries:
            break
        page.mouse.wheel(0, 1500)
        page.wait_for_timeout(50)
    assert seen == summaries
    assert requested
    outside = [
        url for url in requested if not url.startswith(live_server.url) and not url.startswith("data:")
    ]
    assert outside == []
