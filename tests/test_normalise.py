from __future__ import annotations

from bot.models import KnowledgeBase
from bot.normalise import fold, normalise


def test_fold_removes_noise() -> None:
    assert fold("  WHAT is\u200b GROOMING?!  ") == "what is grooming"
    assert fold("caf\u00e9 \U0001f62d\U0001f62d help") == "cafe help"
    assert fold("don't he's I\u2019m") == "dont hes im"
    assert fold("pleeeeease") == "pleease"
    assert fold("\u202eabc\u202c \x00 \ud800x") == "abc x"
    assert fold("") == ""


def test_textspeak_and_misspellings_are_expanded(kb: KnowledgeBase) -> None:
    n = normalise("sum1 wants my pics rn, is it sextorshun? hes blackmale-ing me", kb.replacements)
    assert "someone" in n.text and "pictures" in n.text and "right now" in n.text
    assert "sextortion" in n.text
    assert n.original.startswith("sum1")


def test_ages_are_read(kb: KnowledgeBase) -> None:
    assert "12 year old" in normalise("my 12yo son", kb.replacements).text
    assert "15 year old" in normalise("shes 15 yrs old", kb.replacements).text


def test_long_input_is_bounded(kb: KnowledgeBase) -> None:
    text = normalise("\U0001f600" * 10_000 + " grooming", kb.replacements).text
    assert len(text) < 5000


def test_text_speak_two_and_four_read_as_words_only_before_words_that_show_it() -> None:
    assert normalise("wants me 2 meet him", {}).text == "wants me to meet him"
    assert normalise("askin 4 pics", {}).text == "askin for pics"
    # ages and times stay numbers
    assert normalise("im 2", {}).text == "im 2"
    assert normalise("at 4 pm with 2 people", {}).text == "at 4 pm with 2 people"
