"""The helpline registry: every fact sourced and dated, the corrected facts pinned, opening
hours as data in Europe/London, "open now" computed, and docs/SOURCES.md made from it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from bot import registry
from bot.cli import main
from bot.loader import KnowledgeBaseError, default_root, load
from bot.models import KnowledgeBase
from bot.validate import validate

REGISTRY = default_root() / "content" / "helplines.yaml"
LONDON = registry.LONDON
UTC = dt.UTC


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> dt.datetime:
    """A moment given in London wall-clock time."""
    return dt.datetime(y, m, d, hh, mm, tzinfo=LONDON)


@pytest.fixture(scope="module")
def reg() -> registry.Registry:
    return registry.read(REGISTRY)


def test_every_stated_fact_has_a_source_and_a_checked_date(reg: registry.Registry) -> None:
    for h in reg.helplines:
        assert not h.unsourced(), (h.id, h.unsourced())
        for fact, s in h.sources.items():
            assert s.source.startswith(("https://", "http://")), (h.id, fact)
            assert s.checked == dt.date(2026, 12, 3), (h.id, fact)
            if s.status == "unverifiable":
                assert s.note, (h.id, fact)
    for r in reg.references:
        assert "url" in r.sources, r.id


def test_nspcc_phone_hours_are_pinned(kb: KnowledgeBase) -> None:
    # NSPCC: phone Mon-Fri 8am-10pm, weekends 9am-6pm; email and online form 24 hours.
    h = kb.helplines["nspcc_helpline"]
    assert not h.open_24h
    slots = {(o.days, o.opens, o.closes) for o in h.opening}
    assert slots == {
        (("mon", "tue", "wed", "thu", "fri"), "08:00", "22:00"),
        (("sat", "sun"), "09:00", "18:00"),
    }
    assert h.hours and "8am to 10pm" in h.hours and "9am to 6pm" in h.hours
    assert "any time" in h.hours  # email and the online form
    assert h.contact_url == "https://www.nspcc.org.uk/keeping-children-safe/reporting-abuse/report/"


def test_no_answer_says_the_nspcc_phone_is_open_at_any_time(kb: KnowledgeBase) -> None:
    for answer_id, per in kb.answers.items():
        for audience, text in per.items():
            for para in text.split("\n"):
                if "0808 800 5000" in para:
                    assert "at any time" not in para, (answer_id, audience, para)


def test_report_remove_links_the_tool_not_the_childline_home_page(kb: KnowledgeBase) -> None:
    url = (
        "https://www.childline.org.uk/info-advice/bullying-abuse-safety/online-mobile-safety/"
        "remove-nude-image-shared-online/"
    )
    h = kb.helplines["report_remove"]
    assert h.url == url and h.contact_url == url
    assert h.url != kb.helplines["childline"].url
    assert [c.value for c in h.channels] == [url]
    assert "Under-18s" in h.for_whom


def test_stopncii_is_for_adults_and_take_it_down_for_images_from_before_18(
    kb: KnowledgeBase,
) -> None:
    assert "18 and over" in kb.helplines["stopncii"].for_whom
    assert "under 18" in kb.helplines["take_it_down"].for_whom


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (at(2026, 12, 3, 7, 59), False),  # Thursday, before 8am
        (at(2026, 12, 3, 8, 0), True),
        (at(2026, 12, 3, 21, 59), True),
        (at(2026, 12, 3, 22, 0), False),
        (at(2026, 12, 5, 8, 30), False),  # Saturday: opens at 9am
        (at(2026, 12, 5, 9, 0), True),
        (at(2026, 12, 6, 18, 0), False),  # Sunday, closed at 6pm
        # British Summer Time: 07:30 UTC is 08:30 in London, so open.
        (dt.datetime(2026, 7, 2, 7, 30, tzinfo=UTC), True),
        # Winter: 07:30 UTC is 07:30 in London, so closed.
        (dt.datetime(2026, 12, 3, 7, 30, tzinfo=UTC), False),
    ],
)
def test_open_now_uses_london_time(kb: KnowledgeBase, when: dt.datetime, expected: bool) -> None:
    assert registry.open_now(kb.helplines["nspcc_helpline"], when) is expected


def test_open_now_is_true_for_24_hour_services_and_null_when_unknown(kb: KnowledgeBase) -> None:
    night = at(2026, 12, 3, 3, 0)
    for hid in ("childline", "emergency", "samaritans", "shout", "police_101", "papyrus"):
        assert registry.open_now(kb.helplines[hid], night) is True, hid
    for hid in ("stop_it_now", "ceop", "iwf"):  # no verified hours: unknown, not "closed"
        assert registry.open_now(kb.helplines[hid], night) is None, hid


def test_signposts_carry_hours_channels_and_contact_page(client: TestClient) -> None:
    body = client.post("/api/chat", json={"message": "who can i talk to", "audience": "parent"})
    nspcc = next(s for s in body.json()["signposts"] if s["id"] == "nspcc_helpline")
    assert nspcc["open_now"] in (True, False)
    assert nspcc["opening"][0] == {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "opens": "08:00",
        "closes": "22:00",
    }
    assert [c["kind"] for c in nspcc["channels"]] == ["phone", "email", "report"]
    assert nspcc["channels"][0] == {
        "kind": "phone",
        "value": "0808 800 5000",
        "label": "Call 0808 800 5000",
    }
    assert nspcc["contact_url"].startswith("https://www.nspcc.org.uk/")


@pytest.mark.parametrize(
    ("audience", "first", "also"),
    [("young_person", "childline", "shout"), ("parent", "nspcc_helpline", "papyrus")],
)
def test_helplines_endpoint_lists_who_to_talk_to(
    client: TestClient, audience: str, first: str, also: str
) -> None:
    r = client.get("/api/helplines", params={"audience": audience})
    assert r.status_code == 200
    body = r.json()
    ids = [h["id"] for h in body["helplines"]]
    assert body["audience"] == audience and ids[0] == first and also in ids
    order = [h.id for h in registry.read(REGISTRY).helplines]
    assert ids == sorted(ids, key=order.index)  # registry order
    for h in body["helplines"]:
        assert {"open_now", "hours", "opening", "channels", "contact_url"} <= h.keys()
        assert h["channels"], h["id"]
    assert client.get("/api/helplines", params={"audience": "teacher"}).status_code == 422


def test_sources_md_is_up_to_date(reg: registry.Registry) -> None:
    committed = (default_root() / "docs" / "SOURCES.md").read_text(encoding="utf-8")
    assert committed == registry.sources_markdown(reg), "run `python3 -m bot sources`"
    assert "https://safeguardingtool.nspcc.org.uk/what-you-can-do/report-abuse/" in committed


def test_sources_command_writes_and_checks(tmp_path: Path) -> None:
    out = tmp_path / "SOURCES.md"
    assert main(["sources", "--out", str(out)]) == 0
    assert main(["sources", "--out", str(out), "--check"]) == 0
    out.write_text("stale\n")
    assert main(["sources", "--out", str(out), "--check"]) == 1


def _edit_registry(root: Path, change) -> None:  # type: ignore[no-untyped-def]
    path = root / "content" / "helplines.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_fact_without_a_source_fails_naming_the_field(kb_copy: Path) -> None:
    def drop(data: dict) -> None:
        nspcc = next(h for h in data["helplines"] if h["id"] == "nspcc_helpline")
        del nspcc["sources"]["email"]

    _edit_registry(kb_copy, drop)
    with pytest.raises(KnowledgeBaseError) as info:
        load(kb_copy)
    assert "content/helplines.yaml: nspcc_helpline.email: has no source" in str(info.value)
    assert not validate(kb_copy).ok


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda h: h["opening"][0].update(opens="8am"), "nspcc_helpline.opening.0.opens"),
        (lambda h: h["opening"][1].update(days=["saturday"]), "nspcc_helpline.opening.1.days"),
        (lambda h: h["channels"][0].update(kind="fax"), "nspcc_helpline.channels.0.kind"),
        (lambda h: h["sources"]["phone"].pop("checked"), "nspcc_helpline.sources.phone.checked"),
        (
            lambda h: h["sources"]["phone"].update(status="unverifiable"),
            "an unverifiable fact needs a note",
        ),
    ],
)
def test_bad_registry_entries_name_helpline_and_field(kb_copy: Path, change, needle: str) -> None:  # type: ignore[no-untyped-def]
    def edit(data: dict) -> None:
        change(next(h for h in data["helplines"] if h["id"] == "nspcc_helpline"))

    _edit_registry(kb_copy, edit)
    with pytest.raises(KnowledgeBaseError) as info:
        load(kb_copy)
    assert needle in str(info.value)


REPO = Path(__file__).resolve().parents[1]


def _offline_help() -> list[dict[str, str]]:
    """The widget's offline copy of the helplines (web_widget/signpost.js, OFFLINE_HELP)."""

    src = (REPO / "web_widget" / "signpost.js").read_text(encoding="utf-8")
    block = re.search(r"var OFFLINE_HELP = \[(.*?)\];", src, re.S)
    assert block, "OFFLINE_HELP not found"
    entries = re.findall(r"\{(.*?)\}", block.group(1), re.S)
    return [dict(re.findall(r"(\w+): '([^']*)'", e)) for e in entries]


def test_the_widgets_offline_helplines_agree_with_the_registry() -> None:
    # The registry (content/helplines.yaml) is the one source of helpline facts; the widget
    # keeps a copy only for when the API cannot be reached, and it must not drift.
    raw = yaml.safe_load((REPO / "content" / "helplines.yaml").read_text(encoding="utf-8"))
    known = {h["id"]: h for h in raw["helplines"]}
    offline = _offline_help()
    assert [o["id"] for o in offline[:3]] == ["childline", "nspcc_helpline", "emergency"]
    for o in offline:
        fact = known[o["id"]]
        channels = {c["value"] for c in fact.get("channels", ())}
        assert fact["name"].startswith(o["name"]), (o["id"], o["name"])
        for key in ("phone", "url"):
            if key in o:
                assert o[key] == fact.get(key), (o["id"], key, o[key])
        if "contact_url" in o:
            assert o["contact_url"] in channels | {fact.get("contact_url")}, o["id"]
        if "sms" in o:
            assert o["sms"] in channels, o["id"]
        if "text" in o:
            assert o["text"] in {c["label"] for c in fact.get("channels", ())}, o["id"]
