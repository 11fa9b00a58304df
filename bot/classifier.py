"""A linear model over the examples' character n-grams and words.

Fuzzy matching rewards wording close to one example; word evidence rewards an intent's
typical words. A linear model (scikit-learn's LinearSVC on TF-IDF of character n-grams and
word pairs) learns from all of an intent's examples at once which pieces of wording tell it
apart, so it generalises to phrasings no single example has ("what happens to him if he
keeps the photo"). Cross-validation chose it (HISTORY.md, round 6).

A second, smaller model reads meaning: a logistic regression over the examples' sentence
vectors (semantic.py), which places wordings that share no n-gram with any example
(`Head`, `Meaning`; HISTORY.md, round 17).

Training runs with scikit-learn in a child process, once per content (`signpost train`, see
bot/artefact.py), and the numbers are kept as plain arrays. Scoring a message is done here
in numpy, the same arithmetic as scikit-learn's transform + decision_function
(tests check that), but without its per-call overhead, which costs more than the rest of the
matcher.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("signpost.matcher")

CHAR_NGRAMS = (2, 5)
TRAIN_TIMEOUT = 300.0  # seconds; a hung child must not hang start-up
WORD_NGRAMS = (1, 2)
_WORD = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern


def char_ngrams(text: str) -> list[str]:
    """scikit-learn's `char_wb` analyzer: n-grams inside each space-padded word."""
    lo, hi = CHAR_NGRAMS
    out: list[str] = []
    for w in text.split():
        w = f" {w} "
        size = len(w)
        for n in range(lo, hi + 1):
            if size <= n:  # a short word is one n-gram, and longer n add nothing
                out.append(w)
                break
            out += [w[i : i + n] for i in range(size - n + 1)]
    return out


def word_ngrams(text: str) -> list[str]:
    """scikit-learn's `word` analyzer with its default token pattern."""
    tokens = _WORD.findall(text)
    lo, hi = WORD_NGRAMS
    out = list(tokens) if lo == 1 else []
    for n in range(max(2, lo), hi + 1):
        out += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return out


def _counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(values, return_counts=True) for a non-empty array, without its overhead."""
    values = np.sort(values)
    edges = np.empty(len(values) + 1, dtype=bool)
    edges[0] = edges[-1] = True
    np.not_equal(values[1:], values[:-1], out=edges[1:-1])
    at = np.flatnonzero(edges)
    return values[at[:-1]], np.diff(at)


class _Block:
    """One TF-IDF block: vocabulary, IDF weights and the model's weights for its columns."""

    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray, coef: np.ndarray) -> None:
        self.vocabulary = vocabulary
        self.idf = idf
        self.weights = np.ascontiguousarray(coef.T, dtype=np.float64)  # features x classes

    def columns(self, grams: list[str]) -> np.ndarray:
        """The columns of the grams it knows, repeated as often as they occur."""
        cols = np.fromiter(map(self.vocabulary.get, grams, repeat(-1)), np.intp, len(grams))
        return cols[cols >= 0]

    def add(self, cols: np.ndarray, out: np.ndarray) -> None:
        """Add this block's decision values for a message with these columns to `out`."""
        if not len(cols):
            return
        cols, tf = _counts(cols)
        vals = (1.0 + np.log(tf)) * self.idf[cols]  # sublinear tf, then idf
        vals /= np.sqrt(vals @ vals)  # l2 norm
        out += vals @ self.weights[cols]


@dataclass(frozen=True, slots=True)
class Fitted:
    """What scoring needs from a trained model: plain dicts and arrays."""

    classes: np.ndarray  # intent rows, in the order of the model's outputs
    intercept: np.ndarray
    char_vocabulary: dict[str, int]
    char_idf: np.ndarray
    char_coef: np.ndarray  # classes x features
    word_vocabulary: dict[str, int]
    word_idf: np.ndarray
    word_coef: np.ndarray
    words: tuple[str, ...]  # every word of the training texts


@dataclass(frozen=True, slots=True)
class Head:
    """A logistic regression over sentence vectors: its classes and weights."""

    classes: np.ndarray  # intent rows, in the order of the model's outputs
    coef: np.ndarray  # classes x vector size
    intercept: np.ndarray


Learned = Fitted | Head


def fit_head(vectors: np.ndarray, rows: Sequence[int], c: float) -> Head:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=3000).fit(vectors, list(rows))
    return Head(
        classes=np.asarray(model.classes_, dtype=np.intp),
        coef=model.coef_.astype(np.float32),
        intercept=model.intercept_.astype(np.float32),
    )


class Meaning:
    """Per intent row, the head's probability for a message's vector (scikit-learn's
    predict_proba); rows it was not trained on 0."""

    def __init__(self, head: Head, n_rows: int) -> None:
        self.head = head
        self.n_rows = n_rows

    def scores(self, vector: np.ndarray) -> np.ndarray:
        d = self.head.coef @ vector + self.head.intercept
        z = np.exp(d - d.max())
        out = np.zeros(self.n_rows)
        out[self.head.classes] = z / z.sum()
        return out


def fit(texts: Sequence[str], rows: Sequence[int], c: float) -> tuple[Fitted, Any]:
    """Train with scikit-learn; returns the model's numbers and scikit-learn's own objects."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    char = TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True, min_df=2)
    word = TfidfVectorizer(analyzer="word", ngram_range=WORD_NGRAMS, sublinear_tf=True)
    xc = char.fit_transform(texts)
    xw = word.fit_transform(texts)
    model = LinearSVC(C=c, random_state=0).fit(hstack([xc, xw]).tocsr(), list(rows))
    split = xc.shape[1]
    fitted = Fitted(
        classes=np.asarray(model.classes_, dtype=np.intp),
        intercept=np.asarray(model.intercept_, dtype=np.float64),
        char_vocabulary={k: int(v) for k, v in char.vocabulary_.items()},
        char_idf=char.idf_,
        char_coef=model.coef_[:, :split],
        word_vocabulary={k: int(v) for k, v in word.vocabulary_.items()},
        word_idf=word.idf_,
        word_coef=model.coef_[:, split:],
        words=tuple(sorted({w for t in texts for w in t.split()})),
    )
    return fitted, (char, word, model)


class Classifier:
    """Per intent row, a score in 0..1 (a softmax over the model's decision values)."""

    def __init__(self, fitted: Fitted, n_rows: int, temperature: float = 5.0) -> None:
        self.classes = fitted.classes
        self.n_rows = n_rows
        self.temperature = temperature
        self.intercept = fitted.intercept
        self._char = _Block(fitted.char_vocabulary, fitted.char_idf, fitted.char_coef)
        self._word = _Block(fitted.word_vocabulary, fitted.word_idf, fitted.word_coef)
        # char_wb n-grams never cross a word: the known words' columns are worked out once.
        self._char_cols = {w: self._char.columns(char_ngrams(w)) for w in fitted.words}

    def decision(self, text: str) -> np.ndarray:
        """The model's decision value per class (scikit-learn's decision_function)."""
        out = self.intercept.copy()
        words = text.split()
        if words:
            known = self._char_cols
            self._char.add(
                np.concatenate(
                    [known[w] if w in known else self._char.columns(char_ngrams(w)) for w in words]
                ),
                out,
            )
        self._word.add(self._word.columns(word_ngrams(text)), out)
        return out

    def scores(self, text: str) -> np.ndarray:
        """Per intent row: the softmax of the decision values; rows it was not trained on 0."""
        d = self.decision(text)
        z = np.exp((d - d.max()) * self.temperature)
        out = np.zeros(self.n_rows)
        out[self.classes] = z / z.sum()
        return out


def fit_in_child(
    texts: Sequence[str],
    rows: Sequence[int],
    c: float,
    without: str,
    vectors: np.ndarray | None = None,
) -> Learned | None:
    """Train in a short-lived child process: importing scikit-learn and SciPy costs a server
    about 90 MB of memory for good, and the child's share is returned when it exits. With
    `vectors` (one per text) the model is a `Head` over them, else the n-gram model. None
    when training failed (logged as an error, saying what goes on `without` it)."""
    job = pickle.dumps((list(texts), list(rows), c, vectors))
    here = str(Path(__file__).resolve().parent.parent)  # so the child imports this same `bot`
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    try:
        # -P: the working directory is not put first on the path (a stray `bot/` there).
        done = subprocess.run(
            [sys.executable, "-P", "-m", "bot.classifier"],
            input=job,
            capture_output=True,
            check=False,
            env={**os.environ, "PYTHONPATH": path},
            timeout=TRAIN_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.error("the linear model was not trained (%s); %s", exc, without)
        return None
    if done.returncode != 0:
        # Content is data: the last line of the child's error names the problem, no user text.
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        log.error("training the linear model failed (%s); %s", tail, without)
        return None
    return pickle.loads(done.stdout)  # our own child's output, never outside input


def learnable(texts: Sequence[str], rows: Sequence[int]) -> bool:
    """Too little to learn from: under three classes or ten texts."""
    return len(set(rows)) >= 3 and len(texts) >= 10


def to_arrays(fitted: Learned, prefix: str) -> dict[str, np.ndarray]:
    """The model as plain arrays (no pickle), for numpy's .npz files."""
    if isinstance(fitted, Head):
        return {
            f"{prefix}.head_classes": fitted.classes,
            f"{prefix}.head_coef": fitted.coef,
            f"{prefix}.head_intercept": fitted.intercept,
        }
    out = {f"{prefix}.words": np.asarray(fitted.words, dtype=str)}
    for block in ("char", "word"):
        vocab = getattr(fitted, f"{block}_vocabulary")
        terms = np.empty(len(vocab), dtype=object)
        for term, col in vocab.items():
            terms[col] = term
        out[f"{prefix}.{block}_terms"] = terms.astype(str)
        out[f"{prefix}.{block}_idf"] = getattr(fitted, f"{block}_idf")
        out[f"{prefix}.{block}_coef"] = getattr(fitted, f"{block}_coef")
    out[f"{prefix}.classes"] = fitted.classes
    out[f"{prefix}.intercept"] = fitted.intercept
    return out


def from_arrays(data: Any, prefix: str) -> Learned:
    if f"{prefix}.head_coef" in data.files:
        return Head(
            classes=data[f"{prefix}.head_classes"].astype(np.intp),
            coef=data[f"{prefix}.head_coef"],
            intercept=data[f"{prefix}.head_intercept"],
        )

    def vocab(block: str) -> dict[str, int]:
        return {t: i for i, t in enumerate(data[f"{prefix}.{block}_terms"].tolist())}

    return Fitted(
        classes=data[f"{prefix}.classes"].astype(np.intp),
        intercept=data[f"{prefix}.intercept"],
        char_vocabulary=vocab("char"),
        char_idf=data[f"{prefix}.char_idf"],
        char_coef=data[f"{prefix}.char_coef"],
        word_vocabulary=vocab("word"),
        word_idf=data[f"{prefix}.word_idf"],
        word_coef=data[f"{prefix}.word_coef"],
        words=tuple(data[f"{prefix}.words"].tolist()),
    )


def _main() -> None:
    # Through the package, not __main__, so the parent can unpickle `bot.classifier.Fitted`.
    from bot import classifier

    texts, rows, c, vectors = pickle.loads(sys.stdin.buffer.read())
    if vectors is not None:
        learned: classifier.Learned = classifier.fit_head(vectors, rows, c)
    else:
        learned, _ = classifier.fit(texts, rows, c)
    sys.stdout.buffer.write(pickle.dumps(learned))


if __name__ == "__main__":
    _main()
