"""Issue 17: talk to someone now (open now in Europe/London), shorter screens, Quick exit
everywhere, the status and zoom fixes, "About this chat", and "Was this helpful?".

Tests that need the API fields of the content issue (`more`, `opening`, `channels`,
`GET /api/helplines`) answer with contract-shaped JSON through page.route, so they do not
depend on that branch; the rest use the real app.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Route, expect

from .helpers import (
    CHILDLINE_CHAT,
    EMERGENCY,
    NEUTRAL_PAGE,
    Chat,
    assert_axe_clean,
    fake_reply,
    fulfil_json,
    host_page,
    serve_helplines,
)

pytestmark = pytest.mark.browser


def html(body: str) -> Callable[[Route], None]:
    return lambda route: route.fulfill(content_type="text/html", body=body)


def talk_names(chat: Chat) -> list[str]:
    block = chat.page.locator(".sp-talk").last
    expect(block).to_contain_text("Talk to someone now")
    return [n.strip() for n in block.locator(".sp-card-name").all_inner_texts()]


def open_talk(chat: Chat) -> None:
    n = chat.bot.count()
    chat.button("Talk to someone now").click()
    expect(chat.bot).to_have_count(n + 1)


# -- talk to someone now ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "when,first,nspcc_status",
    [
        # Wednesday 2 December 2026, 14:10 in London (GMT): the NSPCC line is open.
        ("2026-12-02T14:10:00Z", "NSPCC helpline", "Open now, until 22:00"),
        # The same day at 03:00: closed, so a 24-hour service comes first.
        ("2026-12-02T03:00:00Z", "Shout", "Closed now. Opens today at 08:00"),
        # Friday 3 July 2026 at 21:30 UTC is 22:30 in London (BST): closed until Saturday 09:00.
        ("2026-07-03T21:30:00Z", "Shout", "Closed now. Opens tomorrow at 09:00"),
        # Saturday 19:00 (GMT): the weekend line has closed; it opens on Sunday.
        ("2026-12-05T19:00:00Z", "Shout", "Closed now. Opens tomorrow at 09:00"),
        # Sunday 19:00: next is Monday 08:00.
        ("2026-12-06T19:00:00Z", "Shout", "Closed now. Opens tomorrow at 08:00"),
    ],
    ids=["weekday-afternoon", "3am", "bst-late-friday", "saturday-evening", "sunday-evening"],
)
def test_talk_to_someone_puts_an_open_service_first(
    make_chat: Callable[..., Chat], when: str, first: str, nspcc_status: str
) -> None:
    chat = make_chat()
    chat.page.clock.set_fixed_time(when)
    asked = serve_helplines(chat)
    chat.start("I'm a parent or carer")
    open_talk(chat)
    names = talk_names(chat)
    assert names[0] == first, names
    assert sorted(names) == sorted(["NSPCC helpline", "Shout", "Samaritans"])
    assert asked == ["parent"]
    card = chat.page.locator(".sp-talk .sp-card", has_text="NSPCC helpline").last
    expect(card).to_contain_text(nspcc_status)
    if first != "NSPCC helpline":
        assert names[-1] == "NSPCC helpline"  # never a closed service before an open one
        expect(chat.page.locator(".sp-talk .sp-card").first).to_contain_text("Open now")


def test_talk_to_someone_young_person_at_3am(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat()
    chat.page.clock.set_fixed_time("2026-12-02T03:00:00Z")
    serve_helplines(chat, bare_list=True)
    chat.start("I'm a young person")
    open_talk(chat)
    assert talk_names(chat) == ["Childline", "Shout", "Samaritans"]
    childline = chat.page.locator(".sp-talk .sp-card").first
    expect(childline).to_contain_text("Open now")
    # One primary action (the phone); the 1-2-1 chat, the service's contact page, under "More ways".
    primary = childline.locator(":scope > .sp-card-actions a")
    expect(primary).to_have_count(1)
    expect(primary).to_have_attribute("href", "tel:08001111")
    chat_link = childline.get_by_role("link", name=re.compile("^Chat 1-2-1 online"))
    expect(chat_link).to_be_hidden()
    childline.get_by_text("More ways").click()
    expect(chat_link).to_have_attribute("href", CHILDLINE_CHAT)
    expect(chat_link).not_to_have_attribute("target", "_blank")
    shout = chat.page.locator(".sp-talk .sp-card", has_text="Shout").last
    expect(shout.locator("a")).to_have_attribute("href", "sms:85258")


def test_talk_to_someone_with_an_older_server(chat: Chat) -> None:
    """A server without GET /api/helplines (404): the widget's built-in lists."""
    chat.page.route("**/api/helplines*", lambda r: fulfil_json(r, {"detail": "Not Found"}, 404))
    chat.start("I'm a parent or carer")
    open_talk(chat)
    assert talk_names(chat) == ["NSPCC helpline", "Shout", "Samaritans"]
    block = chat.page.locator(".sp-talk").last
    expect(block.locator('a[href="tel:08088005000"]')).to_have_count(1)
    expect(block.locator('a[href="tel:116123"]')).to_have_count(1)
    expect(block.locator('a[href="sms:85258"]')).to_have_count(1)
    # A young person gets Childline (its 1-2-1 chat page under "More ways"), not the NSPCC.
    chat.button("Clear chat").click()
    chat.choose("I'm a young person")
    open_talk(chat)
    assert talk_names(chat) == ["Childline", "Shout", "Samaritans"]
    childline = chat.page.locator(".sp-talk").last.locator(".sp-card").first
    contact = childline.get_by_role("link", name="Contact Childline online")
    childline.get_by_text("More ways").click()
    expect(contact).to_have_attribute("href", CHILDLINE_CHAT)


def test_urgent_and_emergency_answers_lead_with_people_to_talk_to(chat: Chat) -> None:
    serve_helplines(chat)
    chat.start("I'm a young person")
    replies = iter(
        [
            fake_reply(intent="disclosure", safety="urgent", answer="Thank you for telling me."),
            fake_reply(
                intent="immediate_danger",
                safety="emergency",
                answer="Call 999 now.",
                signposts=[EMERGENCY],
            ),
        ]
    )
    chat.page.route("**/api/chat", lambda r: fulfil_json(r, next(replies)))
    urgent = chat.ask("something happened to me")
    # The talk list comes before the answer's text, and Childline is not shown twice.
    order = urgent.evaluate(
        "m => [...m.querySelectorAll('.sp-talk, .sp-text')].map(e => e.className)"
    )
    assert order[0] == "sp-talk", order
    expect(urgent.locator(".sp-card-name", has_text="Childline")).to_have_count(1)
    expect(urgent.locator(".sp-talk .sp-card").first).to_contain_text("Childline")
    emergency = chat.ask("he is outside now")
    # 999 stays first; then the people to talk to; no "Was this helpful?" on an emergency.
    expect(emergency.locator("a").first).to_have_attribute("href", "tel:999")
    expect(emergency.locator(".sp-talk")).to_be_visible()
    expect(emergency.locator(".sp-fb")).to_have_count(0)


# -- shorter screens ----------------------------------------------------------------------------


def test_lead_first_and_tell_me_more(chat: Chat) -> None:
    chat.start()
    chat.page.route(
        "**/api/chat",
        lambda r: fulfil_json(
            r,
            fake_reply(
                answer="Don't send anything. Block and report them.",
                more="**Why:** once a picture is sent you can't take it back.",
            ),
        ),
    )
    answer = chat.ask("he keeps asking 4 pics")
    expect(answer).to_contain_text("Don't send anything.")
    rest = answer.get_by_text("once a picture is sent")
    expect(rest).to_be_hidden()
    more = answer.get_by_text("Tell me more")
    more.click()
    expect(rest).to_be_visible()
    expect(answer.locator("strong", has_text="Why:")).to_be_visible()


def test_no_tell_me_more_without_more(chat: Chat) -> None:
    chat.start()
    chat.page.route("**/api/chat", lambda r: fulfil_json(r, fake_reply(more="  ")))
    answer = chat.ask("hello")
    expect(answer.get_by_text("Tell me more")).to_have_count(0)


def test_numbers_and_emails_in_answer_text_are_links(chat: Chat) -> None:
    chat.start()
    chat.page.route(
        "**/api/chat",
        lambda r: fulfil_json(
            r,
            fake_reply(
                answer=(
                    "Call Childline on 0800 1111, the NSPCC on 0808 800 5000 or email "
                    "help@nspcc.org.uk. Samaritans: 116 123. In danger, call 999. Born in 2009."
                ),
                signposts=[],
            ),
        ),
    )
    text = chat.ask("who can I call").locator(".sp-text")
    hrefs = text.locator("a").evaluate_all("l => l.map(a => a.getAttribute('href'))")
    assert hrefs == [
        "tel:08001111",
        "tel:08088005000",
        "mailto:help@nspcc.org.uk",
        "tel:116123",
        "tel:999",
    ]
    expect(text.get_by_role("link", name="0800 1111")).to_be_visible()


def test_links_open_in_a_new_tab_only_when_the_site_asks(make_chat: Callable[..., Chat]) -> None:
    answer_md = "See [Childline](https://www.childline.org.uk/)."
    for attrs, new_tab in (("", False), ("data-new-tab", True)):
        chat = make_chat()
        chat.page.route("**/tab.html", html(host_page(attrs)))
        chat.start(path="/tab.html")
        chat.page.route("**/api/chat", lambda r: fulfil_json(r, fake_reply(answer=answer_md)))
        answer = chat.ask("childline")
        link = answer.get_by_role("link", name=re.compile("^Childline"))
        if new_tab:
            expect(link).to_have_attribute("target", "_blank")
            expect(link).to_have_attribute("rel", "noopener noreferrer")
            expect(link).to_have_accessible_name("Childline (opens in a new tab)")
        else:
            expect(link).not_to_have_attribute("target", "_blank")
            expect(link).to_have_accessible_name("Childline")


# -- Quick exit everywhere --------------------------------------------------------------------


def test_page_exit_button_works_with_the_chat_closed(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat(viewport={"width": 375, "height": 667}, has_touch=True, is_mobile=True)
    chat.page.goto("/healthz")
    chat.goto("/")  # the demo page opts in with data-page-exit
    length = chat.page.evaluate("history.length")
    exit_button = chat.page.get_by_role("button", name=re.compile("^Quick exit"))
    expect(exit_button).to_be_visible()
    expect(chat.panel).to_be_hidden()
    box = exit_button.bounding_box()
    assert box and box["y"] < 80 and box["height"] >= 44  # top of the page, a full tap target
    # Inside the open panel its own Quick exit takes over (one button, first in the panel).
    chat.open()
    expect(exit_button).to_have_count(1)
    chat.page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()
    exit_button.tap()
    chat.page.wait_for_url(NEUTRAL_PAGE)
    assert chat.page.evaluate("history.length") == length
    chat.page.go_back()
    chat.page.wait_for_url(re.compile(r"/healthz$"))


def test_no_page_exit_button_unless_asked(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat()
    chat.page.route("**/plain.html", html(host_page("")))
    chat.goto("/plain.html")
    expect(chat.page.get_by_role("button", name=re.compile("^Quick exit"))).to_have_count(0)


def test_quick_exit_is_first_in_the_panel(chat: Chat) -> None:
    chat.goto()
    chat.open()
    first = chat.page.evaluate("""() => {
      const p = document.querySelector('signpost-widget').shadowRoot.querySelector('.sp-panel');
      return p.querySelector('button, a[href], input, [tabindex="0"]').className;
    }""")
    assert first == "sp-exit"


def test_each_shift_press_is_shown_and_announced(chat: Chat) -> None:
    chat.goto()
    note = chat.page.locator(".sp-shift")
    expect(note).to_have_attribute("aria-live", "polite")
    expect(note).to_have_text("")
    chat.page.keyboard.press("Shift")
    expect(note).to_be_visible()
    expect(note).to_have_text("Shift pressed 1 of 3. Press 2 more times to leave this page.")
    chat.page.keyboard.press("Shift")
    expect(note).to_have_text("Shift pressed 2 of 3. Press 1 more time to leave this page.")
    chat.page.keyboard.press("a")  # any other key starts again and clears the message
    expect(note).to_have_text("")
    expect(note).to_be_hidden()
    assert chat.page.url.startswith(chat.server)


def test_about_this_chat_and_the_history_tip(chat: Chat) -> None:
    chat.goto()
    chat.open()
    n = chat.bot.count()
    chat.button("About this chat").click()
    expect(chat.bot).to_have_count(n + 1)
    about = chat.bot.last
    for words in ("automatic answers", "not a person", "can't tell anyone", "don't save it"):
        expect(about).to_contain_text(words)
    expect(about.locator('a[href="tel:999"]')).to_have_count(1)
    expect(about).to_contain_text(re.compile(r"Quick exit doesn't clear your browser history"))


# -- fixes --------------------------------------------------------------------------------------


def test_status_region_is_empty_after_a_fast_answer(chat: Chat) -> None:
    """The reply lands before the 50 ms "typing" announcement: it must not appear late."""
    chat.start()
    chat.page.route("**/api/chat", lambda r: fulfil_json(r, fake_reply()))
    seen = chat.page.evaluate("""() => {
      const s = document.querySelector('signpost-widget').shadowRoot.querySelector('[role=status]');
      window.__statuses = [];
      new MutationObserver(() => window.__statuses.push(s.textContent))
        .observe(s, {childList: true, characterData: true, subtree: true});
      return true;
    }""")
    assert seen
    for text in ("one", "two", "three"):
        chat.ask(text)
        chat.page.wait_for_timeout(150)  # longer than the announcement delay
        expect(chat.status).to_have_text("")
    assert "Signpost is typing" not in chat.page.evaluate("window.__statuses")[-1:]


def test_real_answer_leaves_status_empty(chat: Chat) -> None:
    chat.start()
    chat.ask("what is grooming")
    chat.page.wait_for_timeout(150)
    expect(chat.status).to_have_text("")


@pytest.mark.parametrize("width,height", [(320, 256), (667, 375)], ids=["400pct", "landscape"])
def test_short_screens_keep_the_input_and_the_answer_visible(
    make_chat: Callable[..., Chat], width: int, height: int
) -> None:
    chat = make_chat(viewport={"width": width, "height": height})
    chat.start()
    chat.ask("what is grooming")
    m = chat.page.evaluate("""() => {
      const root = document.querySelector('signpost-widget').shadowRoot;
      const box = (el) => el.getBoundingClientRect();
      const log = box(root.querySelector('.sp-log'));
      const bots = root.querySelectorAll('.sp-log .sp-bot');
      const last = box(bots[bots.length - 1]);
      const input = box(root.querySelector('.sp-input'));
      const foot = box(root.querySelector('.sp-foot'));
      return {log: log.height, logTop: log.top, logBottom: log.bottom, lastTop: last.top,
              input: [input.top, input.bottom], foot: foot.bottom, vh: innerHeight};
    }""")
    assert m["log"] >= 100, m  # was 24 px at 320 x 256
    assert m["input"][0] >= 0 and m["input"][1] <= m["vh"], m
    assert m["foot"] <= m["vh"] + 0.5, m  # the footer no longer runs off screen
    assert m["logTop"] <= m["lastTop"] < m["logBottom"] - 20, m  # the answer's start is shown
    assert_axe_clean(chat, f"{width} x {height}, after an answer")


def test_widget_has_its_own_language(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat()
    welsh = host_page("").replace("<html lang=en>", '<html lang="cy">')
    chat.page.route("**/cy.html", html(welsh))
    chat.goto("/cy.html")
    chat.open()
    lang = chat.page.evaluate("""() => {
      const host = document.querySelector('signpost-widget');
      return [host.lang, document.documentElement.lang];
    }""")
    assert lang == ["en-GB", "cy"]  # the shadow content takes its language from the host


def test_dark_theme(make_chat: Callable[..., Chat]) -> None:
    colours = {}
    for scheme in ("light", "dark"):
        chat = make_chat(color_scheme=scheme)
        chat.start()
        colours[scheme] = chat.page.evaluate("""() => {
          const r = document.querySelector('signpost-widget').shadowRoot;
          const bg = (s) => getComputedStyle(r.querySelector(s)).backgroundColor;
          return {panel: bg('.sp-panel'), input: bg('.sp-input'), ink: getComputedStyle(
            r.querySelector('.sp-log .sp-bot')).color};
        }""")
    assert colours["light"]["panel"] == "rgb(255, 255, 255)"
    assert colours["dark"]["panel"] == "rgb(27, 27, 29)"
    assert colours["dark"]["input"] == colours["dark"]["panel"]
    assert colours["dark"]["ink"] == "rgb(243, 242, 241)"


# -- was this helpful? --------------------------------------------------------------------------


def test_was_this_helpful_sends_only_intent_and_yes_no(chat: Chat) -> None:
    chat.start()
    answer = chat.ask("what is grooming")
    group = answer.get_by_role("group", name="Was this helpful?")
    expect(group).to_be_visible()
    with chat.page.expect_response("**/api/feedback") as info:
        group.get_by_role("button", name="No").click()
    response = info.value
    assert response.status == 204  # the real app counted it
    request = response.request
    assert json.loads(request.post_data or "") == {"intent": "online_grooming", "helpful": False}
    assert "cookie" not in request.all_headers()
    expect(answer.locator(".sp-fb")).to_have_text("Thanks for telling us.")
    expect(group).to_have_count(0)
    assert chat.page.evaluate("sessionStorage.length + localStorage.length") == 0
    assert chat.context.cookies() == []
    # The counter is on the real app's /metrics, by intent, with nothing else.
    metrics = chat.page.request.get(chat.server + "/metrics").text()
    counted = r'signpost_feedback_total\{helpful="no",intent="online_grooming"\} [1-9]'
    assert re.search(counted, metrics)
    # One vote per answer.
    posts = [r for r in chat.requests if r.url.endswith("/api/feedback")]
    assert len(posts) == 1
