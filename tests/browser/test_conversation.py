"""The conversation: audience, a real answer with signposts, quick replies, keyboard, clear."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Route, expect

from .helpers import EMERGENCY, Chat, fake_reply, fulfil_json

pytestmark = pytest.mark.browser


def test_open_pick_audience_ask_grooming(chat: Chat) -> None:
    chat.goto()
    expect(chat.panel).to_be_hidden()
    expect(chat.launcher).to_have_attribute("aria-expanded", "false")
    chat.open()
    expect(chat.log).to_have_attribute("role", "log")
    for label in ("I'm a young person", "I'm a parent or carer", "Skip"):
        expect(chat.button(label)).to_be_visible()
    chat.choose("I'm a young person")
    expect(chat.user.last).to_contain_text("I'm a young person")
    # The welcome offers the young person's own menu (GET /api/topics?audience=, from
    # content/menu.yaml) as quick replies.
    expect(chat.page.locator(".sp-topics .sp-reply").first).to_have_text(
        "Someone is asking me for pictures"
    )

    with chat.page.expect_response("**/api/chat") as info:
        answer = chat.ask("what is grooming")
    first = info.value.json()
    assert first["intent"] == "online_grooming"
    expect(chat.user.last).to_contain_text("what is grooming")
    expect(answer).to_contain_text(re.compile("groom", re.I))
    # Signposts: Childline first for a young person, one call button, the website under
    # "More ways", in this tab (a new tab would outlive Quick exit).
    cards = answer.locator(".sp-card")
    expect(cards.first).to_contain_text("Childline")
    expect(cards.first.locator(":scope > .sp-card-actions a")).to_have_count(1)
    expect(cards.first.locator('a[href^="tel:"]')).to_have_attribute("href", "tel:08001111")
    website = cards.first.locator('.sp-ways a[href^="https://"]').first
    expect(website).to_be_hidden()
    cards.first.get_by_text("More ways").click()
    expect(website).to_be_visible()
    expect(website).not_to_have_attribute("target", "_blank")
    # The widget sent the audience, no context yet, then sends back the context it was given.
    with chat.page.expect_response("**/api/chat"):
        chat.ask("how do I report it")
    sent = chat.chat_requests()
    assert sent[0] == {"message": "what is grooming", "audience": "young_person", "context": None}
    assert sent[1]["audience"] == "young_person"
    assert sent[1]["context"] == first["context"]


def test_parent_gets_nspcc_first(chat: Chat) -> None:
    chat.start("I'm a parent or carer")
    expect(chat.page.locator(".sp-topics .sp-reply").first).to_have_text(
        "I'm worried my child is being groomed"
    )
    answer = chat.ask("what is grooming")
    expect(answer.locator(".sp-card").first).to_contain_text("NSPCC")
    assert chat.chat_requests()[0]["audience"] == "parent"


def test_quick_replies(chat: Chat) -> None:
    chat.start()
    # A topic from the welcome menu.
    topic = chat.page.locator(".sp-topics .sp-reply").first
    label = topic.inner_text()
    n = chat.bot.count()
    topic.click()
    expect(chat.bot).to_have_count(n + 1)
    expect(chat.user.last).to_have_text(re.compile(re.escape(label)))
    expect(chat.page.locator(".sp-topics")).to_have_count(0)  # old choices are gone

    # A suggestion offered after an answer.
    answer = chat.ask("what is grooming")
    expect(answer).to_be_visible()
    reply = chat.page.locator(".sp-replies-wrap .sp-reply").first
    expect(reply).to_be_visible()
    label = reply.inner_text()
    n = chat.bot.count()
    reply.click()
    expect(chat.bot).to_have_count(n + 1)
    expect(chat.user.last).to_contain_text(label)
    # Focus goes back to the text box, not lost with the removed button.
    assert chat.focused()["cls"] == "sp-input"
    last = chat.chat_requests()[-1]
    assert last["message"] and last["context"] is not None


def test_did_you_mean_choices(chat: Chat) -> None:
    calls = {"n": 0}

    def handle(route: Route) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            fulfil_json(
                route,
                fake_reply(
                    intent="fallback",
                    confidence=0.5,
                    answer="Sorry, I'm not sure what you mean.",
                    suggestions=[
                        {"label": "Online grooming", "message": "what is grooming"},
                        {"label": "Making a report", "message": "how do I report"},
                    ],
                ),
            )
        else:
            route.fallback()

    chat.start()
    chat.page.route("**/api/chat", handle)
    chat.ask("gromming??")
    expect(chat.page.locator(".sp-dym")).to_be_visible()
    expect(chat.log).to_contain_text("Did you mean:")
    group = chat.page.get_by_role("group", name="Did you mean:")
    expect(group.get_by_role("button")).to_have_count(2)
    n = chat.bot.count()
    group.get_by_role("button", name="Online grooming").click()
    expect(chat.bot).to_have_count(n + 1)
    assert chat.chat_requests()[-1]["message"] == "what is grooming"


def test_plain_fallback_flagged_by_api_offers_suggestions(chat: Chat) -> None:
    chat.start()
    chat.page.route(
        "**/api/chat",
        lambda r: fulfil_json(
            r,
            fake_reply(
                intent="fallback",
                did_you_mean=False,
                answer="Sorry, I didn't understand that.",
                suggestions=[{"label": "What is grooming?", "message": "what is grooming"}],
            ),
        ),
    )
    chat.ask("asdfgh")
    expect(chat.page.locator(".sp-dym")).to_have_count(0)
    expect(chat.page.get_by_role("group", name="You could ask:")).to_be_visible()


def test_keyboard_only_flow(chat: Chat) -> None:
    chat.goto()
    page = chat.page
    for _ in range(60):
        page.keyboard.press("Tab")
        f = chat.focused()
        if f and "sp-launcher" in f["cls"]:
            break
    else:
        pytest.fail("Tab never reached the launcher")
    page.keyboard.press("Enter")
    expect(chat.panel).to_be_visible()
    # Focus lands on the first audience choice; Tab moves along the choices.
    assert chat.focused()["text"] == "I'm a young person"
    page.keyboard.press("Tab")
    assert chat.focused()["text"] == "I'm a parent or carer"
    n = chat.bot.count()
    page.keyboard.press("Enter")
    expect(chat.bot).to_have_count(n + 1)
    expect(chat.typing).to_be_hidden()
    assert chat.focused()["cls"] == "sp-input"
    page.keyboard.type("what is grooming")
    n = chat.bot.count()
    page.keyboard.press("Enter")
    expect(chat.bot).to_have_count(n + 1)
    expect(chat.typing).to_be_hidden()
    assert chat.focused()["cls"] == "sp-input"
    # Shift+Tab from the text box reaches the last quick reply; Enter sends it.
    page.keyboard.press("Shift+Tab")
    f = chat.focused()
    assert "sp-reply" in f["cls"], f
    n = chat.bot.count()
    page.keyboard.press("Enter")
    expect(chat.bot).to_have_count(n + 1)
    expect(chat.user.last).to_contain_text(f["text"])
    assert [r["audience"] for r in chat.chat_requests()] == ["parent", "parent"]
    # Tab from the text box goes to Send, then through the footer.
    page.keyboard.press("Tab")
    assert chat.focused()["cls"] == "sp-send"
    for text in ("Talk to someone now", "About this chat", "Clear chat"):
        page.keyboard.press("Tab")
        assert chat.focused()["text"] == text


def test_escape_closes_and_returns_focus(chat: Chat) -> None:
    chat.goto()
    chat.open()
    chat.page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()
    expect(chat.launcher).to_have_attribute("aria-expanded", "false")
    assert "sp-launcher" in chat.focused()["cls"]
    # Again from the text box, with the conversation kept.
    chat.launcher.click()
    chat.choose("Skip")
    chat.input.focus()
    chat.page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()
    assert "sp-launcher" in chat.focused()["cls"]
    chat.page.keyboard.press("Enter")
    expect(chat.panel).to_be_visible()
    expect(chat.user).to_have_count(1)
    assert chat.focused()["cls"] == "sp-input"
    # The close button does the same.
    chat.page.get_by_role("button", name="Close chat").click()
    expect(chat.panel).to_be_hidden()
    assert "sp-launcher" in chat.focused()["cls"]


def test_clear_chat(chat: Chat) -> None:
    chat.start()
    chat.ask("what is grooming")
    expect(chat.user).to_have_count(2)
    chat.button("Clear chat").click()
    expect(chat.user).to_have_count(0)
    expect(chat.bot).to_have_count(2)  # greeting + "Who is using this?"
    expect(chat.log).not_to_contain_text("groom")
    expect(chat.status).to_have_text("Chat cleared.")
    # A new conversation: new audience, no context from before.
    chat.choose("I'm a parent or carer")
    chat.ask("what is grooming")
    last = chat.chat_requests()[-1]
    assert last["context"] is None
    assert last["audience"] == "parent"


def test_typing_indicator_and_status(chat: Chat) -> None:
    chat.start()
    held: list[Route] = []
    chat.page.route("**/api/chat", lambda r: held.append(r))
    chat.input.fill("what is grooming")
    chat.input.press("Enter")
    expect(chat.typing).to_be_visible()
    expect(chat.status).to_contain_text("typing")
    chat.page.wait_for_timeout(100)
    assert len(held) == 1
    held[0].fallback()
    expect(chat.typing).to_be_hidden()
    expect(chat.status).to_have_text("")


def test_emergency_answer_is_distinct_and_999_first(chat: Chat) -> None:
    chat.start()
    chat.page.route(
        "**/api/chat",
        lambda r: fulfil_json(
            r,
            fake_reply(
                intent="immediate_danger",
                safety="emergency",
                answer="Please call 999 now. It is not your fault.",
                signposts=[
                    {
                        "id": "childline",
                        "name": "Childline",
                        "phone": "0800 1111",
                        "description": "Free.",
                    },
                    EMERGENCY,
                ],
            ),
        ),
    )
    answer = chat.ask("someone is outside my house right now")
    expect(answer).to_have_class(re.compile(r"\bsp-emergency\b"))
    expect(answer.locator(".sp-alert-title")).to_have_text("Get help now")
    first_link = answer.locator("a").first
    expect(first_link).to_have_attribute("href", "tel:999")
    expect(first_link).to_contain_text("Call 999")


def test_real_danger_message_is_flagged(chat: Chat) -> None:
    chat.start()
    with chat.page.expect_response("**/api/chat") as info:
        answer = chat.ask("I am in danger right now")
    assert info.value.json()["safety"] in ("urgent", "emergency")
    expect(answer).to_have_class(re.compile(r"\bsp-alert\b"))
