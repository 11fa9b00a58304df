"""Reading level of answer text, offline: Flesch-Kincaid grade with pyphen syllables.

(textstat downloads NLTK data at first use, which fails without internet; pyphen ships its
hyphenation dictionaries. Without pyphen, a vowel-group count is used instead.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

try:  # optional: part of the `content` and `test` extras
    import pyphen

    _DIC: pyphen.Pyphen | None = pyphen.Pyphen(lang="en_GB")
except ImportError:  # pragma: no cover - depends on the environment
    _DIC = None

_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_PLACEHOLDER = re.compile(r"\{[a-z0-9_]+\.([a-z]+)\}")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)|\n+")
_VOWELS = re.compile(r"[aeiouy]+")


@dataclass(frozen=True, slots=True)
class Readability:
    grade: float
    words: int
    sentences: int
    longest_sentence: int


def plain(markdown: str) -> str:
    """Markdown to prose: links to their words, placeholders to one short word, no markup."""
    text = _LINK.sub(r"\1", markdown)
    text = _PLACEHOLDER.sub(lambda m: "it" if m.group(1) != "name" else "Help", text)
    text = re.sub(r"^\s*(?:[-*+]|\d+\.)\s+", "", text, flags=re.M)  # list bullets
    text = re.sub(r"^#+\s*", "", text, flags=re.M)
    return text.replace("**", "").replace("__", "")


_COUNTED = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")


@lru_cache(maxsize=1024)  # the same few answers' leads, over and over
def word_count(markdown: str) -> int:
    """Words as a reader counts them: numbers too, link addresses and markup not."""
    return len(_COUNTED.findall(plain(markdown)))


@lru_cache(maxsize=4096)
def syllables(word: str) -> int:
    word = word.lower()
    if _DIC is not None:
        return max(1, len(_DIC.positions(word)) + 1)
    count = len(_VOWELS.findall(word))
    if word.endswith("e") and not word.endswith(("le", "ee")) and count > 1:
        count -= 1
    return max(1, count)


def sentences(markdown: str) -> list[list[str]]:
    out = []
    for chunk in _SENTENCE_END.split(plain(markdown)):
        words = _WORD.findall(chunk)
        if words:
            out.append(words)
    return out


def measure(markdown: str) -> Readability:
    sents = sentences(markdown)
    words = [w for s in sents for w in s]
    if not words:
        return Readability(0.0, 0, 0, 0)
    syl = sum(syllables(w) for w in words)
    grade = 0.39 * (len(words) / len(sents)) + 11.8 * (syl / len(words)) - 15.59
    return Readability(round(grade, 1), len(words), len(sents), max(len(s) for s in sents))
