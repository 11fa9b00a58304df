"""WCAG 2.2 AA with axe-core, small screens, zoom, reduced motion, focus, screenshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .helpers import EMERGENCY, Chat, assert_axe_clean, fake_reply, fulfil_json, serve_helplines

pytestmark = pytest.mark.browser


def test_axe_closed_open_and_answered(chat: Chat) -> None:
    chat.goto()
    assert_axe_clean(chat, "widget closed")
    chat.open()
    assert_axe_clean(chat, "widget open")
    chat.choose("I'm a young person")
    answer = chat.ask("what is grooming")
    expect(answer.locator(".sp-card").first).to_be_visible()
    assert_axe_clean(chat, "after an answer with signposts")


def test_axe_emergency_did_you_mean_and_error(chat: Chat) -> None:
    chat.start("I'm a parent or carer")
    replies = iter(
        [
            lambda r: fulfil_json(
                r,
                fake_reply(
                    intent="immediate_danger",
                    safety="emergency",
                    answer=(
                        "**Call 999 now.**\n\n- You did the right thing.\n- It is not your fault."
                    ),
                    signposts=[EMERGENCY],
                ),
            ),
            lambda r: fulfil_json(
                r,
                fake_reply(
                    intent="disclosure", safety="urgent", answer="Thank you for telling me."
                ),
            ),
            lambda r: fulfil_json(
                r,
                fake_reply(
                    intent="fallback",
                    answer="Sorry, I'm not sure.",
                    suggestions=[{"label": "Online grooming", "message": "what is grooming"}],
                ),
            ),
            lambda r: fulfil_json(
                r, {"detail": "slow down"}, status=429, headers={"Retry-After": "5"}
            ),
        ]
    )
    chat.page.route("**/api/chat", lambda r: next(replies)(r))
    for text in ("help", "something happened", "gromin", "again"):
        chat.ask(text)
    assert_axe_clean(chat, "emergency, urgent, did-you-mean and error messages")


def _answer_with_more_and_urgent(chat: Chat) -> None:
    """Contract-shaped replies (the `more` field, helplines with hours), from page.route."""
    serve_helplines(chat)
    replies = iter(
        [
            fake_reply(
                answer="Don't send anything. Call [Childline](https://www.childline.org.uk/).",
                more="- Block them.\n- Report them to the app.\n\nYou can call 0800 1111.",
            ),
            fake_reply(intent="disclosure", safety="urgent", answer="Thank you for telling me."),
        ]
    )
    chat.page.route("**/api/chat", lambda r: fulfil_json(r, next(replies)))
    answer = chat.ask("he keeps asking for pics")
    answer.get_by_text("Tell me more").click()
    answer.locator(".sp-card").first.get_by_text("More ways").click()
    expect(answer.get_by_text("Block them.")).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_tell_me_more_talk_feedback_and_about(
    make_chat: Callable[..., Chat], scheme: str
) -> None:
    chat = make_chat(color_scheme=scheme)
    chat.page.clock.set_fixed_time("2026-12-02T03:00:00Z")
    chat.goto()
    assert_axe_clean(chat, f"{scheme}: closed, with the page Quick exit")
    chat.page.keyboard.press("Shift")
    expect(chat.page.locator(".sp-shift")).to_be_visible()
    assert_axe_clean(chat, f"{scheme}: Shift pressed once")
    chat.page.keyboard.press("a")
    chat.open()
    assert_axe_clean(chat, f"{scheme}: open")
    chat.choose("I'm a young person")
    _answer_with_more_and_urgent(chat)
    assert_axe_clean(chat, f"{scheme}: after Tell me more and More ways")
    chat.page.locator(".sp-fb").first.get_by_role("button", name="Yes").click()
    chat.ask("something happened to me")
    chat.button("Talk to someone now").click()
    chat.button("About this chat").click()
    expect(chat.page.locator(".sp-talk")).to_have_count(2)
    assert_axe_clean(chat, f"{scheme}: urgent answer, feedback given, talk list, about")


@pytest.mark.parametrize("width,height,name", [(1280, 800, "desktop"), (375, 812, "mobile-375")])
def test_screenshots(
    make_chat: Callable[..., Chat], artifacts: Path, width: int, height: int, name: str
) -> None:
    chat = make_chat(viewport={"width": width, "height": height})
    chat.goto()
    chat.page.screenshot(path=str(artifacts / f"{name}-closed.png"))
    chat.open()
    chat.page.screenshot(path=str(artifacts / f"{name}-open.png"))
    chat.choose("I'm a young person")
    chat.ask("what is grooming")
    chat.settle()
    path = artifacts / f"{name}-answer.png"
    chat.page.screenshot(path=str(path))
    assert path.stat().st_size > 5000


def _panel_fits(chat: Chat) -> dict:
    return chat.page.evaluate("""() => {
      const root = document.querySelector('signpost-widget').shadowRoot;
      const r = root.querySelector('.sp-panel').getBoundingClientRect();
      const inView = (sel) => {
        const b = root.querySelector(sel).getBoundingClientRect();
        return b.width > 0 && b.left >= 0 && b.top >= 0 &&
               b.right <= innerWidth + 0.5 && b.bottom <= innerHeight + 0.5;
      };
      const overflow = [...root.querySelectorAll('.sp-panel *')]
        .filter(e => e.scrollWidth > e.clientWidth + 1 && !e.classList.contains('sp-sr')
                     && getComputedStyle(e).overflowX !== 'visible')
        .map(e => e.className);
      return {
        left: r.left, top: r.top, width: r.width, height: r.height, vw: innerWidth, vh: innerHeight,
        exit: inView('.sp-exit'), close: inView('.sp-close'), input: inView('.sp-input'),
        send: inView('.sp-send'), clear: inView('.sp-clear'), overflow,
        pageScrollX: document.documentElement.scrollWidth > innerWidth,
      };
    }""")


@pytest.mark.parametrize(
    "viewport,scale",
    [({"width": 320, "height": 568}, 1), ({"width": 640, "height": 400}, 2)],
    ids=["320px", "zoom-200pct-of-1280x800"],
)
def test_full_screen_on_small_screens_and_zoom(
    make_chat: Callable[..., Chat], viewport: dict, scale: int, artifacts: Path
) -> None:
    chat = make_chat(viewport=viewport, device_scale_factor=scale)
    chat.goto()
    chat.open()
    chat.choose("I'm a young person")
    answer = chat.ask("what is grooming")
    expect(answer.locator(".sp-card").first).to_be_visible()
    m = _panel_fits(chat)
    assert (m["left"], m["top"], m["width"], m["height"]) == (0, 0, m["vw"], m["vh"]), m
    for part in ("exit", "close", "input", "send", "clear"):
        assert m[part], f"{part} not fully on screen: {m}"
    assert m["overflow"] == [], m
    chat.settle()
    chat.page.screenshot(
        path=str(artifacts / f"small-{viewport['width']}x{viewport['height']}.png")
    )
    # Full screen acts as a modal dialog: Tab cycles inside the panel, never to hidden page links.
    expect(chat.panel).to_have_attribute("aria-modal", "true")
    chat.page.locator(".sp-clear").focus()
    chat.page.keyboard.press("Tab")
    assert "sp-exit" in chat.focused()["cls"]
    chat.page.keyboard.press("Shift+Tab")
    assert "sp-clear" in chat.focused()["cls"]
    # Closing gives the launcher back, with focus on it.
    chat.page.keyboard.press("Escape")
    expect(chat.launcher).to_be_visible()
    assert "sp-launcher" in chat.focused()["cls"]


def test_reduced_motion_is_respected(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(reduced_motion="reduce")
    chat.goto()
    chat.open()
    held = []
    chat.page.route("**/api/chat", lambda r: held.append(r))
    chat.choose("Skip")
    chat.input.fill("what is grooming")
    chat.input.press("Enter")
    expect(chat.typing).to_be_visible()
    names = chat.page.evaluate("""() => {
      const root = document.querySelector('signpost-widget').shadowRoot;
      return [...root.querySelectorAll('.sp-panel, .sp-typing span')]
        .map(e => getComputedStyle(e).animationName);
    }""")
    assert names and set(names) == {"none"}
    chat.page.wait_for_timeout(50)
    held[0].fallback()
    expect(chat.typing).to_be_hidden()

    moving = make_chat()
    moving.goto()
    moving.open()
    assert (
        moving.page.evaluate("""() => getComputedStyle(document.querySelector('signpost-widget')
      .shadowRoot.querySelector('.sp-panel')).animationName""")
        != "none"
    )


def test_focus_is_visible(chat: Chat) -> None:
    chat.goto()
    chat.launcher.focus()
    chat.page.keyboard.press("Enter")
    style = chat.page.evaluate("""() => {
      const el = document.querySelector('signpost-widget').shadowRoot.activeElement;
      const s = getComputedStyle(el);
      return {outline: s.outlineStyle, width: s.outlineWidth, shadow: s.boxShadow};
    }""")
    assert style["outline"] == "solid" and style["width"] == "3px", style
    assert style["shadow"] != "none"


def test_launcher_and_regions_have_names(chat: Chat) -> None:
    chat.goto()
    launcher = chat.page.get_by_role("button", name="Get help")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    assert chat.launcher.evaluate("e => e.localName") == "button"
    chat.open()
    expect(chat.page.get_by_role("dialog", name="Signpost")).to_be_visible()
    expect(chat.page.get_by_role("log", name="Conversation")).to_be_visible()
    expect(chat.page.get_by_role("textbox", name="Your question")).to_be_visible()
    expect(chat.page.locator(".sp-privacy")).to_contain_text("We don't save what you type")
