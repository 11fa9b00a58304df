"""Rank intents for a message with rapidfuzz, knowing when it does not know.

Four kinds of evidence, prepared once at start-up (matcher_index.py gathers the examples'
words; the fourth, a linear model over the examples, is classifier.py's):

- Fuzzy similarity to the example questions: the message (normalised, stop-words out) is
  scored against every example in one native `process.cdist` call: `ratio` on words sorted
  once at start-up, which is `token_sort_ratio` without re-sorting every example per query.
  Unlike `WRatio` it does not give 85.5 to a short message that shares one word with a
  long example; unlike `token_set_ratio` it does not give 100 when one word
  set contains the other.
- Word evidence: how much of the message is explained by words that are typical of an
  intent (its examples and keywords), weighted by how rare each word is across intents
  (IDF). Misspelt words are resolved to the vocabulary with `fuzz.ratio`. Words the
  knowledge base has never seen pull the score down, which is what keeps "dog grooming
  prices" and "live stream on Twitch" out.
- A naive-Bayes vote between the topic and conversation intents (word counts over their
  examples): it tells apart topics that share words ("remove" the picture vs "report" it),
  which IDF alone cannot. It only chooses between them; whether to answer at all is left to
  the first two signals, so it cannot pull an off-topic message in.
- A linear model (`classifier.py`: LinearSVC over character and word n-grams of every
  non-safety example, trained once by `signpost train`), blended into the score.
- Meaning: a logistic regression over the same examples' sentence vectors (semantic.py),
  blended in at a smaller share; it places wordings that share no n-gram with an example.

The blend weight and the thresholds were chosen on the tuning split of the evaluation set
(`eval/compare_scorers.py`); the test split is only ever reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from .artefact import ModelStore
from .matcher_index import Index, TextForms, stem, sum_by_row
from .matcher_models import linear_model, meaning_head
from .models import Candidate, IntentKind, KnowledgeBase
from .normalise import normalise
from .semantic import Semantic


@dataclass(frozen=True, slots=True)
class MatcherConfig:
    threshold: float = 0.55  # below: fallback
    suggest_floor: float = 0.35  # candidates worth a "did you mean"
    margin: float = 0.005  # top two closer than this (relative): ask which was meant
    fuzzy_weight: float = 0.7  # blend: fuzzy example similarity vs word evidence
    keyword_bonus: float = 0.5  # a keyword's evidence on top of a fully typical word
    unknown_weight: float = 1.0  # an unseen word weighs like a word this rare (IDF units)
    vocab_cutoff: float = 75.0  # fuzz.ratio needed to read a typo as a known word
    top_k: int = 10  # candidates returned
    shortlist: int = 64  # above this many intents, fuzzy-score only the best-evidenced ones
    # When not every score is needed (match(full=False)): fuzzy-score only the topics among
    # this many with the most word evidence and this many the linear model rates highest
    # (other intents always). 0: every topic.
    topic_shortlist: int = 5
    evidence_threshold: float = 5.0  # or this much IDF mass of typical words: a match
    unknown_to_oos: float = 0.5  # words never seen count this much for out-of-scope
    fuzzy_keeps_stopwords: bool = False
    exact: float = 0.92  # fuzzy similarity at which an example decides on its own
    min_evidence: float = 1.5  # below this IDF mass, only a near-exact example can match
    bayes_weight: float = 0.1  # share of the score from the naive-Bayes vote between topics
    bayes_alpha: float = 0.5  # additive smoothing of the word counts
    oos_discount: float = 0.06  # the out-of-scope intent's score is scaled by (1 - this)
    requires_penalty: float = 0.15  # score cut when none of an intent's `requires` words is used
    classifier_weight: float = 0.2  # share of the linear model (classifier.py) in the score
    classifier_c: float = 0.5  # its regularisation (LinearSVC's C)
    classifier_temperature: float = 5.0  # softmax sharpness over its decision values
    # Above this many examples the model is not trained (start-up time); matching works without.
    classifier_max_examples: int = 20_000
    # Meaning: the share of the logistic regression over sentence vectors, and its C (chosen
    # on fresh_23 with eval/compare_semantic_blend.py; HISTORY.md, round 17). 0: off.
    semantic_weight: float = 0.15
    semantic_c: float = 30.0


@dataclass(frozen=True, slots=True)
class Match:
    intent: str  # the winning intent, or "fallback"
    confidence: float
    candidates: tuple[Candidate, ...]  # ranked, best first, one per intent
    did_you_mean: tuple[str, ...] = ()


class Matcher:
    def __init__(
        self,
        kb: KnowledgeBase,
        config: MatcherConfig | None = None,
        models: ModelStore | None = None,
        semantic: Semantic | None = None,
    ) -> None:
        self.kb = kb
        self.config = config or MatcherConfig()
        self._forms = TextForms.of(kb)
        self._kinds = {i.id: i.kind for i in kb.intents.values()}
        cfg = self.config
        index = Index.build(kb, self._forms, cfg.fuzzy_keeps_stopwords, cfg.keyword_bonus)
        self._ids = ids = index.ids
        store = models or ModelStore(cache=None)
        self._classifier = linear_model(index, store, cfg)
        self._set_fuzzy(index)
        # Per intent with `requires`: the stems that define it ("online" for online abuse).
        self._requires = {
            row: frozenset(
                stem(w)
                for r in kb.intents[iid].requires
                for w in self.content_words(normalise(r, kb.replacements).text).split()
            )
            for row, iid in enumerate(ids)
            if kb.intents[iid].requires
        }
        self._set_evidence(index)
        self._set_bayes(index)
        self.semantic = semantic if cfg.semantic_weight > 0 else None
        self._meaning = meaning_head(index, store, self.semantic, cfg)

    def _set_fuzzy(self, index: Index) -> None:
        ids, choices, starts = index.ids, index.choices, index.starts
        self._choices = choices
        self._owners = index.owners
        self._starts = np.array(starts, dtype=np.intp)
        ends = [*starts[1:], len(choices)]
        self._by_row = [choices[a:b] for a, b in zip(starts, ends, strict=True)]
        self._full_by_row = index.full_forms
        # Rows fuzzy-scored even in a shortlist: all but the topics (few examples each, or,
        # for out-of-scope, the evidence that a message is off-topic).
        self._not_topics = np.array(
            [r for r, i in enumerate(ids) if self._kinds[i] is not IntentKind.TOPIC], dtype=np.intp
        )

    def _set_evidence(self, index: Index) -> None:
        oos = [r for r, i in enumerate(self._ids) if self._kinds[i] is IntentKind.OUT_OF_SCOPE]
        self._oos_row: int | None = oos[0] if oos else None
        self._idf = index.idf()
        self._postings = index.postings(self._idf, self._oos_row)
        self._vocab = list(self._postings)
        self._unknown_idf = self.config.unknown_weight * math.log(1 + max(1, len(self._ids)))

    def _set_bayes(self, index: Index) -> None:
        self._bayes, self._bayes_base = index.naive_bayes(self.config.bayes_alpha)
        # The vote is between the intents a match can answer with: topics and conversation.
        # Safety intents keep their own score (the safety stage compares it with a threshold).
        self._answerable = np.array(
            [self._kinds[i] in (IntentKind.TOPIC, IntentKind.CONVERSATION) for i in self._ids],
            dtype=bool,
        )

    def fuzzy_form(self, text: str) -> str:
        """What the fuzzy pass compares (see TextForms.surface)."""
        return self._forms.surface(text, self.config.fuzzy_keeps_stopwords)

    def content_words(self, text: str) -> str:
        """Stop-words out, synonyms to one word: what both matching passes compare."""
        return self._forms.content_words(text)

    def _resolve(self, word: str) -> tuple[str | None, float]:
        """The known stem a message word stands for, and how sure (1.0 = exact)."""
        s = stem(word)
        if s in self._postings:
            return s, 1.0
        if len(s) >= 4 and self._vocab:
            hit = process.extractOne(
                s, self._vocab, scorer=fuzz.ratio, score_cutoff=self.config.vocab_cutoff
            )
            # Typos keep their first letter: "policy" is not a misspelt "police".
            if hit is not None and hit[0][0] == s[0]:
                return hit[0], hit[1] / 100.0
        return None, 0.0

    def evidence(self, query: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, set[str]]:
        """Per intent: the share of the message's information its vocabulary explains, the
        raw amount (IDF mass), and the naive-Bayes vote between topic and conversation
        intents (0 when no word is known); plus the known stems the message used. Words never
        seen count for the out-of-scope intent."""
        n = len(self._ids)
        total = unknown = 0.0
        stems: set[str] = set()
        # Gathered, then summed by one bincount each: it adds in the same order as adding
        # word by word did, so the sums are the same to the last bit, at a fraction of the cost.
        owners: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        bayes: list[tuple[np.ndarray, np.ndarray]] = []
        for word in dict.fromkeys(query.split()):
            s, sure = self._resolve(word)
            if s is None:
                total += self._unknown_idf
                unknown += self._unknown_idf
                continue
            total += self._idf[s]
            rows, w = self._postings[s]
            owners.append(rows)
            weights.append(w if sure == 1.0 else w * sure)
            counted = self._bayes.get(s)
            if counted is not None and s not in stems:
                bayes.append(counted)
            stems.add(s)
        mass = sum_by_row(owners, weights, n)
        loglik = sum_by_row([b[0] for b in bayes], [b[1] for b in bayes], n)
        known = len(stems)
        if self._oos_row is not None:
            mass[self._oos_row] += self.config.unknown_to_oos * unknown
        share = np.minimum(1.0, mass / total) if total > 0 else mass
        vote = np.zeros(len(self._ids))
        if known and self._answerable.any():
            ll = loglik[self._answerable] + known * self._bayes_base[self._answerable]
            p = np.exp(ll - ll.max())
            vote[self._answerable] = p / p.sum()
        return share, mass, vote, stems

    def similarity(self, query: str, rows: np.ndarray | None = None) -> np.ndarray:
        """Per intent: the best token_sort_ratio of the message to any of its examples,
        for every intent (one native call over all examples) or only for `rows`."""
        out = np.zeros(len(self._ids))
        if not self._choices:
            return out
        q = " ".join(sorted(query.split()))
        if rows is None:
            row = process.cdist([q], self._choices, scorer=fuzz.ratio, dtype=np.uint8)[0]
            return np.maximum.reduceat(row, self._starts).astype(np.float64) / 100.0
        choices: list[str] = []
        starts: list[int] = []
        for r in rows.tolist():
            starts.append(len(choices))
            choices += self._by_row[r]
        row = process.cdist([q], choices, scorer=fuzz.ratio, dtype=np.uint8)[0]
        out[rows] = np.maximum.reduceat(row, starts) / 100.0
        return out

    def rank(self, normalised_text: str, full: bool = True) -> list[Candidate]:
        """The best intents, best first, scores in 0..1. With `full=False` the fuzzy pass,
        the costliest part, skips topics that neither word evidence nor the linear model
        favours: they score lower than in full, and so only lower places can differ (on every
        evaluation text the replies came out identical)."""
        query = self.content_words(normalised_text)
        if not query or not self._ids:
            return []
        share, mass, vote, stems = self.evidence(query)
        model = self._classifier
        p = model.scores(normalised_text) if model is not None else None  # shortlist uses it
        sem = self.meaning(normalised_text)
        fuzzy, exact = self._fuzzy(normalised_text, query, self._fuzzy_rows(share, p, full, sem))
        base = self._blend(fuzzy, share, p, stems | {stem(w) for w in query.split()}, sem)
        return self._top(self._combine(base, vote, fuzzy, exact), mass)

    def meaning(self, normalised_text: str) -> np.ndarray | None:
        """Per intent: its share of the message's meaning (sums to 1), or None when off."""
        if self._meaning is None or self.semantic is None:
            return None
        return self._meaning.scores(self.semantic.embed(normalised_text))

    def _fuzzy_rows(
        self, share: np.ndarray, p: np.ndarray | None, full: bool, sem: np.ndarray | None = None
    ) -> np.ndarray | None:
        """The rows worth fuzzy-scoring, or None for all of them."""
        cfg = self.config
        if len(self._ids) > cfg.shortlist:
            # Large knowledge bases: fuzzy-score only the intents whose words the message
            # uses most (typos are already resolved to known words), plus out-of-scope.
            rows = np.argpartition(-share, cfg.shortlist - 1)[: cfg.shortlist]
            if self._oos_row is not None and self._oos_row not in rows:
                rows = np.append(rows, self._oos_row)
            return rows
        if not full and 0 < cfg.topic_shortlist < len(self._ids):
            k = cfg.topic_shortlist
            picks = [self._not_topics, np.argpartition(-share, k - 1)[:k]]
            for extra in (p, sem):
                if extra is not None:
                    picks.append(np.argpartition(-extra, k - 1)[:k])
            return np.unique(np.concatenate(picks))
        return None

    def _fuzzy(
        self, normalised_text: str, query: str, rows: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per intent: fuzzy similarity, and whether it is (almost) an example of it."""
        cfg = self.config
        surface = self.fuzzy_form(normalised_text) if cfg.fuzzy_keeps_stopwords else query
        fuzzy = self.similarity(surface, rows)
        exact = fuzzy >= cfg.exact
        if np.count_nonzero(exact) > 1:
            # Several intents tie once stop-words are gone ("who are you" / "who should i
            # tell" are both "who"): the whole wording decides which example it really is.
            q = self._forms.sorted_full(normalised_text)
            for r in np.flatnonzero(exact):
                hit = process.extractOne(q, self._full_by_row[r], scorer=fuzz.ratio)
                fuzzy[r] = min(fuzzy[r], hit[1] / 100.0 if hit else 0.0)
            exact = fuzzy >= cfg.exact
        return fuzzy, exact

    def _blend(
        self,
        fuzzy: np.ndarray,
        share: np.ndarray,
        p: np.ndarray | None,
        present: set[str],
        sem: np.ndarray | None = None,
    ) -> np.ndarray:
        """Fuzzy similarity, word evidence, the linear model and meaning in one score per
        intent; out-of-scope discounted, intents missing their `requires` words cut."""
        cfg = self.config
        a = cfg.fuzzy_weight
        base = a * fuzzy + (1 - a) * share
        model = self._classifier
        if model is not None and p is not None:
            # The linear model's view, blended in for the intents it knows.
            h = cfg.classifier_weight
            learned = model.classes
            base[learned] = (1 - h) * base[learned] + h * p[learned]
        if sem is not None:
            w = cfg.semantic_weight
            base = (1 - w) * base + w * sem
        if self._oos_row is not None:
            # Hundreds of off-topic examples give it more chances to resemble anything.
            base[self._oos_row] *= 1.0 - cfg.oos_discount
        for r, needed in self._requires.items():
            if not present & needed:
                base[r] *= 1.0 - cfg.requires_penalty
        return base

    def _combine(
        self, base: np.ndarray, vote: np.ndarray, fuzzy: np.ndarray, exact: np.ndarray
    ) -> np.ndarray:
        """The naive-Bayes vote between answerable intents added, unless the evidence says
        off-topic; a near-exact example decides on its own."""
        g = self.config.bayes_weight
        combined = np.where(self._answerable, (1 - g) * base + g * vote, base)
        oos = self._oos_row
        if oos is not None and int(np.argmax(base)) == oos:
            # Off-topic on the evidence: the vote between topics must not overturn that.
            combined = np.minimum(combined, np.nextafter(base[oos], 0.0))
            combined[oos] = base[oos]
        # A message (almost) identical to an example belongs to that example's intent.
        combined[exact] = np.maximum(combined[exact], fuzzy[exact])
        return combined

    def _top(self, combined: np.ndarray, mass: np.ndarray) -> list[Candidate]:
        k = min(self.config.top_k, len(combined))
        top = np.argpartition(-combined, k - 1)[:k]
        top = top[np.argsort(-combined[top], kind="stable")]
        # Plain floats once (tolist), not one numpy scalar per field.
        scores, masses = combined[top].tolist(), mass[top].tolist()
        return [
            Candidate(self._ids[i], round(c, 4), round(m, 3))
            for i, c, m in zip(top.tolist(), scores, masses, strict=True)
            if c > 0
        ]

    def match(self, normalised_text: str, full: bool = True) -> Match:
        return self.decide(self.rank(normalised_text, full))

    def decide(self, ranked: Sequence[Candidate]) -> Match:
        """The answer to give: safety intents are left to triage (see engine), the
        out-of-scope intent means fallback, and a close call asks "did you mean"."""
        cfg = self.config
        options = [c for c in ranked if self._kinds.get(c.intent) is not IntentKind.SAFETY]
        if not options:
            return Match("fallback", 0.0, tuple(ranked))
        top = options[0]
        if self._kinds.get(top.intent) is IntentKind.OUT_OF_SCOPE:
            return Match("fallback", top.score, tuple(ranked))
        answerable = [
            c for c in options if self._kinds.get(c.intent) is not IntentKind.OUT_OF_SCOPE
        ]
        close = self._close(answerable)
        # Long messages spread over many words: enough typical words also make a match.
        confident = (
            top.score >= cfg.threshold
            and (top.evidence >= cfg.min_evidence or top.score >= cfg.exact)
        ) or top.evidence >= cfg.evidence_threshold
        if not confident or len(close) > 1:
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
