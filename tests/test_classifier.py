"""The matcher's linear model: our scoring must be scikit-learn's arithmetic, exactly."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from scipy.sparse import hstack

from bot import evaluate
from bot.artefact import ModelStore
from bot.classifier import Classifier, char_ngrams, fit, fit_in_child, learnable, word_ngrams
from bot.engine import Engine
from bot.loader import load
from bot.normalise import normalise
from bot.triage_model import TriageModel, TriageModelConfig
from tests.conftest import CASE_FILES


@pytest.fixture(scope="module")
def texts(engine: Engine) -> list[str]:
    out = sorted(
        {
            normalise(c.text, engine.kb.replacements).text
            for path in CASE_FILES
            for c in evaluate.read_cases(path)
        }
    )
    return [*out[::7], "", "a", "u ok", "x" * 300, "ab cd ef"]


@pytest.fixture(scope="module")
def trained(engine: Engine) -> tuple[Classifier, Any]:
    """A model trained in this process on the built-in examples, with scikit-learn's own."""
    ids = engine.matcher._ids
    pairs = [
        (normalise(ex, engine.kb.replacements).text, row)
        for row, iid in enumerate(ids)
        if engine.kb.intents[iid].kind.value != "safety"
        for ex in engine.kb.intents[iid].examples
    ]
    fitted, sk = fit([t for t, _ in pairs], [r for _, r in pairs], 0.5)
    return Classifier(fitted, len(ids)), sk


@pytest.fixture(scope="module")
def model(engine: Engine) -> Classifier:
    clf = engine.matcher._classifier
    assert clf is not None, "the built-in knowledge base trains the classifier"
    return clf


def test_the_engine_loads_the_same_model_its_child_process_trained(
    model: Classifier, trained: tuple[Classifier, Any]
) -> None:
    ours, _ = trained
    np.testing.assert_array_equal(model.classes, ours.classes)
    for text in ("what is grooming", "how do i report it", "dog grooming near me"):
        np.testing.assert_allclose(model.decision(text), ours.decision(text), rtol=1e-9)


def test_analyzers_match_scikit_learn(trained: tuple[Classifier, Any], texts: list[str]) -> None:
    char, word, _ = trained[1]
    char_an, word_an = char.build_analyzer(), word.build_analyzer()
    for text in texts:
        assert char_ngrams(text) == char_an(text), text
        assert word_ngrams(text) == word_an(text), text


def test_decision_values_match_scikit_learn(
    trained: tuple[Classifier, Any], texts: list[str]
) -> None:
    model, (char, word, svc) = trained
    expected = svc.decision_function(hstack([char.transform(texts), word.transform(texts)]))
    ours = np.array([model.decision(t) for t in texts])
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-9)


def test_scores_are_a_distribution_over_the_learned_intents(
    model: Classifier, engine: Engine
) -> None:
    p = model.scores("how do i report someone online")
    assert p.shape == (len(engine.matcher._ids),)
    assert p.sum() == pytest.approx(1.0) and (p >= 0).all()
    ids = engine.matcher._ids
    learned = {ids[r] for r in model.classes}
    # Safety intents are left to triage: the model never learns them.
    assert not learned & {i.id for i in engine.kb.safety_intents()}
    assert {"make_a_report", "out_of_scope", "greeting"} <= learned
    assert ids[int(np.argmax(p))] == "make_a_report"


def test_too_little_to_learn_from() -> None:
    assert not learnable(["hi", "hello"] * 5, [0, 1] * 5)
    assert not learnable(["a b", "c d", "e f"], [0, 1, 2])
    store = ModelStore(cache=None)
    assert store.get("matcher", ["hi", "hello"] * 5, [0, 1] * 5, 0.5, "without it") is None
    assert not store.trained


def test_the_server_process_never_imports_scikit_learn() -> None:
    # Training happens in a child process; the server keeps only arrays (about 90 MB less).
    code = (
        "import sys; from bot.engine import Engine; e = Engine.from_path(); "
        "assert e.matcher._classifier is not None; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_failed_training_is_logged_and_matching_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import bot.classifier as c

    monkeypatch.setattr(c.sys, "executable", sys.executable + "-missing")
    texts = ["what is grooming", "hello there", "dog grooming prices"] * 5
    with caplog.at_level("ERROR", logger="signpost.matcher"):
        assert fit_in_child(texts, [0, 1, 2] * 5, 0.5, "matching without it") is None
    assert "matching without it" in caplog.text
    caplog.clear()
    with caplog.at_level("ERROR", logger="signpost.matcher"):
        # Nothing built to load from: it must train, and fails.
        assert TriageModel.train(load(), TriageModelConfig(), ModelStore(cache=None)) is None
    assert "triage runs on the rules alone" in caplog.text
