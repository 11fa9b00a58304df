"""A learned second net under the safety rules.

The rules (safety.py) are precise but literal: fresh sets of crisis messages written by
people who never saw them found that about a third of unseen wordings got no safety answer
(HISTORY.md, safety sets). This model learns from the same kind of messages, grouped by class in
content/triage_examples.yaml, plus every intent's examples (safety intents' as crises, all
others' as "none"). It is the same linear model as the matcher's (classifier.py), trained
once per content by `signpost train` (bot/artefact.py), scored in numpy.

It is asked only when the rules and the safety examples found nothing, and answers when the
most likely crisis class beats "none" in the model's decision values. Two guards, chosen by
leave-one-set-out cross-validation with an independent reviewer's false alarms in view
(HISTORY.md, safety sets, round 8): a message of under three words ("no", "help me") is too
little to read, and an emergency answer or a refusal also needs its class to claim the
message on its own (one-vs-rest decision value above 0), since those two are the most
jarring answers to a harmless message.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from .artefact import ModelStore
from .classifier import Classifier
from .models import IntentKind, KnowledgeBase
from .normalise import normalise

log = logging.getLogger("signpost.triage")

NONE = "none"


@dataclass(frozen=True, slots=True)
class TriageModelConfig:
    enabled: bool = True
    c: float = 0.5  # LinearSVC's regularisation
    margin: float = 0.0  # how far the crisis class must beat "none"
    min_words: int = 3
    # Classes whose answer is the most jarring when wrong (999 first; a refusal).
    own_boundary: frozenset[str] = frozenset({"immediate_danger", "harmful_request"})
    # Start-up time and memory: above this many examples in all, the intents' non-safety
    # examples are thinned evenly (crisis examples and triage_examples.yaml are always kept).
    max_examples: int = 20_000


@dataclass(frozen=True, slots=True)
class ModelHit:
    intent: str
    margin: float  # how far the class's decision value is above "none"'s

    @property
    def score(self) -> float:
        """0.5 at the boundary, towards (never reaching) 1: a rule's certainty is 1."""
        return min(0.5 * (1 + math.tanh(self.margin)), 0.99)


class TriageModel:
    def __init__(
        self, classifier: Classifier, labels: tuple[str, ...], config: TriageModelConfig
    ) -> None:
        self._classifier = classifier
        self._config = config
        rows = classifier.classes
        self._none = int(np.flatnonzero(rows == labels.index(NONE))[0])
        crisis = [i for i, r in enumerate(rows) if labels[r] != NONE]
        self._crisis = np.asarray(crisis, dtype=np.intp)
        self._crisis_labels = tuple(labels[rows[i]] for i in crisis)
        self.trained_on: tuple[list[str], list[str]] | None = None

    @classmethod
    def train(
        cls, kb: KnowledgeBase, config: TriageModelConfig, models: ModelStore | None = None
    ) -> TriageModel | None:
        """The model (built by `signpost train`, or trained now), or None when disabled, when
        content/triage_examples.yaml is absent or names fewer than two crisis classes, or
        when training failed (logged)."""
        if not config.enabled or not kb.triage_examples:
            return None
        texts, labels = training_set(kb, config.max_examples)
        names = tuple(sorted(set(labels)))
        if NONE not in names or len(names) < 3:  # the linear model needs three classes
            log.warning("triage: too few classes to learn from; triage runs on the rules alone")
            return None
        rows = [names.index(label) for label in labels]
        store = models or ModelStore(cache=None)
        fitted = store.get("triage", texts, rows, config.c, "triage runs on the rules alone")
        if fitted is None:
            return None
        model = cls(Classifier(fitted, len(names), 1.0), names, config)
        model.trained_on = (texts, labels)  # the semantic net reads the same messages
        return model

    def check(self, text: str) -> ModelHit | None:
        """The crisis class the normalised text most likely is, if sure enough."""
        cfg = self._config
        if len(text.split()) < cfg.min_words:
            return None
        d = self._classifier.decision(text)
        crisis = d[self._crisis]
        best = int(crisis.argmax())
        label = self._crisis_labels[best]
        margin = float(crisis[best] - d[self._none])
        if margin < cfg.margin or (label in cfg.own_boundary and crisis[best] <= 0):
            return None
        return ModelHit(label, margin)

    def scores(self, text: str) -> Scores:
        """Every class's decision value for the normalised text, computed once."""
        d = self._classifier.decision(text)
        values = zip(self._crisis_labels, d[self._crisis].tolist(), strict=True)
        return Scores(dict(values), float(d[self._none]))

    def lean(self, text: str, label: str | None = None) -> float:
        """Scores.lean for the normalised text."""
        return self.scores(text).lean(label)


@dataclass(frozen=True, slots=True)
class Scores:
    """The model's decision values for one text: each crisis class's, and "none"'s."""

    crisis: dict[str, float]
    none: float

    def claim(self, label: str) -> float:
        """The class's own one-vs-rest value (above 0: the class claims the message on its
        own, whatever else it is); -inf for a class the model does not know."""
        return self.crisis.get(label, -math.inf)

    def lean(self, label: str | None = None) -> float:
        """How far `label` (default: the likeliest crisis class) is above "none" (negative:
        the model reads the message as none)."""
        best = max(self.crisis.values()) if label is None else self.claim(label)
        return best - self.none


def training_set(kb: KnowledgeBase, max_examples: int | None = None) -> tuple[list[str], list[str]]:
    """Normalised texts and their labels: a safety intent's id, or "none". Every crisis
    example and every line of triage_examples.yaml is kept; on a knowledge base too big to
    train on whole, the other intents' examples are thinned evenly down to `max_examples`."""
    kept: list[tuple[str, str]] = []
    others: list[str] = []
    for intent in kb.intents.values():
        if intent.kind is IntentKind.SAFETY:
            kept += [(example, intent.id) for example in intent.examples]
        else:
            others += intent.examples
    for label, examples in kb.triage_examples.items():
        kept += [(example, label) for example in examples]
    room = len(others) if max_examples is None else max(max_examples - len(kept), 0)
    if room < len(others):
        others = [others[i * len(others) // room] for i in range(room)]
    kept += [(example, NONE) for example in others]
    texts = [normalise(example, kb.replacements).text for example, _ in kept]
    return texts, [label for _, label in kept]
