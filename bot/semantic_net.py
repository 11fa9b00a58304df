"""The safety stage's semantic net: crisis wording that neither the rules nor the linear model
know, caught by what it means.

It compares the message's sentence vector (semantic.py) with the same labelled messages the
linear model learns from (triage_model.training_set: crisis classes, and every other
intent's examples as "none") and answers with the class of its nearest neighbours when they
agree and are close enough. It is asked last, only when no rule, safety example or the
linear model placed the message.

The settings were chosen on the tuned situation probes (rounds 9 and 11: 84 crises that got
no safety answer, 980 look-alikes and help-seekers): it caught 17 of the 84 and raised one
alarm among 640 look-alikes. The single nearest message must be of the class too, and a
refusal needs a closer neighbour than the rest: without those, parents' questions ("what
tricks do groomers use so i can protect my son", apps for children) were read as requests to
harm.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from .models import KnowledgeBase
from .semantic import Semantic
from .triage_model import NONE, ModelHit, training_set


@dataclass(frozen=True, slots=True)
class SemanticNetConfig:
    enabled: bool = True
    neighbours: int = 5
    floor: float = 0.7  # the closest neighbour of the winning class is at least this similar
    share: float = 0.6  # and the class holds this share of the neighbours' similarity
    # Classes whose answer is the most jarring when wrong need a closer neighbour.
    strict: dict[str, float] = field(
        default_factory=lambda: {"harmful_request": 0.75, "immediate_danger": 0.7}
    )
    min_words: int = 3  # as the linear model: "no", "help me" is too little to read


class SemanticNet:
    def __init__(
        self, semantic: Semantic, vectors: np.ndarray, labels: list[str], config: SemanticNetConfig
    ) -> None:
        self.semantic = semantic
        self.vectors = vectors
        self.labels = np.asarray(labels)
        self.config = config

    @classmethod
    def build(
        cls,
        kb: KnowledgeBase,
        semantic: Semantic | None,
        config: SemanticNetConfig | None = None,
        training: tuple[list[str], list[str]] | None = None,
    ) -> SemanticNet | None:
        """`training`: the linear model's messages and labels when it has them (the same
        set, normalised once), else training_set(kb)."""
        config = config or SemanticNetConfig()
        if semantic is None or not config.enabled or not kb.triage_examples:
            return None
        texts, labels = training or training_set(kb)
        return cls(semantic, semantic.examples(texts), labels, config)

    def check(self, text: str) -> ModelHit | None:
        """The crisis class the normalised text's nearest labelled messages agree on."""
        cfg = self.config
        if len(text.split()) < cfg.min_words or not len(self.vectors):
            return None
        sims = self.vectors @ self.semantic.embed(text)
        near = np.argpartition(-sims, min(cfg.neighbours, len(sims)) - 1)[: cfg.neighbours]
        weight: dict[str, float] = defaultdict(float)
        closest: dict[str, float] = defaultdict(float)
        nearest = str(self.labels[near[np.argmax(sims[near])]])
        for j in near.tolist():
            label, s = str(self.labels[j]), float(sims[j])
            weight[label] += s
            closest[label] = max(closest[label], s)
        label = max(weight, key=weight.__getitem__)
        total = sum(weight.values())
        if label == NONE or label != nearest or total <= 0:
            return None
        if weight[label] / total < cfg.share:
            return None
        if closest[label] < cfg.strict.get(label, cfg.floor):
            return None
        return ModelHit(label, closest[label] - cfg.strict.get(label, cfg.floor))
