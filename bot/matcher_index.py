"""What the matcher prepares from the intents once, at start-up: how it reads text (stop-words,
synonyms, a light stemmer) and the index of examples and words it builds its tables from."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .models import Intent, IntentKind, KnowledgeBase
from .normalise import normalise

# A word in this many of an intent's examples is fully typical of it. An absolute count (not
# a share) so that adding examples never dilutes what an intent already knows.
TYPICAL_COUNT = 3.0

# Intent rows and their weights for one stem, as numpy arrays.
Postings = tuple[np.ndarray, np.ndarray]

_SUFFIXES = ("ing", "ed", "es", "s", "ly", "er", "e")


def stem(word: str) -> str:
    """A deliberately light stemmer: groom/grooming/groomed/groomer share one stem."""
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    for suf in _SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 3 and not word.endswith("ss"):
            word = word[: -len(suf)]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def sum_by_row(rows: list[np.ndarray], values: list[np.ndarray], n: int) -> np.ndarray:
    """Per row, the sum of its values, added in the order given."""
    if not rows:
        return np.zeros(n)
    return np.bincount(np.concatenate(rows), weights=np.concatenate(values), minlength=n)


@dataclass(frozen=True, slots=True)
class TextForms:
    """How the matcher reads a normalised text: stop-words out, synonyms to one word."""

    stopwords: frozenset[str]
    synonyms: Mapping[str, str]  # a word, or its stem -> its synonym group's word

    @classmethod
    def of(cls, kb: KnowledgeBase) -> TextForms:
        return cls(kb.stopwords, {**{stem(k): v for k, v in kb.synonyms.items()}, **kb.synonyms})

    def unify(self, words: Iterable[str]) -> list[str]:
        """Each word as its synonym group's word, when it has one."""
        syn = self.synonyms
        return [syn.get(w) or syn.get(stem(w)) or w for w in words]

    def content_words(self, text: str) -> str:
        """Stop-words out, synonyms to one word: what both matching passes compare."""
        words = [w for w in text.split() if w not in self.stopwords] or text.split()
        return " ".join(self.unify(words))

    def surface(self, text: str, keep_stopwords: bool) -> str:
        """What the fuzzy pass compares: synonyms unified; stop-words kept only if asked
        (short questions like "who are you" are mostly stop-words)."""
        if not keep_stopwords:
            return self.content_words(text)
        return " ".join(self.unify(text.split()))

    def sorted_full(self, text: str) -> str:
        """Every word (stop-words too), synonyms unified, sorted: the tie-breaking form."""
        return " ".join(sorted(self.unify(text.split())))


@dataclass(slots=True)
class Index:
    """What the matcher gathers from the examples in one pass, before it builds its tables."""

    ids: list[str] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)  # words pre-sorted (token_sort_ratio)
    owners: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    # stem -> intent row -> how typical (examples using it, saturating; keywords high)
    owned: dict[str, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    counts: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    totals: list[int] = field(default_factory=list)
    full_forms: list[list[str]] = field(default_factory=list)  # examples, stop-words kept
    learn_texts: list[str] = field(default_factory=list)  # the linear model's examples
    learn_rows: list[int] = field(default_factory=list)

    @classmethod
    def build(
        cls, kb: KnowledgeBase, forms: TextForms, keep_stopwords: bool, keyword_bonus: float
    ) -> Index:
        index = cls()
        for intent in kb.intents.values():
            index.add(intent, forms, kb.replacements, keep_stopwords, keyword_bonus)
        return index

    def add(
        self,
        intent: Intent,
        forms: TextForms,
        replacements: Mapping[str, str],
        keep_stopwords: bool,
        keyword_bonus: float,
    ) -> None:
        """One intent's row: its examples' sorted forms, the words typical of it, and (for
        all but safety, which is the safety stage's) the linear model's examples."""
        normalised = [normalise(ex, replacements).text for ex in intent.examples]
        texts = [t for t in (forms.content_words(n) for n in normalised) if t]
        keywords = [
            w
            for kw in intent.keywords
            for w in forms.content_words(normalise(kw, replacements).text).split()
        ]
        if not texts and not keywords:
            return
        present = [n for n in normalised if n]
        row = self._new_row(intent.id, [forms.surface(n, keep_stopwords) for n in present])
        self.full_forms.append([forms.sorted_full(n) for n in present])
        self._count_words(row, texts, keywords, keyword_bonus)
        if intent.kind is not IntentKind.SAFETY:
            self.learn_texts.extend(present)
            self.learn_rows.extend(row for _ in present)

    def idf(self) -> dict[str, float]:
        """Per stem: how rare it is across intents."""
        n_rows = max(1, len(self.ids))
        return {s: math.log(1 + n_rows / len(by)) for s, by in self.owned.items()}

    def postings(self, idf: Mapping[str, float], oos_row: int | None) -> dict[str, Postings]:
        """Per stem: which intents own it and the evidence each gets, ready to add in numpy."""
        out = {
            s: (
                np.fromiter(by.keys(), dtype=np.intp, count=len(by)),
                np.fromiter(by.values(), dtype=np.float64, count=len(by)) * idf[s],
            )
            for s, by in self.owned.items()
        }
        if oos_row is not None:
            # A word only off-topic examples use is as telling as a word never seen (the
            # out-of-scope intent is many small topics, so its share-of-examples is tiny).
            for s, (rows, weights) in out.items():
                if len(rows) == 1 and rows[0] == oos_row:
                    weights[0] = max(weights[0], idf[s])
        return out

    def naive_bayes(self, alpha: float) -> tuple[dict[str, Postings], np.ndarray]:
        """Naive Bayes, kept sparse: a word adds log(count + alpha) - log(alpha) to the intents
        that use it; every known word costs each intent log(alpha / its smoothed total)."""
        counts = self.counts
        per_stem = {
            s: (
                np.fromiter(by.keys(), dtype=np.intp, count=len(by)),
                np.log1p(np.fromiter(by.values(), dtype=np.float64, count=len(by)) / alpha),
            )
            for s, by in counts.items()
        }
        smoothed = np.array(self.totals, dtype=np.float64) + alpha * max(1, len(counts))
        return per_stem, math.log(alpha) - np.log(smoothed)

    def _new_row(self, intent_id: str, surfaces: list[str]) -> int:
        row = len(self.ids)
        self.ids.append(intent_id)
        self.starts.append(len(self.choices))
        # An intent with keywords but no examples still gets a (never matching) block.
        # Only the best score per intent counts, so one copy of each sorted form is enough.
        for t in dict.fromkeys(" ".join(sorted(t.split())) for t in surfaces or [""]):
            self.choices.append(t)
            self.owners.append(intent_id)
        return row

    def _count_words(
        self, row: int, texts: list[str], keywords: list[str], keyword_bonus: float
    ) -> None:
        df = Counter(s for t in texts for s in {stem(w) for w in t.split()})
        self.totals.append(sum(df.values()))
        for s, count in df.items():
            self.owned[s][row] = min(1.0, count / TYPICAL_COUNT)
            self.counts[s][row] = count
        for w in keywords:
            self.owned[stem(w)][row] = 1.0 + keyword_bonus
