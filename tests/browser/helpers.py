"""A small driver for the widget, shared by the browser tests."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import BrowserContext, Page, Request, Route, expect

NEUTRAL_PAGE = "https://www.bbc.co.uk/weather"
NEUTRAL_STUB = "<!doctype html><html lang=en><title>Weather</title><p>Weather forecast</p></html>"

HELPLINES_OFFLINE = {"0800 1111": "tel:08001111", "0808 800 5000": "tel:08088005000"}

CHILDLINE = {
    "id": "childline",
    "name": "Childline",
    "phone": "0800 1111",
    "url": "https://www.childline.org.uk/",
    "description": "Free and private.",
}
EMERGENCY = {
    "id": "emergency",
    "name": "Police, ambulance or fire (999)",
    "phone": "999",
    "description": "If you or someone else is in danger right now, call 999.",
}


def fake_reply(**fields: Any) -> dict:
    """A well-formed /api/chat reply, for page.route."""
    reply = {
        "intent": "online_grooming",
        "confidence": 0.9,
        "safety": "none",
        "answer": "An answer.",
        "signposts": [CHILDLINE],
        "suggestions": [],
        "context": {"fake": True},
        "audience": "young_person",
    }
    reply.update(fields)
    return reply


def fulfil_json(route: Route, body: dict, status: int = 200, headers: dict | None = None) -> None:
    route.fulfill(
        status=status,
        content_type="application/json",
        headers=headers or {},
        body=json.dumps(body),
    )


def host_page(script_attrs: str, title: str = "Host page") -> str:
    """A minimal host page embedding the widget with one tag and nothing inline."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head>"
        f"<body><main><h1>{title}</h1><p>Some host content.</p></main>"
        f'<script src="/widget/signpost.js" {script_attrs} defer></script></body></html>'
    )


FOCUS_JS = """() => {
  const host = document.activeElement;
  if (!host || host.localName !== 'signpost-widget') return null;
  const el = host.shadowRoot.activeElement;
  if (!el) return {cls: '', text: '', tag: ''};
  return {cls: el.className, text: el.textContent.trim(), tag: el.localName};
}"""


class Chat:
    """Drives the widget on one page and records what the page did."""

    def __init__(self, page: Page, context: BrowserContext, server: str) -> None:
        self.page = page
        self.context = context
        self.server = server
        self.requests: list[Request] = []
        self.console_errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r))
        page.on(
            "console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None
        )
        page.on("pageerror", lambda e: self.console_errors.append(f"pageerror: {e}"))
        self.launcher = page.locator(".sp-launcher")
        self.panel = page.locator(".sp-panel")
        self.log = page.locator(".sp-log")
        self.input = page.locator(".sp-input")
        self.bot = page.locator(".sp-log .sp-bot")
        self.user = page.locator(".sp-log .sp-user")
        self.status = page.locator("[role=status]")
        self.typing = page.locator(".sp-typing")

    # ---- navigation ----
    def goto(self, path: str = "/") -> None:
        self.page.goto(path)
        self.wait_ready()

    def wait_ready(self) -> None:
        # The widget shows itself once its stylesheet has loaded.
        expect(self.launcher).to_be_visible()

    # ---- actions ----
    def open(self) -> None:
        self.launcher.click()
        expect(self.panel).to_be_visible()
        expect(self.launcher).to_have_attribute("aria-expanded", "true")
        expect(self.log).to_contain_text("Who is using this?")
        self.settle()

    def button(self, name: str):
        return self.page.get_by_role("button", name=name, exact=True)

    def choose(self, label: str) -> None:
        n = self.bot.count()
        self.button(label).click()
        expect(self.bot).to_have_count(n + 1)
        expect(self.typing).to_be_hidden()

    def start(self, audience: str = "I'm a young person", path: str = "/") -> None:
        self.goto(path)
        self.open()
        self.choose(audience)

    def ask(self, text: str):
        """Type a question, press Enter, return the locator of the new bot message."""
        n = self.bot.count()
        self.input.fill(text)
        self.input.press("Enter")
        expect(self.bot).to_have_count(n + 1)
        expect(self.typing).to_be_hidden()
        return self.bot.nth(n)

    def settle(self) -> None:
        """Wait for the widget's animations (panel opening, typing dots aside) to finish."""
        self.page.evaluate("""() => Promise.all(document.querySelector('signpost-widget').shadowRoot
          .getAnimations().filter(a => a.effect && a.effect.getTiming().iterations !== Infinity)
          .map(a => a.finished))""")

    # ---- inspection ----
    def focused(self) -> dict | None:
        return self.page.evaluate(FOCUS_JS)

    def chat_requests(self) -> list[dict]:
        return [
            r.post_data_json
            for r in self.requests
            if r.method == "POST" and r.url.endswith("/api/chat")
        ]

    def csp_violations(self) -> list[dict]:
        return self.page.evaluate("window.__csp || []")
