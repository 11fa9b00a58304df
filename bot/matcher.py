"""Rank intents for a message with rapidfuzz, knowing when it does not know.

Every example question is normalised and stripped of stop-words once, at start-up. A
message is scored against all of them in one native `process.extract` call, using
`token_sort_ratio`: unlike `WRatio` it does not give a high score to a short message that
shares one word with a long example, and unlike `token_set_ratio` it does not give 100
when one word set contains the other. Keyword evidence (data in the intent files) adds a
bounded bonus. Scores are calibrated against the evaluation set (see `eval/`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from .models import Candidate, IntentKind, KnowledgeBase
from .normalise import normalise


@dataclass(frozen=True, slots=True)
class MatcherConfig:
    threshold: float = 0.62  # below: fallback
    suggest_floor: float = 0.45  # candidates worth a "did you mean"
    margin: float = 0.04  # top two closer than this (relative): ask which was meant
    keyword_bonus: float = 0.15
    fuzzy_keyword_cutoff: float = 88.0
    top_k: int = 60


@dataclass(frozen=True, slots=True)
class Match:
    intent: str  # the winning intent, or "fallback"
    confidence: float
    candidates: tuple[Candidate, ...]  # ranked, best first, one per intent
    did_you_mean: tuple[str, ...] = ()


class Matcher:
    def __init__(self, kb: KnowledgeBase, config: MatcherConfig | None = None) -> None:
        self.kb = kb
        self.config = config or MatcherConfig()
        self._stop = kb.stopwords
        choices: list[str] = []
        owners: list[str] = []
        keywords: dict[str, set[str]] = {}
        for intent in kb.intents.values():
            for ex in intent.examples:
                text = self.content_words(normalise(ex, kb.replacements).text)
                if text:
                    choices.append(text)
                    owners.append(intent.id)
            for kw in intent.keywords:
                norm = normalise(kw, kb.replacements).text
                if norm:
                    keywords.setdefault(norm, set()).add(intent.id)
        self._choices = choices
        self._owners = owners
        self._single_keywords = {k: frozenset(v) for k, v in keywords.items() if " " not in k}
        self._phrase_keywords = {k: frozenset(v) for k, v in keywords.items() if " " in k}
        self._keyword_vocab = list(self._single_keywords)
        self._kinds = {i.id: i.kind for i in kb.intents.values()}

    def content_words(self, text: str) -> str:
        words = [w for w in text.split() if w not in self._stop]
        return " ".join(words) if words else text

    def keyword_hits(self, text: str) -> set[str]:
        hits: set[str] = set()
        padded = f" {text} "
        for phrase, owners in self._phrase_keywords.items():
            if f" {phrase} " in padded:
                hits |= owners
        for tok in set(text.split()):
            owners = self._single_keywords.get(tok)
            if owners:
                hits |= owners
            elif len(tok) >= 5 and self._keyword_vocab:
                best = process.extractOne(
                    tok,
                    self._keyword_vocab,
                    scorer=fuzz.ratio,
                    score_cutoff=self.config.fuzzy_keyword_cutoff,
                )
                if best is not None:
                    hits |= self._single_keywords[best[0]]
        return hits

    def rank(self, normalised_text: str) -> list[Candidate]:
        """Every intent with any evidence, best first, scores in 0..1."""
        query = self.content_words(normalised_text)
        if not query:
            return []
        best: dict[str, float] = {}
        for _, score, idx in process.extract(
            query, self._choices, scorer=fuzz.token_sort_ratio, limit=self.config.top_k
        ):
            owner = self._owners[idx]
            if score > best.get(owner, -1.0):
                best[owner] = score
        kw = self.keyword_hits(normalised_text)
        for owner in kw:
            best.setdefault(owner, 0.0)
        bonus = self.config.keyword_bonus * 100
        scored = {
            iid: min(100.0, s + (bonus if iid in kw else 0.0)) / 100.0 for iid, s in best.items()
        }
        ranked = sorted(scored.items(), key=lambda kv: kv[1], reverse=True)
        return [Candidate(iid, round(score, 4)) for iid, score in ranked]

    def match(self, normalised_text: str) -> Match:
        cfg = self.config
        ranked = self.rank(normalised_text)
        if not ranked:
            return Match("fallback", 0.0, ())
        top = ranked[0]
        if self._kinds.get(top.intent) is IntentKind.OUT_OF_SCOPE:
            return Match("fallback", top.score, tuple(ranked))
        answerable = [c for c in ranked if self._kinds.get(c.intent) is not IntentKind.OUT_OF_SCOPE]
        close = self._close(answerable)
        if top.score < cfg.threshold:
            return Match("fallback", top.score, tuple(ranked), close)
        if len(close) > 1:
            return Match("fallback", top.score, tuple(ranked), close)
        return Match(top.intent, top.score, tuple(ranked))

    def _close(self, ranked: Sequence[Candidate]) -> tuple[str, ...]:
        """Candidates near the top, as in the Bot Framework's low-score-variation rule."""
        if not ranked or ranked[0].score < self.config.suggest_floor:
            return ()
        top = ranked[0].score
        out = [ranked[0].intent]
        for c in ranked[1:4]:
            if c.score < self.config.suggest_floor or (top - c.score) > self.config.margin * top:
                break
            out.append(c.intent)
        return tuple(out)

