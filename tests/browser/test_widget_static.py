"""Checks on the widget's files that need no browser: size budget and forbidden APIs."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

WIDGET = Path(__file__).resolve().parents[2] / "web_widget"
BUDGET = 15 * 1024  # bytes, gzipped, signpost.js + signpost.css


def _gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def test_gzipped_size_within_budget() -> None:
    js, css = _gz(WIDGET / "signpost.js"), _gz(WIDGET / "signpost.css")
    total = js + css
    print(
        f"\nwidget gzip size: signpost.js {js} B + signpost.css {css} B = {total} B "
        f"({total / 1024:.1f} KB of {BUDGET // 1024} KB)"
    )
    assert total <= BUDGET


def _js() -> str:
    return (WIDGET / "signpost.js").read_text(encoding="utf-8")


def test_no_html_parsing_or_eval() -> None:
    src = _js()
    for banned in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "DOMParser",
        "createContextualFragment",
        "srcdoc",
    ):
        assert banned not in src, banned


def test_no_persistent_storage_or_tracking() -> None:
    src = _js().lower()
    for banned in ("localstorage", "cookie", "indexeddb", "sendbeacon", "useragent"):
        assert banned not in src, banned


def test_offline_numbers_live_in_one_constant() -> None:
    src = _js()
    block = re.search(r"var OFFLINE_HELP = \[(.*?)\];", src, re.S)
    assert block, "OFFLINE_HELP constant not found"
    outside = src.replace(block.group(0), "")
    for number in ("0800 1111", "0808 800 5000", "999"):
        assert number in block.group(0)
        assert number not in outside, f"{number} hard-coded outside OFFLINE_HELP"
    assert not re.search(r"\b0[1-9]\d{2,3} ?\d{3} ?\d{3,4}\b", outside), "a phone number outside"


def test_only_one_request_helper_and_no_third_party_urls() -> None:
    src = _js()
    assert src.count("fetch(") == 1
    assert "XMLHttpRequest" not in src and "WebSocket" not in src and "import(" not in src
    urls = set(re.findall(r"https?://[^\s'\"<>)]+", src))
    allowed = {
        "https://HOST/widget/signpost.js",  # in the usage comment
        "https://HOST",
        "https://www.childline.org.uk/",
        "https://www.nspcc.org.uk/keeping-children-safe/reporting-abuse/",
        "https://www.samaritans.org/",
        "https://www.childline.org.uk/get-support/1-2-1-counsellor-chat/",
        "https://www.bbc.co.uk/weather",  # default quick-exit page: navigated to, never fetched
        "http://www.w3.org/2000/svg",  # SVG namespace, not a request
    }
    assert urls <= allowed, urls - allowed


def test_demo_page_has_no_inline_script_or_style() -> None:
    html = (WIDGET / "demo.html").read_text(encoding="utf-8")
    assert "<style" not in html and " style=" not in html
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
    assert scripts == [""], "one external script tag, nothing inline"
    assert re.search(r'<script src="/widget/signpost\.js"[^>]*\bdefer\b', html)
    assert not re.search(r"<[^>]+\son[a-z]+=", html), "inline event handler"
