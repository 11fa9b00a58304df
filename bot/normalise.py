"""Turn fast, informal typing into a predictable form for triage and matching.

lower-case + Unicode fold -> drop zero-width, emoji and symbols -> apostrophes out,
other punctuation to spaces -> squeeze long letter runs -> text-speak table (data).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

# Unicode categories that carry no words: marks, symbols (emoji), controls, surrogates,
# format characters (zero-width joiners, bidi controls), private use, unassigned.
_DROP = {"Mn", "Me", "So", "Sk", "Cc", "Cf", "Cs", "Co", "Cn"}
_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018`\u00b4\u02bc")
# The same filter for plain ASCII (most messages), which NFKD leaves as it is: one translate
# instead of a category look-up per character.
_ASCII_DROP = {i: None for i in range(128) if unicodedata.category(chr(i)) in _DROP}
_NON_WORD = re.compile(r"[^a-z0-9]+")
_DIGIT = re.compile(r"\d")
_LONG_RUN = re.compile(r"([a-z])\1{2,}")
_AGE = re.compile(r"\b(\d{1,2}) ?(?:yo|y o|yr old|yrs old|years old|year old|yr|yrs)\b")
# Text-speak "2" and "4" read as "to" and "for" only before words that show it ("wants me 2
# meet him", "askin 4 pics") and never after words that give an age ("when i was 4 my...");
# elsewhere they stay numbers (ages, times).
_NOT_AN_AGE = (
    r"(?<!is )(?<!was )(?<!im )(?<!am )(?<!aged )(?<!age )(?<!turned )(?<!only )(?<!just )"
)
_TWO = re.compile(
    _NOT_AN_AGE
    + r"\b2 (?=(meet|send|touch|kiss|tell|get|come|go|see|do|show|take|have|be|keep|talk|"
    r"chat|call|stay|sleep|video|facetime|film|watch|pay|delete|block|report|help|me|her|"
    r"him|us|them|my|the)\b)"
)
_FOUR = re.compile(
    _NOT_AN_AGE
    + r"\b4 (?=(a|me|pics?|pictures?|photos?|nudes|money|gifts?|robux|vbucks|more|my)\b)"
)
MAX_CHARS = 4000  # bounded work for any input; the API already caps messages at 1000


@dataclass(frozen=True, slots=True)
class Normalised:
    original: str
    text: str


def fold(text: str) -> str:
    """Lower-case ASCII words only: accents folded, emoji/symbols/zero-width removed."""
    text = text[:MAX_CHARS]
    if text.isascii():
        text = text.translate(_ASCII_DROP)
    else:
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROP)
    text = text.casefold().translate(_APOSTROPHES)
    text = _NON_WORD.sub(" ", text)
    text = _LONG_RUN.sub(r"\1\1", text)
    return text.strip()


def expand(text: str, replacements: Mapping[str, str]) -> str:
    if _DIGIT.search(text):  # all three need a digit; most texts have none (start-up time)
        text = _AGE.sub(r"\1 year old", text)
        text = _FOUR.sub("for ", _TWO.sub("to ", text))
    return " ".join(replacements.get(tok, tok) for tok in text.split())


def normalise(text: str, replacements: Mapping[str, str]) -> Normalised:
    return Normalised(original=text, text=expand(fold(text), replacements))
