"""The matcher: ranked candidates, calibrated fallback, the known rapidfuzz traps."""

from __future__ import annotations

import dataclasses

import pytest
from rapidfuzz import fuzz, utils

from bot import evalsets
from bot.engine import Engine
from bot.matcher import Matcher, MatcherConfig, stem
from bot.models import KnowledgeBase
from bot.normalise import normalise
from tests.conftest import read_jsonl


def top(engine: Engine, text: str) -> str:
    return engine.respond(text, "parent").intent


def test_the_rapidfuzz_traps_we_designed_around() -> None:
    # Why the matcher does not use these scorers (see bot/matcher.py).
    example = "what are the signs of grooming online"
    assert fuzz.WRatio("grooming", example, processor=utils.default_process) >= 85.5
    assert fuzz.token_set_ratio("grooming", "dog grooming prices") == 100
    assert fuzz.ratio("What", "what") < 100  # rapidfuzz 3: no preprocessing by default


def test_candidates_are_ranked_and_bounded(engine: Engine) -> None:
    m = engine.matcher
    ranked = m.rank(normalise("what is sextortion", engine.kb.replacements).text)
    assert ranked[0].intent == "coercion_and_blackmail"
    scores = [c.score for c in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)
    assert len({c.intent for c in ranked}) == len(ranked)  # one per intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("what is grooming", "online_grooming"),
        ("signs of groomin", "online_grooming"),
        ("wat is sextorshun", "coercion_and_blackmail"),
        ("how do i report it to ceop", "make_a_report"),
        ("can i get a nude of me taken down", "remove_image"),
        ("are ai generated pictures of children illegal", "prohibited_images"),
        ("who counts as a child", "what_is_a_child"),
        ("hiya", "greeting"),
    ],
)
def test_known_questions(engine: Engine, text: str, intent: str) -> None:
    assert top(engine, text) == intent


@pytest.mark.parametrize(
    "text",
    [
        "how do I live stream on Twitch",
        "dog grooming prices",
        "my report card is bad",
        "the law on e-scooters",
        "how do I block pop-up ads",
        "asdfghjkl",
        "",
        "the",
    ],
)
def test_out_of_scope_stays_out(engine: Engine, text: str) -> None:
    assert top(engine, text or "?") == "fallback"


def test_short_query_sharing_one_word_is_not_confident(engine: Engine) -> None:
    # WRatio would score this 85.5 against a long grooming example.
    assert top(engine, "online") == "fallback"


def test_did_you_mean_offers_close_candidates(kb: KnowledgeBase) -> None:
    # A wide margin makes every runner-up "close": the rule keeps up to 4, best first.
    m = Matcher(kb, dataclasses.replace(MatcherConfig(), margin=0.5))
    ranked = m.rank(normalise("sexual pictures", kb.replacements).text)
    decided = m.decide(ranked)
    assert decided.intent == "fallback"
    assert 2 <= len(decided.did_you_mean) <= 4
    assert decided.did_you_mean[0] == ranked[0].intent
    assert len(set(decided.did_you_mean)) == len(decided.did_you_mean)


def test_unclear_message_gets_did_you_mean_choices(client) -> None:
    body = client.post("/api/chat", json={"message": "online stuff"}).json()
    assert body["intent"] == "fallback" and body["did_you_mean"] is True
    assert 1 <= len(body["suggestions"]) <= 4
    titles = {i.title for i in client.app.state.engine.kb.intents.values()}
    assert all(s["label"] in titles for s in body["suggestions"])
    assert body["signposts"]


def test_stemmer_joins_word_forms() -> None:
    assert stem("grooming") == stem("groomed") == stem("groom")
    assert stem("pictures") == stem("picture")


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("who are you", "about_the_bot"),
        ("who should i tell", "talk_to_someone"),
        ("are you a real person", "about_the_bot"),
    ],
)
def test_questions_that_are_all_stop_words_are_told_apart(
    engine: Engine, text: str, intent: str
) -> None:
    # Without stop-words both read "who" (or "person real"): the whole wording decides.
    assert top(engine, text) == intent


def test_bayes_vote_is_a_distribution_over_topic_and_conversation_intents(engine: Engine) -> None:
    m = engine.matcher
    _, _, vote, stems = m.evidence(m.content_words("what is sextortion"))
    assert stems
    assert vote.sum() == pytest.approx(1.0)
    kinds = {iid: engine.kb.intents[iid].kind.value for iid in m._ids}
    assert all(
        v == 0.0
        for iid, v in zip(m._ids, vote, strict=True)
        if kinds[iid] in ("out_of_scope", "safety")
    )
    assert m._ids[int(vote.argmax())] == "coercion_and_blackmail"


@pytest.mark.parametrize(
    "text", ["dog grooming prices", "how do i live stream on twitch", "report card"]
)
def test_bayes_vote_cannot_pull_an_off_topic_message_in(kb: KnowledgeBase, text: str) -> None:
    m = Matcher(kb, dataclasses.replace(MatcherConfig(), bayes_weight=1.0))
    assert m.match(normalise(text, kb.replacements).text).intent == "fallback"


def test_requires_words_keep_general_questions_off_the_online_topic(kb: KnowledgeBase) -> None:
    assert "online" in kb.intents["online_csae"].requires
    plain = Matcher(kb, dataclasses.replace(MatcherConfig(), requires_penalty=0.0))
    used = Matcher(kb)

    def score(m: Matcher, text: str) -> float:
        ranked = m.rank(normalise(text, kb.replacements).text)
        return next((c.score for c in ranked if c.intent == "online_csae"), 0.0)

    general = "child abuse what does it mean"  # no word that makes it online
    assert score(used, general) < score(plain, general)
    assert used.rank(normalise(general, kb.replacements).text)[0].intent != "online_csae"
    for online in ("what is online sexual abuse", "wat is onlne child abuse"):
        assert score(used, online) == score(plain, online)
        assert used.match(normalise(online, kb.replacements).text).intent == "online_csae"


def test_the_topic_shortlist_keeps_the_top_of_the_ranking(engine: Engine) -> None:
    """match(full=False) fuzzy-scores only the likely topics; what a topic reply is built
    from (the intent, its score, the did-you-mean choices, the first candidate) stays."""
    m = engine.matcher
    assert m.config.topic_shortlist > 0
    sets = evalsets.repo()
    texts = [c["text"] for c in read_jsonl(sets.file("topics/tune.jsonl"))]
    texts += [c["text"] for c in read_jsonl(sets.file("near_miss/near_miss.jsonl"))]
    for text in texts:
        norm = normalise(text, engine.kb.replacements).text
        full, short = m.match(norm), m.match(norm, full=False)
        assert short.intent == full.intent and short.confidence == full.confidence, text
        assert short.did_you_mean == full.did_you_mean, text
        assert short.candidates[:1] == full.candidates[:1], text
