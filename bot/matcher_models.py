"""The matcher's learned parts, from the model store (artefact.py): trained once by
`signpost train` over the topic examples, loaded at start-up.

- the linear model over character and word n-grams (classifier.Classifier);
- the meaning head, a logistic regression over the same examples' sentence vectors
  (classifier.Meaning; semantic.py embeds). Its job key names the encoder, since the key
  hashes the texts, not their vectors.

Either is None when switched off (weight 0), when there is no encoder, or above
`classifier_max_examples` (start-up time): matching works without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .artefact import ModelStore
from .classifier import Classifier, Meaning
from .matcher_index import Index
from .semantic import Semantic

if TYPE_CHECKING:
    from .matcher import MatcherConfig


def linear_model(index: Index, models: ModelStore, cfg: MatcherConfig) -> Classifier | None:
    if cfg.classifier_weight <= 0 or len(index.learn_texts) > cfg.classifier_max_examples:
        return None
    fitted = models.get(
        "matcher", index.learn_texts, index.learn_rows, cfg.classifier_c, "matching without it"
    )
    return Classifier(fitted, len(index.ids), cfg.classifier_temperature) if fitted else None


def meaning_head(
    index: Index, models: ModelStore, semantic: Semantic | None, cfg: MatcherConfig
) -> Meaning | None:
    if semantic is None or cfg.semantic_weight <= 0:
        return None
    if len(index.learn_texts) > cfg.classifier_max_examples:
        return None
    head = models.head(
        f"meaning-{semantic.vectors.tag}",
        index.learn_texts,
        index.learn_rows,
        cfg.semantic_c,
        "matching without meaning",
        semantic.examples(index.learn_texts),
    )
    return Meaning(head, len(index.ids)) if head is not None else None
