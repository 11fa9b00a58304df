"""Real-browser tests of the chat widget: the real app in uvicorn, Debian's Chromium, Playwright.

A missing browser is a failure, never a skip: these tests are the only proof that the widget
works for a person.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Route, sync_playwright

from .helpers import NEUTRAL_PAGE, NEUTRAL_STUB, Chat

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def _serve(app: object) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a background thread on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        if not thread.is_alive():
            pytest.fail("uvicorn stopped while starting the app")
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start within 60 s")
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(base + "/healthz", timeout=10) as r:
        assert r.status == 200
    try:
        yield base
    finally:
        srv.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """The real app (bot.api), as `bot.api:app` is built, but without the per-client rate limit:
    every test comes from 127.0.0.1 and the suite sends far more than a person would.
    The real limit is tried on its own server by `limited_server`."""
    from bot.api import create_app
    from bot.config import Settings

    # /metrics on the public port here, so a test can read the feedback counter back.
    yield from _serve(create_app(Settings(rate_limit_enabled=False, metrics_public=True)))


@pytest.fixture(scope="session")
def host_site() -> Iterator[tuple[str, dict[str, tuple[str, str]]]]:
    """Another site (a charity's own server) on its own origin: serves `pages[path] = (html,
    csp)`. A real server, not page.route: Chromium only lets a page that really came from
    loopback reach another loopback origin."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, PlainTextResponse, Response
    from starlette.routing import Route as Path_

    pages: dict[str, tuple[str, str]] = {}

    async def serve(request: Request) -> Response:
        if request.url.path == "/healthz":
            return PlainTextResponse("ok")
        if request.url.path not in pages:
            return Response(status_code=404)
        html, csp = pages[request.url.path]
        return HTMLResponse(html, headers={"Content-Security-Policy": csp})

    for base in _serve(Starlette(routes=[Path_("/{path:path}", serve)])):
        yield base, pages


@pytest.fixture(scope="session")
def api_elsewhere(host_site: tuple[str, dict]) -> Iterator[str]:
    """A second copy of the real app on another origin, allowing the host site by CORS:
    a charity's page on one site embedding the widget and API from another."""
    from bot.api import create_app
    from bot.config import Settings

    settings = Settings(rate_limit_enabled=False, cors_origins=host_site[0])
    yield from _serve(create_app(settings))


@pytest.fixture()
def limited_server() -> Iterator[str]:
    """The real app with a tiny rate limit (2 requests per route, then 1 a minute)."""
    from bot.api import create_app
    from bot.config import Settings

    settings = Settings(rate_limit_enabled=True, rate_limit_burst=2, rate_limit_per_minute=1)
    yield from _serve(create_app(settings))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)"
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _guard(*servers: str) -> Callable[[Route], None]:
    """Context-wide route: our servers pass, the neutral page is a local stub, all else is cut."""
    prefixes = tuple(s + "/" for s in servers)

    def handle(route: Route) -> None:
        url = route.request.url
        if url.endswith("/favicon.ico") and url.startswith(prefixes):
            route.fulfill(status=204)  # the test host pages have no icon; keep the console clean
        elif url.startswith(prefixes):
            route.continue_()
        elif url.startswith(NEUTRAL_PAGE):
            route.fulfill(status=200, content_type="text/html", body=NEUTRAL_STUB)
        else:
            route.abort()

    return handle


# Records CSP violations from the very start of every document (init scripts bypass CSP).
CSP_RECORDER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push({directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample});
}, true);
"""


@pytest.fixture()
def make_chat(browser: Browser, server: str) -> Iterator[Callable[..., Chat]]:
    """Factory: a fresh browser context + page on `base` (default: the real app's server);
    `also`: other servers the page may reach; other options as for browser.new_context."""
    contexts: list[BrowserContext] = []

    def make(base: str | None = None, also: tuple[str, ...] = (), **options: object) -> Chat:
        base = base or server
        opts: dict = {"viewport": {"width": 1280, "height": 800}, "service_workers": "block"}
        opts.update(options)
        ctx = browser.new_context(base_url=base, **opts)
        contexts.append(ctx)
        ctx.route("**/*", _guard(base, *also))
        ctx.add_init_script(CSP_RECORDER)
        return Chat(ctx.new_page(), ctx, base)

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture()
def chat(make_chat: Callable[..., Chat]) -> Chat:
    return make_chat()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
