"""Every answer, for both audiences, through the real API: signposts present and ordered,
and every fact (numbers, addresses, ages) drawn from the one helpline registry."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from bot.models import AUDIENCES, CONTRACT_IDS, FALLBACK, IntentKind, KnowledgeBase
from tests.conftest import chat

PHONE = re.compile(r"(?<![\w.])\+?\d[\d ]{1,14}\d(?!\w)")
URL = re.compile(r"https://[^\s)\]]+")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def registry(kb: KnowledgeBase) -> tuple[set[str], set[str], set[str]]:
    entries = [*kb.helplines.values(), *kb.references.values()]
    phones = {re.sub(r"\D", "", x) for h in entries for x in (h.phone, h.sms) if x}
    urls = {h.url for h in entries if h.url}
    emails = {h.email for h in entries if h.email}
    return phones, urls, emails


@pytest.mark.parametrize("audience", AUDIENCES)
def test_every_answer_uses_only_registry_facts(kb: KnowledgeBase, audience: str) -> None:
    phones, urls, emails = registry(kb)
    for answer_id, per in kb.answers.items():
        text = per[audience]
        assert "{" not in text, f"{answer_id}: unfilled placeholder"
        for num in PHONE.findall(URL.sub(" ", text)):
            digits = re.sub(r"\D", "", num)
            if len(digits) >= 3:
                assert digits in phones, f"{answer_id}/{audience}: {num!r} not in the registry"
        for url in URL.findall(text):
            assert url in urls, f"{answer_id}/{audience}: {url!r} not in the registry"
        for email in EMAIL.findall(text):
            assert email in emails, f"{answer_id}/{audience}: {email!r} not in the registry"


def test_registry_holds_the_verified_facts(kb: KnowledgeBase) -> None:
    h = kb.helplines
    assert h["emergency"].phone == "999"
    assert h["childline"].phone == "0800 1111"
    assert h["childline"].url == "https://www.childline.org.uk/"
    assert h["nspcc_helpline"].phone == "0808 800 5000"
    assert h["nspcc_helpline"].email == "help@nspcc.org.uk"
    assert h["ceop"].url == "https://www.ceop.police.uk/Safety-Centre/"
    assert h["iwf"].url == "https://www.iwf.org.uk/"
    assert h["take_it_down"].url == "https://takeitdown.ncmec.org/"
    assert h["stop_it_now"].phone == "0808 1000 900"
    assert h["samaritans"].phone == "116 123"
    assert h["shout"].sms == "85258" and "SHOUT" in (h["shout"].text or "")


@pytest.mark.parametrize(
    ("answer", "facts"),
    [
        ("what_is_a_child", ["18"]),
        ("child_sexual_exploitation", ["exchange|in return|swap"]),
        ("prohibited_images", ["AI"]),
        ("indecent_images", ["18"]),
        ("the_law", ["legislation.gov.uk"]),
    ],
)
def test_seed_facts_come_through(kb: KnowledgeBase, answer: str, facts: list[str]) -> None:
    for audience in AUDIENCES:
        text = kb.answers[answer][audience]
        for fact in facts:
            assert re.search(fact.lower(), text.lower()), f"{answer}/{audience} lacks {fact!r}"


def test_not_ready_to_report_points_to_a_helpline(kb: KnowledgeBase) -> None:
    assert "0808 800 5000" in kb.answers["make_a_report"]["parent"]
    assert "0800 1111" in kb.answers["make_a_report"]["young_person"]


def test_answers_never_advise_confronting_or_promise_secrecy(kb: KnowledgeBase) -> None:
    for answer_id, per in kb.answers.items():
        for audience, text in per.items():
            low = text.lower()
            assert not re.search(
                r"(?<!not )(?<!don't )(?<!never )\bconfront (them|him|her)\b", low
            ), f"{answer_id}/{audience}"
            assert "i promise" not in low and "i won't tell anyone" not in low


@pytest.mark.parametrize("audience", AUDIENCES)
def test_every_intent_through_the_api_carries_signposts(
    client: TestClient, kb: KnowledgeBase, audience: str
) -> None:
    first = {"young_person": "childline", "parent": "nspcc_helpline"}[audience]
    for iid in CONTRACT_IDS:
        intent = kb.intents[iid]
        if iid == FALLBACK:
            continue
        body = chat(client, intent.examples[0], audience=audience)
        assert body["signposts"], iid
        ids = [s["id"] for s in body["signposts"]]
        if body["safety"] == "emergency":
            assert ids[0] == "emergency", (iid, ids)
        elif intent.kind is IntentKind.TOPIC and body["intent"] == iid:
            assert ids[0] == first, (iid, ids)
        for s in body["signposts"]:
            h = kb.helplines[s["id"]]
            assert s["phone"] == h.phone and s["url"] == h.url


def test_topics_have_two_to_four_follow_ups(kb: KnowledgeBase) -> None:
    for intent in kb.topics():
        assert 2 <= len(intent.suggestions) <= 4, intent.id
