"""Property-based and API fuzzing.

- hypothesis over the normaliser, safety triage, matcher and the whole engine: any text
  (emoji, surrogates, control and right-to-left characters, very long words) never raises and
  always gives a valid result;
- schemathesis against the app's own OpenAPI schema, in-process over ASGI: no server errors,
  and every response matches the schema (status code, content type, body).
"""

from __future__ import annotations

import json
import re
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bot.api import create_app
from bot.config import Settings
from bot.engine import Engine
from bot.models import AUDIENCES, FALLBACK, IntentKind, KnowledgeBase, Safety
from bot.normalise import normalise

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Every code point, surrogates and unassigned ones included.
any_char = st.characters(codec=None, categories=None)
any_text = st.text(any_char, max_size=300)
nasty_chars = st.sampled_from(
    [
        *"\x00\u200b\u200c\u200d\u2060\ufeff\u202e\u202d\u200f\u061c\ud800\udfff\U0001f600",
        "\u0301",
        "\u3000",
        "\n",
        "\t",
        "<",
        ">",
        "&",
        "'",
        '"',
        "\\",
        "%",
        "{",
        "}",
        "ß",
        "İ",
    ]
)


@pytest.fixture(scope="module")
def vocabulary(kb: KnowledgeBase) -> list[str]:
    words: set[str] = set()
    for intent in kb.intents.values():
        for ex in intent.examples:
            words.update(ex.split())
        if intent.triage:
            words.update(w for p in intent.triage.phrases for w in p.split())
    words.update(kb.replacements)
    return sorted(words)


def realistic_text(vocab: list[str]) -> st.SearchStrategy[str]:
    """Words our intents use, mixed with noise: reaches triage and matcher code paths."""
    piece = st.one_of(
        st.sampled_from(vocab),
        st.sampled_from(vocab).map(str.upper),
        nasty_chars,
        st.text(any_char, max_size=4),
    )
    sep = st.sampled_from([" ", "  ", "", ".", "!!", " \u200b", "\n", "..."])
    return st.lists(st.tuples(piece, sep), max_size=40).map(
        lambda parts: "".join(p + s for p, s in parts)
    )


_CLEAN = re.compile(r"^[a-z0-9 ]*$")


@given(text=st.one_of(any_text, st.text(nasty_chars, max_size=50)))
@FUZZ
def test_normaliser_never_raises_and_is_clean(kb: KnowledgeBase, text: str) -> None:
    out = normalise(text, kb.replacements)
    assert isinstance(out.text, str)
    assert out.text == out.text.strip()
    assert _CLEAN.match(out.text), repr(out.text)
    assert "  " not in out.text


@given(data=st.data())
@FUZZ
def test_triage_never_raises_and_returns_a_safety_class(
    engine: Engine, vocabulary: list[str], data: st.DataObject
) -> None:
    raw = data.draw(st.one_of(any_text, realistic_text(vocabulary)))
    text = normalise(raw, engine.kb.replacements).text
    hit = engine.triager.triage(text)
    if hit is not None:
        intent = engine.kb.intents[hit.intent]
        assert intent.kind is IntentKind.SAFETY
        assert hit.safety in (Safety.URGENT, Safety.EMERGENCY)


@given(data=st.data())
@FUZZ
def test_matcher_never_raises_and_ranks_sanely(
    engine: Engine, vocabulary: list[str], data: st.DataObject
) -> None:
    raw = data.draw(st.one_of(any_text, realistic_text(vocabulary)))
    m = engine.matcher.match(normalise(raw, engine.kb.replacements).text)
    assert m.intent == FALLBACK or m.intent in engine.kb.intents
    assert 0.0 <= m.confidence <= 1.0
    scores = [c.score for c in m.candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(c.intent in engine.kb.intents for c in m.candidates)
    assert all(d in engine.kb.intents for d in m.did_you_mean)


context_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(any_text, children, max_size=3)
    ),
    max_leaves=10,
)


@given(data=st.data())
@FUZZ
def test_engine_always_answers_with_help(
    engine: Engine, vocabulary: list[str], data: st.DataObject
) -> None:
    message = data.draw(st.one_of(any_text, realistic_text(vocabulary)).filter(str.strip))
    audience = data.draw(st.sampled_from([None, *AUDIENCES, "teacher", ""]))
    context = data.draw(
        st.one_of(
            st.none(),
            st.dictionaries(
                st.sampled_from(["audience", "topic", "v", "x"]), context_values, max_size=4
            ),
            st.fixed_dictionaries(
                {
                    "topic": st.sampled_from(sorted(engine.kb.intents)),
                    "audience": st.sampled_from(AUDIENCES),
                }
            ),
        )
    )
    reply = engine.respond(message[:1000], audience, context)
    assert reply.intent == FALLBACK or reply.intent in engine.kb.intents
    assert 0.0 <= reply.confidence <= 1.0
    assert reply.signposts, "never an empty list of helplines"
    assert reply.answer.strip()
    assert reply.audience in AUDIENCES
    json.dumps(reply.context)  # goes back to the client as JSON


@pytest.mark.parametrize(
    "message",
    [
        "a " * 500,
        "he is " * 166,
        "i am scared " * 83,
        "help me now please " * 52,
        "someone outside my house " * 40,
        ("x" * 999),
        "my son daughter child kid " * 38,
        "kill " * 200,
        " ".join(["right now"] * 111),
    ],
    ids=lambda m: f"{m.split()[0] if m.split() else 'x'}x{len(m)}",
)
def test_long_repetitive_messages_stay_fast(engine: Engine, message: str) -> None:
    """No regular expression or fuzzy scan blows up on long, repetitive input (ReDoS)."""
    engine.respond("warm up")
    start = time.perf_counter()
    reply = engine.respond(message[:1000])
    assert time.perf_counter() - start < 2.0
    assert reply.signposts


# -- schemathesis against our own OpenAPI schema ----------------------------------------------


@pytest.fixture(scope="module")
def api_schema(engine: Engine):
    app = create_app(Settings(rate_limit_enabled=False), engine=engine)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
    )
