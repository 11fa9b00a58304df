"""The literal screen in front of triage's regexes must never change an answer."""

from __future__ import annotations

import re
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import evaluate
from bot.engine import Engine
from bot.normalise import normalise
from bot.prefilter import Screen, Screened, required_literals
from tests.conftest import CASE_FILES


@pytest.mark.parametrize(
    ("pattern", "needs"),
    [
        (r"\bgroom\w*", {"groom"}),
        (r"\b(sextort|blackmail)ed\b", {"sextort", "blackmail"}),
        (r"(?<!\w)(?:at my door|outside)(?!\w)", {"at my door", "outside"}),
        # The most selective required piece wins: "scared"/"afraid" over "i " and "am"/"m".
        (r"\bi (am|m) (scared|afraid)\b", {"scared", "afraid"}),
        # A lookahead's text must be in the message too.
        (r"^(?=[\s\S]*\bnudes?\b)[\s\S]*\bsen\b", {"nude"}),
        (r"kill( myself)?", {"kill"}),
        (r"colou?r", {"colo"}),
        (r"[sz]ext", {"ext"}),
        (r"(groom|)ing", {"ing"}),  # an empty alternative: only "ing" is sure
        (r"\w+ \w+", {" "}),
        # Nothing is sure: the regex always runs.
        (r"(?i)groom", None),  # case-insensitive: a literal could be spelt otherwise
        (r"(?:abc)?", None),
        (r"(ab|\w)c?", None),  # one alternative needs no literal
        (r"^(?![\s\S]*\bsafe\b)", None),  # only a negative lookahead
    ],
)
def test_required_literals(pattern: str, needs: set[str] | None) -> None:
    assert required_literals(re.compile(pattern)) == needs


@pytest.fixture(scope="module")
def screened(engine: Engine) -> tuple[Screen, list[re.Pattern[str]], tuple[Screened, ...]]:
    """Every regex triage runs, behind one screen."""
    regexes: list[re.Pattern[str]] = []
    for intent in engine.kb.safety_intents():
        t = intent.triage
        assert t is not None
        regexes += [*t.patterns, *t.unless, *t.emergency_patterns]
    regexes += [s.regex for s in engine.triager._concepts.values()]
    screen = Screen()
    return screen, regexes, tuple(screen.add(r) for r in regexes)


def test_screen_agrees_with_every_triage_regex_on_every_eval_text(
    engine: Engine, screened: tuple[Screen, list[re.Pattern[str]], tuple[Screened, ...]]
) -> None:
    screen, regexes, wrapped = screened
    texts = {
        normalise(c.text, engine.kb.replacements).text
        for path in CASE_FILES
        for c in evaluate.read_cases(path)
    }
    assert sum(s.needs is not None for s in wrapped) >= 0.95 * len(regexes)
    skipped = 0
    for text in texts:
        seen = screen.scan(text)
        for rx, s in zip(regexes, wrapped, strict=True):
            # Where the screen lets a regex through, it runs that regex: only skips can differ.
            if s.index not in seen:
                skipped += 1
                assert rx.search(text) is None, (rx.pattern, text)
    assert skipped >= 0.8 * len(texts) * len(regexes)  # the screen is doing its job


@cache
def _pieces(regexes: tuple[re.Pattern[str], ...]) -> list[str]:
    return sorted({p for rx in regexes for p in (required_literals(rx) or ())})


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_screen_agrees_on_texts_made_of_pattern_pieces(
    screened: tuple[Screen, list[re.Pattern[str]], tuple[Screened, ...]], data: st.DataObject
) -> None:
    # Messages stitched from the literal pieces the regexes look for, so that many of them
    # pass the screen and the regexes decide.
    screen, regexes, wrapped = screened
    pieces = _pieces(tuple(regexes))
    words = st.sampled_from([*pieces, "i", "my", "he", "me", "now", "help", "is", "?"])
    text = " ".join(data.draw(st.lists(words, min_size=1, max_size=12)))
    text = " ".join(text.split())
    seen = screen.scan(text)
    for rx, s in zip(regexes, wrapped, strict=True):
        assert (s.search(text, seen) is not None) == (rx.search(text) is not None), rx.pattern


def test_a_fresh_triager_answers_threads_at_once(engine: Engine) -> None:
    # The first requests can arrive together (event loop and thread pool): the screen must be
    # complete before anyone scans with it.
    from concurrent.futures import ThreadPoolExecutor

    from bot.safety import Triager

    texts = ["he touched me and said keep it secret", "what is grooming", "i want to die"] * 20
    expected = [engine.triager.triage(t) for t in texts]
    for _ in range(5):
        fresh = Triager(engine.kb)
        with ThreadPoolExecutor(max_workers=8) as pool:
            got = list(pool.map(fresh.triage, texts))
        assert [h and h.intent for h in got] == [h and h.intent for h in expected]
