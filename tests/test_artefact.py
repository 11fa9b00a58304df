"""Learned parts trained once and loaded: keys, the .npz round trip, and when it trains."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from bot import artefact, classifier
from bot.artefact import ModelStore, job_key
from bot.engine import Engine
from bot.models import KnowledgeBase

TEXTS = ["what is grooming", "hello there", "dog grooming prices", "how do i report"] * 4
ROWS = [0, 1, 2, 3] * 4


def test_a_key_names_exactly_the_training_data() -> None:
    key = job_key("matcher", TEXTS, ROWS, 0.5)
    assert key == job_key("matcher", list(TEXTS), list(ROWS), 0.5)
    assert key.startswith("matcher-")
    changed = [*TEXTS[:-1], "how do i report it"]
    assert job_key("matcher", changed, ROWS, 0.5) != key
    assert job_key("matcher", TEXTS, [*ROWS[:-1], 2], 0.5) != key
    assert job_key("matcher", TEXTS, ROWS, 1.0) != key
    assert job_key("triage", TEXTS, ROWS, 0.5) != key


def test_the_npz_round_trip_keeps_every_number(tmp_path: Path) -> None:
    fitted, _ = classifier.fit(TEXTS, ROWS, 0.5)
    path = artefact.write({"m-1": fitted}, tmp_path / "a.npz")
    back = artefact.read(path)["m-1"]
    assert back.char_vocabulary == fitted.char_vocabulary
    assert back.word_vocabulary == fitted.word_vocabulary
    assert back.words == fitted.words
    for name in ("classes", "intercept", "char_idf", "char_coef", "word_idf", "word_coef"):
        np.testing.assert_array_equal(getattr(back, name), getattr(fitted, name))
    with np.load(path, allow_pickle=False) as data:  # plain arrays: no pickle to trust
        assert "keys" in data.files
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_a_head_over_vectors_round_trips_and_scores_as_scikit_learn(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(16, 8)).astype(np.float32)
    head = classifier.fit_head(vectors, ROWS, 10.0)
    path = artefact.write({"meaning-1": head}, tmp_path / "a.npz")
    back = artefact.read(path)["meaning-1"]
    assert isinstance(back, classifier.Head)
    for name in ("classes", "coef", "intercept"):
        np.testing.assert_array_equal(getattr(back, name), getattr(head, name))
    sk = LogisticRegression(C=10.0, max_iter=3000).fit(vectors, ROWS)
    meaning = classifier.Meaning(back, n_rows=5)
    for v in vectors[:4]:
        got = meaning.scores(v)
        assert got[4] == 0.0  # a row the head never saw
        np.testing.assert_allclose(got[:4], sk.predict_proba(v[None])[0], atol=1e-4)


def test_the_store_trains_once_then_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = artefact.fit_in_child

    def counting(*args: object) -> classifier.Fitted | None:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(artefact, "fit_in_child", counting)
    first = ModelStore(cache=tmp_path)
    assert first.get("m", TEXTS, ROWS, 0.5, "x") is not None
    assert len(calls) == 1 and first.trained
    second = ModelStore(cache=tmp_path)
    assert second.get("m", TEXTS, ROWS, 0.5, "x") is not None
    assert len(calls) == 1 and not second.trained and list(second.keys()) == first.trained
    # Other content: trained again, and the earlier model is not used for it.
    third = ModelStore(cache=tmp_path)
    assert third.get("m", [*TEXTS[:-1], "report it"], ROWS, 0.5, "x") is not None
    assert len(calls) == 2


def test_an_artefact_file_comes_before_the_cache(tmp_path: Path) -> None:
    fitted, _ = classifier.fit(TEXTS, ROWS, 0.5)
    key = job_key("m", TEXTS, ROWS, 0.5)
    path = artefact.write({key: fitted}, tmp_path / "shipped.npz")
    store = ModelStore(files=[path], cache=None, train=False)
    got = store.get("m", TEXTS, ROWS, 0.5, "x")
    assert got is not None and got.char_vocabulary == fitted.char_vocabulary
    with pytest.raises(LookupError, match="signpost train"):
        store.get("m", TEXTS, [*ROWS[:-1], 0], 0.5, "x")


def test_an_unreadable_artefact_is_logged_and_trained_around(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"not a zip file")
    with caplog.at_level(logging.WARNING, logger="signpost.artefact"):
        store = ModelStore(files=[bad], cache=None)
        assert store.get("m", TEXTS, ROWS, 0.5, "x") is not None
    assert "not read" in caplog.text and store.trained


def test_a_read_only_cache_still_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*args: object, **kwargs: object) -> Path:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(artefact, "write", refuse)
    with caplog.at_level(logging.WARNING, logger="signpost.artefact"):
        store = ModelStore(cache=tmp_path)
        assert store.get("m", TEXTS, ROWS, 0.5, "x") is not None
    assert "not cached" in caplog.text


def test_an_engine_from_a_built_artefact_trains_nothing(kb: KnowledgeBase, tmp_path: Path) -> None:
    built = ModelStore(cache=None)
    Engine(kb, models=built)
    path = artefact.write(built.used, tmp_path / "model.npz")
    store = ModelStore(files=[path], cache=None, train=False)
    engine = Engine(kb, models=store)
    # the matcher's and the safety check's n-gram models, and the matcher's meaning head
    assert not store.trained and len(store.used) == (3 if engine.semantic else 2)
    assert engine.respond("what is grooming").intent == "online_grooming"
