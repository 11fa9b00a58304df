"""Quick exit, safe rendering, privacy (origins, storage), CSP and friendly errors."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from .helpers import (
    HELPLINES_OFFLINE,
    NEUTRAL_PAGE,
    Chat,
    fake_reply,
    fulfil_json,
    host_page,
)

pytestmark = pytest.mark.browser

STRICT_CSP = "default-src 'self'; connect-src {api}"
EXIT_STATE_JS = """(how) => {
  const root = document.querySelector('signpost-widget').shadowRoot;
  if (how === 'button') root.querySelector('.sp-exit').click();
  else for (let i = 0; i < 3; i++) {
    document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'Shift', bubbles: true}));
  }
  // Read the state in the same task: before the browser has left the page.
  return {
    widgetHidden: root.querySelector('.sp-root').hidden,
    pageCovered: !root.querySelector('.sp-cover').hidden,
    messages: root.querySelectorAll('.sp-msg').length,
    typed: root.querySelector('.sp-input').value,
    stored: sessionStorage.length,
  };
}"""


def _history_before_exit(chat: Chat) -> int:
    """Open the demo page after another page; return history.length."""
    chat.page.goto("/healthz")
    chat.goto("/")
    return chat.page.evaluate("history.length")


def _assert_left_without_trace(chat: Chat, length: int) -> None:
    chat.page.wait_for_url(NEUTRAL_PAGE)
    expect(chat.page.get_by_text("Weather forecast")).to_be_visible()
    # location.replace: no new history entry, and Back skips the charity page.
    assert chat.page.evaluate("history.length") == length
    chat.page.go_back()
    chat.page.wait_for_url(re.compile(r"/healthz$"))


def test_quick_exit_button(chat: Chat) -> None:
    length = _history_before_exit(chat)
    chat.open()
    chat.choose("I'm a young person")
    chat.ask("what is grooming")
    exit_button = chat.page.get_by_role("button", name=re.compile("^Quick exit"))
    expect(exit_button).to_be_visible()
    exit_button.click()
    _assert_left_without_trace(chat, length)


def test_quick_exit_shift_three_times_anywhere(chat: Chat) -> None:
    length = _history_before_exit(chat)
    chat.page.locator("h1").click()  # focus on the host page; the widget is closed
    for _ in range(3):
        chat.page.keyboard.press("Shift")
    _assert_left_without_trace(chat, length)


def test_quick_exit_shift_three_times_in_text_box(chat: Chat) -> None:
    length = _history_before_exit(chat)
    chat.open()
    chat.input.fill("something private")
    chat.input.focus()
    for _ in range(3):
        chat.page.keyboard.press("Shift")
    _assert_left_without_trace(chat, length)


@pytest.mark.parametrize("how", ["button", "shift"])
def test_quick_exit_hides_and_forgets_at_once(make_chat: Callable[..., Chat], how: str) -> None:
    chat = make_chat()
    chat.page.route(
        "**/persist.html",
        lambda r: r.fulfill(content_type="text/html", body=host_page('data-persist="session"')),
    )
    chat.goto("/persist.html")
    chat.open()
    chat.choose("Skip")
    chat.ask("what is grooming")
    chat.input.fill("half typed")
    assert chat.page.evaluate("sessionStorage.length") == 1
    state = chat.page.evaluate(EXIT_STATE_JS, how)
    assert state == {
        "widgetHidden": True,
        "pageCovered": True,
        "messages": 0,
        "typed": "",
        "stored": 0,
    }
    chat.page.wait_for_url(NEUTRAL_PAGE)


def test_shift_used_for_typing_does_not_exit(chat: Chat) -> None:
    chat.goto()
    chat.open()
    chat.input.focus()
    for key in ("Shift+H", "Shift+E", "Shift+Y", "Shift+A"):
        chat.page.keyboard.press(key)
    chat.page.keyboard.press("Shift")
    chat.page.keyboard.press("Shift")
    chat.page.keyboard.press("a")
    chat.page.keyboard.press("Shift")
    chat.page.wait_for_timeout(300)
    assert chat.page.url.startswith(chat.server)
    expect(chat.input).to_have_value("HEYAa")


def test_shift_presses_must_be_within_five_seconds(chat: Chat) -> None:
    chat.page.clock.install()
    chat.goto()
    chat.page.locator("h1").click()
    chat.page.keyboard.press("Shift")
    chat.page.keyboard.press("Shift")
    chat.page.clock.fast_forward(6000)
    chat.page.keyboard.press("Shift")
    chat.page.wait_for_timeout(300)
    assert chat.page.url.startswith(chat.server)
    chat.page.keyboard.press("Shift")
    chat.page.keyboard.press("Shift")  # three within 5 s
    chat.page.wait_for_url(NEUTRAL_PAGE)


def test_configured_exit_page(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat()
    target = chat.server + "/healthz"
    chat.page.route(
        "**/exit.html",
        lambda r: r.fulfill(content_type="text/html", body=host_page(f'data-exit-url="{target}"')),
    )
    chat.goto("/exit.html")
    chat.open()
    chat.page.get_by_role("button", name=re.compile("^Quick exit")).click()
    chat.page.wait_for_url(target)


HOSTILE_ANSWER = (
    'Look: <img src=x onerror="window.__xss=1"> and <script>window.__xss=2</script>\n\n'
    "- [click me](javascript:window.__xss=3)\n"
    "- [data link](data:text/html,hi)\n"
    "- [plain http](http://example.com/)\n"
    "- [good link](https://www.childline.org.uk/)\n"
    "- <b onmouseover=alert(1)>bold?</b>"
)


def test_answer_markup_is_rendered_as_text(chat: Chat) -> None:
    chat.start()
    chat.page.route(
        "**/api/chat",
        lambda r: fulfil_json(
            r,
            fake_reply(
                answer=HOSTILE_ANSWER,
                signposts=[
                    {
                        "id": "x",
                        "name": '<img src=x onerror="window.__xss=4">',
                        "phone": "<b>0800</b>",
                        "url": "javascript:window.__xss=5",
                        "description": "<svg onload=alert(1)>",
                    }
                ],
                suggestions=[{"label": "<i>hi</i>", "message": "<img src=x onerror=alert(1)>"}],
            ),
        ),
    )
    answer = chat.ask("hello")
    expect(answer).to_contain_text('<img src=x onerror="window.__xss=1">')
    expect(answer).to_contain_text("<script>window.__xss=2</script>")
    expect(answer).to_contain_text("<svg onload=alert(1)>")
    expect(chat.page.locator(".sp-reply").first).to_have_text("<i>hi</i>")
    found = chat.page.evaluate("""() => {
      const root = document.querySelector('signpost-widget').shadowRoot;
      return {
        elements: root.querySelectorAll(
          '.sp-log :is(img, script, b, i, svg:not([aria-hidden]))').length,
        hrefs: [...root.querySelectorAll('a')].map(a => a.getAttribute('href')),
        xss: window.__xss,
      };
    }""")
    assert found["elements"] == 0
    assert found["xss"] is None
    assert found["hrefs"] == ["https://www.childline.org.uk/"]
    # Unsafe links keep their words as plain text.
    for words in ("click me", "data link", "plain http"):
        expect(answer).to_contain_text(words)
        expect(answer.get_by_role("link", name=words)).to_have_count(0)
    chat.page.wait_for_timeout(200)
    assert chat.page.evaluate("window.__xss") is None


def test_no_request_to_any_other_origin(chat: Chat) -> None:
    chat.start()
    chat.ask("what is grooming")
    chat.page.locator(".sp-replies-wrap .sp-reply").first.click()
    expect(chat.typing).to_be_hidden()
    chat.button("Clear chat").click()
    chat.page.keyboard.press("Escape")
    urls = [r.url for r in chat.requests]
    assert any(u.endswith("/api/chat") for u in urls)
    assert any(u.endswith("/api/topics") for u in urls)
    others = [u for u in urls if not u.startswith(chat.server + "/") and not u.startswith("data:")]
    assert others == []


def test_no_cookies_or_web_storage_written(chat: Chat) -> None:
    chat.start()
    chat.ask("what is grooming")
    chat.button("Clear chat").click()
    assert chat.context.cookies() == []
    assert chat.page.evaluate("document.cookie") == ""
    assert chat.page.evaluate("localStorage.length") == 0
    assert chat.page.evaluate("sessionStorage.length") == 0
    # No request carried a cookie either.
    assert all(
        "cookie" not in r.all_headers() for r in chat.requests if r.url.startswith(chat.server)
    )


def test_session_storage_only_when_asked(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat()
    chat.page.route(
        "**/persist.html",
        lambda r: r.fulfill(content_type="text/html", body=host_page('data-persist="session"')),
    )
    chat.start("I'm a young person", path="/persist.html")
    chat.ask("what is grooming")
    assert chat.page.evaluate("sessionStorage.length") == 1
    assert chat.page.evaluate("localStorage.length") == 0
    chat.page.reload()
    chat.wait_ready()
    chat.launcher.click()
    expect(chat.user).to_have_count(2)
    expect(chat.log).to_contain_text("what is grooming")
    expect(chat.page.locator(".sp-privacy")).to_contain_text("stays in this browser tab")
    # The next message still carries audience and context.
    chat.ask("how do I report it")
    last = chat.chat_requests()[-1]
    assert last["audience"] == "young_person" and last["context"] is not None
    chat.button("Clear chat").click()
    assert chat.page.evaluate("sessionStorage.length") == 0


def _full_flow(chat: Chat) -> None:
    chat.open()
    chat.choose("I'm a young person")
    chat.ask("what is grooming")
    chat.page.locator(".sp-replies-wrap .sp-reply").first.click()
    expect(chat.typing).to_be_hidden()
    chat.button("Clear chat").click()
    chat.choose("Skip")
    chat.page.keyboard.press("Escape")
    chat.launcher.click()
    expect(chat.panel).to_be_visible()


def test_no_csp_violation_on_the_strict_demo_page(chat: Chat) -> None:
    response = chat.page.goto("/")
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    chat.wait_ready()
    _full_flow(chat)
    assert chat.csp_violations() == []
    assert chat.console_errors == []
    # Control: the recorder does see a violation, so the empty list above means something.
    chat.page.evaluate("document.body.setAttribute('style', 'color: red')")
    # The report event is asynchronous: wait for it rather than for a fixed time.
    try:
        chat.page.wait_for_function("(window.__csp || []).length > 0", timeout=5000)
    except PlaywrightTimeoutError:
        pytest.fail("CSP recorder saw nothing: is the policy enforced?")


def test_no_csp_violation_with_every_option(make_chat: Callable[..., Chat]) -> None:
    chat = make_chat()
    csp = STRICT_CSP.format(api=chat.server)
    attrs = (
        f'data-api="{chat.server}" data-title="Ask us" data-accent="#ffdd00" '
        'data-position="left" data-launcher="Questions?" '
        'data-greeting="Hello from the [test](https://example.org/) page." '
        'data-exit-url="https://www.bbc.co.uk/weather"'
    )
    chat.page.route(
        "**/options.html",
        lambda r: r.fulfill(
            content_type="text/html",
            headers={"Content-Security-Policy": csp},
            body=host_page(attrs),
        ),
    )
    chat.goto("/options.html")
    expect(chat.page.get_by_role("button", name="Questions?")).to_be_visible()
    _full_flow(chat)
    expect(chat.page.get_by_role("heading", name="Ask us")).to_be_visible()
    box = chat.launcher.bounding_box()
    assert box["x"] < 100  # data-position="left"
    colours = chat.page.evaluate("""() => {
      const l = document.querySelector('signpost-widget').shadowRoot.querySelector('.sp-launcher');
      const s = getComputedStyle(l);
      return [s.backgroundColor, s.color];
    }""")
    # A light accent gets dark text, for contrast.
    assert colours == ["rgb(255, 221, 0)", "rgb(11, 12, 12)"]
    assert chat.csp_violations() == []
    assert chat.console_errors == []


def test_embedded_from_another_origin_under_strict_csp(
    make_chat: Callable[..., Chat], host_site: tuple[str, dict], api_elsewhere: str
) -> None:
    host, pages = host_site
    api = api_elsewhere
    csp = f"default-src 'self'; script-src {api}; style-src {api}; connect-src {api}"
    html = host_page(f'data-api="{api}"').replace('src="/widget/', f'src="{api}/widget/')
    pages["/charity.html"] = (html, csp)
    chat = make_chat(base=host, also=(api,))
    chat.goto("/charity.html")
    _full_flow(chat)
    answer = chat.ask("what is grooming")
    expect(answer.locator(".sp-card").first).to_be_visible()
    assert chat.csp_violations() == []
    assert chat.console_errors == []
    api_calls = [r.url for r in chat.requests if "/api/" in r.url]
    assert api_calls and all(u.startswith(api + "/api/") for u in api_calls)
    assert all(r.url.startswith((host + "/", api + "/")) for r in chat.requests)


def _expect_offline_help(answer) -> None:
    for number, href in HELPLINES_OFFLINE.items():
        expect(answer).to_contain_text(number)
        expect(answer.locator(f'a[href="{href}"]')).to_have_count(1)


def test_api_down_still_gives_helplines(chat: Chat) -> None:
    chat.start()
    chat.page.route("**/api/chat", lambda r: r.abort("connectionrefused"))
    answer = chat.ask("what is grooming")
    expect(answer).to_contain_text("can't connect")
    _expect_offline_help(answer)
    # The text box still works once the API is back.
    chat.page.unroute("**/api/chat")
    answer = chat.ask("what is grooming")
    expect(answer.locator(".sp-card").first).to_contain_text("Childline")


def test_rate_limited_still_gives_helplines(chat: Chat) -> None:
    chat.start("I'm a parent or carer")
    chat.page.route(
        "**/api/chat",
        lambda r: fulfil_json(
            r, {"detail": "too many requests"}, status=429, headers={"Retry-After": "30"}
        ),
    )
    answer = chat.ask("what is grooming")
    expect(answer).to_contain_text("wait about 30 seconds")
    _expect_offline_help(answer)
    # A parent sees the NSPCC helpline first.
    expect(answer.locator(".sp-card").first).to_contain_text("NSPCC")


def test_real_rate_limit_still_gives_helplines(
    make_chat: Callable[..., Chat], limited_server: str
) -> None:
    chat = make_chat(base=limited_server)
    chat.start()
    chat.ask("what is grooming")
    chat.ask("how do I report it")
    with chat.page.expect_response("**/api/chat") as info:
        answer = chat.ask("what is sextortion")
    assert info.value.status == 429
    assert int(info.value.headers["retry-after"]) > 0
    expect(answer).to_contain_text(re.compile(r"wait (about \d+ seconds|a few minutes)"))
    _expect_offline_help(answer)


@pytest.mark.parametrize("status,body", [(500, "oops"), (200, "{not json"), (200, '{"x": 1}')])
def test_broken_replies_still_give_helplines(chat: Chat, status: int, body: str) -> None:
    chat.start()
    chat.page.route(
        "**/api/chat",
        lambda r: r.fulfill(status=status, body=body, content_type="application/json"),
    )
    _expect_offline_help(chat.ask("what is grooming"))


def test_topics_down_welcome_still_works(chat: Chat) -> None:
    chat.page.route("**/api/topics*", lambda r: r.abort("connectionrefused"))
    chat.start()
    expect(chat.page.locator(".sp-topics")).to_have_count(0)
    expect(chat.log).to_contain_text("Ask me a question")
    answer = chat.ask("what is grooming")
    expect(answer.locator(".sp-card").first).to_be_visible()


def test_validation_error_message_is_shown(chat: Chat) -> None:
    chat.start()
    chat.page.route(
        "**/api/chat",
        lambda r: fulfil_json(r, {"detail": "message must be at most 1000 characters"}, status=422),
    )
    answer = chat.ask("x")
    expect(answer).to_contain_text("message must be at most 1000 characters")
    _expect_offline_help(answer)


def test_long_message_is_capped_at_1000(chat: Chat) -> None:
    chat.start()
    chat.input.fill("a" * 1200)
    assert len(chat.input.input_value()) == 1000
