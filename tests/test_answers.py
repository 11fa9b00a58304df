"""Answers that fit a phone: an action-first lead ("answer") and the rest ("more"), the house
rules of docs/CONTENT.md, and the questions people really ask, for each audience."""

from __future__ import annotations

import re
import shutil
import statistics
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.compose import MORE, joined, split_more
from bot.engine import Engine
from bot.loader import default_root, load
from bot.menu import load_menu
from bot.models import AUDIENCES, KnowledgeBase
from bot.readability import measure
from bot.validate import LEAD_WORDS, ValidationResult, check_shape
from tests.conftest import chat

CONTENT = default_root() / "content"


def files(audience: str) -> list[Path]:
    return sorted((CONTENT / audience).glob("*.md"))


# ---------- the shape: lead, then "Tell me more" ----------


def test_reply_carries_the_lead_in_answer_and_the_rest_in_more(
    client: TestClient, kb: KnowledgeBase
) -> None:
    body = chat(client, "what is grooming", audience="young_person")
    lead, more = split_more(kb.answers["online_grooming"]["young_person"])
    assert body["answer"] == lead and body["more"] == more
    assert MORE not in body["answer"] and MORE not in body["more"]
    assert "Warning signs" in body["more"] and "Warning signs" not in body["answer"]
    # An answer with no split sends everything as the lead and an empty "more".
    assert chat(client, "hi")["more"] in ("", split_more(kb.answers["greeting"]["young_person"])[1])


@pytest.mark.parametrize("audience", AUDIENCES)
def test_every_lead_is_short_and_names_help_or_a_next_step(audience: str) -> None:
    out = ValidationResult()
    for path in files(audience):
        check_shape(path.name, audience, path.read_text(encoding="utf-8"), out)
    assert not out.errors, "\n".join(map(str, out.errors))


def test_the_lead_limits_are_the_issue_s() -> None:
    assert LEAD_WORDS == {"young_person": 60, "parent": 90}


def test_median_full_young_person_answer_reads_at_grade_5_or_below() -> None:
    grades = [measure(p.read_text().replace(MORE, "\n")).grade for p in files("young_person")]
    assert len(grades) >= 40
    assert statistics.median(grades) <= 5.0, statistics.median(grades)
    assert max(grades) <= 6.0


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Call {childline.name}. " + "word " * 61, "words before"),
        ("It happens to many people. Nobody knows why.", "names no helpline"),
        ("Call {childline.name}. I'll tell your teacher for you.", "not a person"),
        ("Call {childline.name}. You did the right thing by telling someone.", "telling the bot"),
        ("Call {childline.name}. I promise this stays between us.", "secrecy"),
        ("Call {childline.name}. Maybe it was your fault.", "no blame"),
        ("Call {childline.name}. Go and confront him about it.", "confronting"),
        ("Call {childline.name}.\n<!--more-->\nOne.\n<!--more-->\nTwo.", "more than once"),
    ],
)
def test_the_linter_catches_each_house_rule(text: str, rule: str) -> None:
    out = ValidationResult()
    check_shape("x.md", "young_person", text, out)
    assert any(rule in str(e) for e in out.errors), out.errors


@pytest.mark.parametrize(
    "text",
    [
        "Call {childline.name}. It is not your fault. It was never your fault.",
        "Call {childline.name}. Don't confront the person. Do not go and confront him.",
        "Call {childline.name}. After an adult helps you report it, you can delete it.",
    ],
)
def test_the_linter_allows_the_safe_wordings(text: str) -> None:
    out = ValidationResult()
    check_shape("x.md", "young_person", text, out)
    assert not out.errors, out.errors


# ---------- corrected facts and missing safety steps ----------


def lead(kb: KnowledgeBase, answer: str, audience: str) -> str:
    return split_more(kb.answers[answer][audience])[0]


def full(kb: KnowledgeBase, answer: str, audience: str) -> str:
    return kb.answers[answer][audience]


@pytest.mark.parametrize("audience", AUDIENCES)
def test_silent_999_calls_say_press_55(kb: KnowledgeBase, audience: str) -> None:
    for answer in ("immediate_danger", "emergency_lead"):
        assert "press 55" in lead(kb, answer, audience), (answer, audience)


@pytest.mark.parametrize("audience", AUDIENCES)
def test_the_bot_never_counts_as_telling_someone(kb: KnowledgeBase, audience: str) -> None:
    text = lead(kb, "disclosure", audience)
    assert "computer" in text and re.search(r"talk to a person|tell a real person", text)
    for per in kb.answers.values():
        assert not re.search(r"by telling someone|telling us", per[audience], re.I)


def test_removal_tools_by_age(kb: KnowledgeBase) -> None:
    yp = lead(kb, "remove_image", "young_person")
    assert "under 18" in yp and "Report Remove" in yp
    assert "18 or over" in yp and "StopNCII" in yp
    for audience in AUDIENCES:
        text = full(kb, "remove_image", audience)
        assert "StopNCII" in text and re.search(r"taken (when you were |at )18 or over", text)
        sextortion = full(kb, "disclosure_sextortion", audience)
        assert "under 18" in sextortion.lower() or "under-18s" in sextortion.lower()


def test_scotland_is_not_said_to_have_similar_laws(kb: KnowledgeBase) -> None:
    for per in kb.answers.values():
        for text in per.values():
            assert "similar laws" not in text
    assert "does not cover Scotland" in full(kb, "the_law", "parent")
    assert "Scotland has different laws" in full(kb, "prohibited_images", "young_person")
    assert "not Scotland" in full(kb, "law_scotland_ni", "parent")


def test_nudes_answer_says_no_tell_before_deleting_and_what_the_law_means(
    kb: KnowledgeBase,
) -> None:
    # Tell an adult before deleting: other answers say keep evidence, and a message from an
    # adult is a crime to report (an independent review, round 12).
    text = lead(kb, "indecent_images", "young_person")
    assert "always say no" in text and "not in trouble" in text
    assert "before you delete anything" in text
    assert "police try not to treat young people as criminals" in full(
        kb, "indecent_images", "young_person"
    )


# ---------- the questions people really ask, both audiences ----------

# (audience, message in their words, acceptable intents, what the lead must say: a regex).
# Told as harm ("sum1 made a fake nude of me"), a message gets the disclosure answer (real
# help first); the topic's advice follows when the matcher also places the topic.
TOLD = r"real person|talk to a person"
QUESTIONS = [
    # will I get in trouble / what happens if I tell / will my parents be told
    (
        "young_person",
        "wud i be in trouble if i told a teacher",
        {"what_happens_if_i_tell"},
        "not be in trouble",
    ),
    (
        "parent",
        "can i call the nspcc anonymously",
        {"what_happens_if_i_tell"},
        "don't have to give your name",
    ),
    (
        "young_person",
        "do childline ring ur parents",
        {"what_happens_if_i_tell", "talk_to_someone"},
        "give your name",
    ),
    # what happens after a CEOP report
    (
        "young_person",
        "i made a ceop report, what happens next",
        {"after_a_report"},
        "phone or email",
    ),
    ("parent", "ceop have our report, what happens now", {"after_a_report"}, "phone or email"),
    # I already paid
    (
        "young_person",
        "i already sent him money what do i do now",
        {"already_paid"},
        "don't pay any more",
    ),
    (
        "parent",
        "my daughter already paid them 100 pounds what now",
        {"already_paid"},
        "don't pay any more",
    ),
    # sexting and the law for under-18s, sending and receiving
    ("young_person", "is sexting illegal if were both 15", {"indecent_images"}, "always say no"),
    (
        "parent",
        "is my 15 year old breaking the law by sexting her boyfriend",
        {"indecent_images"},
        "don't blame them",
    ),
    # someone sent me a nude I didn't ask for
    (
        "young_person",
        "sum1 sent me a nude and i didnt want it",
        {"unwanted_nude", "disclosure"},
        "don't send it on|" + TOLD,
    ),
    (
        "parent",
        "someone sent my 12 year old a picture of his private parts",
        # the nudes answer also covers a nude received: don't view, copy or forward it
        {"unwanted_nude", "disclosure", "indecent_images"},
        "not in trouble|received a nude|" + TOLD,
    ),
    # an online friend wants to meet
    (
        "young_person",
        "this guy i met on roblox wants to meet up irl",
        {"meeting_online_friend", "disclosure"},
        "don't go on your own",
    ),
    (
        "parent",
        "my son is going to meet someone he knows from fortnite",
        {"meeting_online_friend"},
        "call 999",
    ),
    # a child saw porn / I saw porn
    ("young_person", "i accidently saw porn", {"seen_porn"}, "not in trouble"),
    ("parent", "found out my 10 year old has been watching porn", {"seen_porn"}, "don't shame"),
    # should I take their phone away
    (
        "parent",
        "is it a good idea to take my daughters phone off her",
        {"take_phone_away"},
        "report it",
    ),
    (
        "young_person",
        "if i tell my mum shell take my phone away",
        {"take_phone_away"},
        "still the right thing",
    ),
    # deepfake or AI nudes of me
    (
        "young_person",
        "sum1 made a fake nude of me with ai",
        {"deepfake_nudes", "disclosure"},
        "Report Remove|" + TOLD,
    ),
    (
        "parent",
        "boys made deepfake nudes of my daughter",
        {"deepfake_nudes", "disclosure"},
        "Report Remove|" + TOLD,
    ),
    # the law in Scotland and Northern Ireland
    (
        "young_person",
        "is the law the same in scotland",
        {"law_scotland_ni"},
        "different in Scotland",
    ),
    (
        "parent",
        "how is the law different in northern ireland",
        {"law_scotland_ni"},
        "Northern Ireland",
    ),
    # police non-emergency 101
    ("young_person", "wats the non emergency police number", {"police_101"}, "Call 101"),
    ("parent", "when should i call 101 about my child", {"police_101"}, "Call 101"),
    # what the IWF and CEOP are
    ("young_person", "wat is the internet watch foundation", {"what_is_iwf"}, "UK charity"),
    ("parent", "what does the iwf actually do", {"what_is_iwf"}, "anonymously"),
    ("young_person", "who r ceop", {"what_is_ceop"}, "part of the police"),
    ("parent", "what is ceop exactly", {"what_is_ceop"}, "National Crime Agency"),
    # PAPYRUS for parents worried about suicide (the self-harm answer leads with it)
    ("parent", "im scared my son might be suicidal", {"self_harm"}, "PAPYRUS"),
]


@pytest.mark.parametrize(
    ("audience", "text", "intents", "needle"),
    QUESTIONS,
    ids=[f"{a[:2]}:{t}" for a, t, _, _ in QUESTIONS],
)
def test_each_question_gets_its_answer(
    client: TestClient, audience: str, text: str, intents: set[str], needle: str
) -> None:
    body = chat(client, text, audience=audience)
    assert body["intent"] in intents, body["intent"]
    assert re.search(needle, body["answer"], re.I), body["answer"]
    first = {"young_person": "childline", "parent": "nspcc_helpline"}[audience]
    ids = [s["id"] for s in body["signposts"]]
    assert first in ids or ids[0] in ("emergency", "police_101", "papyrus", "ceop", "iwf"), ids


def test_every_new_question_is_covered_for_both_audiences() -> None:
    by_intent: dict[str, set[str]] = {}
    for audience, _, intents, _ in QUESTIONS:
        for i in intents:
            by_intent.setdefault(i, set()).add(audience)
    for intent in (
        "what_happens_if_i_tell",
        "after_a_report",
        "already_paid",
        "indecent_images",
        "seen_porn",
        "take_phone_away",
        "deepfake_nudes",
        "law_scotland_ni",
        "police_101",
        "what_is_iwf",
        "what_is_ceop",
    ):
        assert by_intent[intent] == set(AUDIENCES), intent


def test_papyrus_is_offered_to_a_worried_parent(client: TestClient) -> None:
    body = chat(client, "im scared my son might be suicidal", audience="parent")
    assert "papyrus" in [s["id"] for s in body["signposts"]]


@pytest.mark.parametrize(
    ("audience", "topic_message", "needle"),
    [
        ("young_person", "what is grooming", "Stop replying"),
        ("parent", "what are the signs of grooming", "stay calm"),
    ],
)
def test_what_should_i_do_gets_the_topic_s_action_first_lead(
    client: TestClient, audience: str, topic_message: str, needle: str
) -> None:
    first = chat(client, topic_message, audience=audience)
    body = chat(client, "wat shud i do now", audience=audience, context=first["context"])
    assert body["intent"] == "online_grooming"
    assert needle.lower() in body["answer"].lower()
    assert len(body["answer"].split()) <= LEAD_WORDS[audience] + 15  # placeholders filled


@pytest.fixture(scope="module")
def friend_routed(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The knowledge base with the situation routing pointing friends at helping_a_friend
    (content/situation.yaml `friend_help`, set by the integrator)."""
    root = tmp_path_factory.mktemp("kb")
    for name in ("intents", "content"):
        shutil.copytree(default_root() / name, root / name)
    path = root / "content" / "situation.yaml"
    text = re.sub(r"(?m)^friend_help:.*$", "friend_help: helping_a_friend", path.read_text())
    path.write_text(text)
    return Engine(load(root))


@pytest.mark.parametrize(
    ("audience", "text", "needle"),
    [
        ("young_person", "my bestie is being groomed how can i help her", "good friend"),
        ("parent", "what should i do if my sons mate is being exploited", "don't confront"),
    ],
)
def test_helping_a_friend(friend_routed: Engine, audience: str, text: str, needle: str) -> None:
    reply = friend_routed.respond(text, audience)
    assert reply.intent == "helping_a_friend"
    assert needle.lower() in reply.answer.lower()


# ---------- the topic menu in each audience's words ----------


def test_topic_menu_in_each_audience_s_words(client: TestClient, engine: Engine) -> None:
    menu = load_menu(engine.kb)
    young = client.get("/api/topics", params={"audience": "young_person"}).json()["topics"]
    parent = client.get("/api/topics", params={"audience": "parent"}).json()["topics"]
    titles = [t["title"] for t in young]
    assert titles[:4] == [
        "Someone is asking me for pictures",
        "Someone is threatening to share my pictures",
        "I saw something that upset me",
        "I want to talk to someone",
    ]
    assert not any("exploitation" in t.lower() or "sexual" in t.lower() for t in titles)
    assert [t["title"] for t in parent] == [m.label for m in menu.parent]
    assert all("my child" in t["title"].lower() or "i" in t["title"].lower() for t in parent)
    for audience in AUDIENCES:
        for item in getattr(menu, audience):
            assert engine.respond(item.message, audience).intent == item.intent, item


def test_unknown_menu_intent_stops_start_up(kb_copy: Path) -> None:
    from bot.loader import KnowledgeBaseError

    path = kb_copy / "content" / "menu.yaml"
    path.write_text(path.read_text().replace("intent: seen_porn", "intent: seen_pron", 1))
    with pytest.raises(KnowledgeBaseError) as info:
        load_menu(load(kb_copy))
    assert "content/menu.yaml: young_person[2].intent: no intent 'seen_pron'" in str(info.value)


def test_a_reply_of_several_answers_keeps_the_first_two_leads_and_holds_the_rest(
    kb: KnowledgeBase,
) -> None:
    # Danger now with sextortion: 999 first, then the class's own help; the sextortion advice
    # (a third lead) would push the screen past 60 words, so it opens "Tell me more".
    parts = ["emergency_lead", "disclosure", "disclosure_sextortion"]
    shown, more = joined(kb, parts, "young_person")
    first, second, third = (lead(kb, p, "young_person") for p in parts)
    assert shown == f"{first}\n\n{second}"
    assert more.startswith(third)
    # Two parts always show together; a third only when all fit.
    shown, more = joined(kb, ["disclosure", "disclosure_sextortion"], "young_person")
    assert shown.endswith(third) and not more.startswith(third)
