"""The matcher's linear model: our scoring must be scikit-learn's arithmetic, exactly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import hstack

from bot import evaluate
from bot.classifier import Classifier, char_ngrams, train, word_ngrams
from bot.engine import Engine
from bot.normalise import normalise
from tests.conftest import EVAL


@pytest.fixture(scope="module")
def texts(engine: Engine) -> list[str]:
    out = sorted(
        {
            normalise(c.text, engine.kb.replacements).text
            for path in sorted(EVAL.glob("*.jsonl"))
            for c in evaluate.read_cases(path)
        }
    )
    return [*out[::7], "", "a", "u ok", "x" * 300, "ab cd ef"]


@pytest.fixture(scope="module")
def model(engine: Engine) -> Classifier:
    clf = engine.matcher._classifier
    assert clf is not None, "the built-in knowledge base trains the classifier"
    return clf


def test_analyzers_match_scikit_learn(model: Classifier, texts: list[str]) -> None:
    char, word, _ = model._sklearn
    char_an, word_an = char.build_analyzer(), word.build_analyzer()
    for text in texts:
        assert char_ngrams(text) == char_an(text), text
        assert word_ngrams(text) == word_an(text), text


def test_decision_values_match_scikit_learn(model: Classifier, texts: list[str]) -> None:
    char, word, svc = model._sklearn
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
    assert train(["hi", "hello"] * 5, [0, 1] * 5, 2, 0.5, 5.0) is None
    assert train(["a b", "c d", "e f"], [0, 1, 2], 3, 0.5, 5.0) is None
