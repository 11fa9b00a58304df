"""A small driver for the widget, shared by the browser tests."""

from __future__ import annotations

import json
import re
from typing import Any

from axe_playwright_python.sync_playwright import Axe
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


AXE = Axe()
# Every rule axe runs by default (WCAG A/AA and best practice), not only the WCAG tags.
AXE_OPTIONS = {"resultTypes": ["violations"]}


def assert_axe_clean(chat: Chat, when: str) -> None:
    # Mid-fade, text is part transparent and axe measures a contrast nobody sees.
    chat.settle()
    results = AXE.run(chat.page, options=AXE_OPTIONS)
    details = [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + "; ".join(str(n.get("target")) for n in v["nodes"][:5])
        for v in results.response["violations"]
    ]
    assert results.violations_count == 0, f"axe, {when}:\n" + "\n".join(details)


WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
# Made-up opening hours for the test: the real ones live in the content registry.
NSPCC = {
    "id": "nspcc_helpline",
    "name": "NSPCC helpline",
    "for": "Adults worried about a child",
    "description": "Talk to a child-protection expert.",
    "phone": "0808 800 5000",
    "email": "help@nspcc.org.uk",
    "url": "https://www.nspcc.org.uk/",
    "contact_url": "https://www.nspcc.org.uk/keeping-children-safe/reporting-abuse/",
    "hours": "Monday to Friday 8am to 10pm, weekends 9am to 6pm",
    "open_now": True,  # computed by the server earlier: the browser must not trust it
    "opening": [
        {"days": WEEKDAYS, "opens": "08:00", "closes": "22:00"},
        {"days": ["sat", "sun"], "opens": "09:00", "closes": "18:00"},
    ],
    "channels": [
        {"kind": "phone", "value": "0808 800 5000", "label": "Call 0808 800 5000"},
        {"kind": "email", "value": "help@nspcc.org.uk", "label": "Email help@nspcc.org.uk"},
        {
            "kind": "report",
            "value": "https://www.nspcc.org.uk/keeping-children-safe/reporting-abuse/",
            "label": "Report a worry online",
        },
    ],
}
CHILDLINE_CHAT = "https://www.childline.org.uk/get-support/1-2-1-counsellor-chat/"
CHILDLINE_FULL = {
    "id": "childline",
    "name": "Childline",
    "for": "Children and young people up to 19",
    "description": "Free and private, about anything.",
    "phone": "0800 1111",
    "url": "https://www.childline.org.uk/",
    "contact_url": CHILDLINE_CHAT,
    "hours": "24 hours, every day",
    "open_now": True,
    "opening": [],
    "channels": [
        {"kind": "phone", "value": "0800 1111", "label": "Call 0800 1111"},
        {"kind": "chat", "value": CHILDLINE_CHAT, "label": "Chat 1-2-1 online"},
    ],
}
SHOUT = {
    "id": "shout",
    "name": "Shout",
    "for": "Anyone who is struggling",
    "description": "Support by text, any time.",
    "text": "Text SHOUT to 85258",
    "sms": "85258",
    "hours": "24 hours, every day",
    "open_now": True,
    "opening": [],
    "channels": [{"kind": "text", "value": "85258", "label": "Text SHOUT to 85258"}],
}
SAMARITANS = {
    "id": "samaritans",
    "name": "Samaritans",
    "for": "Anyone",
    "description": "Free, any time.",
    "phone": "116 123",
    "hours": "24 hours, every day",
    "open_now": True,
    "opening": [],
    "channels": [{"kind": "phone", "value": "116 123", "label": "Call 116 123"}],
    "contact_url": None,
}
LISTS = {"parent": [NSPCC, SHOUT, SAMARITANS], "young_person": [CHILDLINE_FULL, SHOUT, SAMARITANS]}


def serve_helplines(chat: Chat, bare_list: bool = False) -> list[str]:
    """Answer GET /api/helplines?audience=... like the contract; returns the audiences asked."""
    asked: list[str] = []

    def handle(route: Route) -> None:
        audience = re.search(r"audience=([a-z_]+)", route.request.url)
        asked.append(audience.group(1) if audience else "")
        items = LISTS.get(asked[-1], LISTS["young_person"])
        fulfil_json(route, items if bare_list else {"helplines": items})  # type: ignore[arg-type]

    chat.page.route("**/api/helplines*", handle)
    return asked
