"""The whole path for one message: normalise -> assess (safety) -> match -> compose.

Stateless: whatever must survive between messages travels in the `context` dict that the
client sends back, so any replica can answer any message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import compose
from .artefact import ModelStore
from .assess import Ranking, SafetyStage
from .loader import load
from .matcher import Matcher, MatcherConfig
from .models import Candidate, KnowledgeBase, Reply
from .normalise import normalise
from .routing import load_routing
from .safety import Triager, rule_concepts
from .semantic import Semantic
from .semantic_net import SemanticNet
from .situation import load_situation
from .triage_model import TriageModel, TriageModelConfig


class Engine:
    def __init__(
        self,
        kb: KnowledgeBase,
        config: MatcherConfig | None = None,
        triage_model: TriageModelConfig | None = None,
        models: ModelStore | None = None,
        semantic: Semantic | bool | None = True,
    ) -> None:
        """The learned parts come from `models` (default: the built artefact or the cache,
        trained now only when neither has them; see artefact.py). `semantic`: the sentence
        encoder (True: the built one, if any; False: none)."""
        self.kb = kb
        self.routing = load_routing(kb)
        self.models = models or ModelStore.default()
        self.semantic = Semantic.load() if semantic is True else semantic or None
        self.matcher = Matcher(kb, config, self.models, self.semantic)
        situation = load_situation(kb)
        self.triager = Triager(kb, frozenset(situation.concepts() - rule_concepts(kb)))
        model = TriageModel.train(kb, triage_model or TriageModelConfig(), self.models)
        self.safety = SafetyStage(
            kb,
            self.triager,
            model,
            self.matcher.config.suggest_floor,
            situation,
            SemanticNet.build(kb, self.semantic, training=model.trained_on if model else None),
        )

    @property
    def triage_model(self) -> TriageModel | None:
        return self.safety.model

    @triage_model.setter
    def triage_model(self, model: TriageModel | None) -> None:
        # A copy of an engine without its learned check (tests of the rules alone).
        stage = self.safety
        self.safety = SafetyStage(
            self.kb, self.triager, model, stage.offer_floor, stage.rules, stage.net
        )

    @classmethod
    def from_path(cls, root: str | None = None) -> Engine:
        return cls(load(root))

    def respond(
        self,
        message: str,
        audience: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Reply:
        ctx = compose.clean_context(context, self.kb)
        text = normalise(message, self.kb.replacements).text
        who = compose.audience(self.routing, audience, text, ctx)
        ranking = Ranking(self.matcher, text)
        assessed = self.safety.assess(text, ranking)
        turn = compose.Turn(text, who, ctx, ranking.best(), assessed.verdict, assessed.situation)
        return compose.reply(self.kb, self.routing, turn)


__all__ = ["Candidate", "Engine"]
