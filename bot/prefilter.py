"""Skip regular expressions cheaply when the text cannot match them.

Triage runs a few hundred expressions over every message, and almost all of them fail.
Like RE2's prefilter or a code-search index, each expression is read once for the literal
strings any match must contain (at least one of them). One Aho-Corasick pass finds which of
all those literals a message contains; an expression none of whose literals occur is not
run. The answer is always the same as running it: a literal is only required when every
way of matching goes through it, and anything unclear means "no filter".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from re import _constants as C  # type: ignore[attr-defined]  # the stdlib's own parser
from re import _parser as P  # type: ignore[attr-defined]
from typing import Any

import ahocorasick

Needs = frozenset[str] | None  # text must contain one of these; None: nothing known
_MAX_CHOICES = 4  # a character class of up to this many letters still counts as literal
_REPEATS = {C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT}


class Screened:
    """One pattern of a `Screen`."""

    __slots__ = ("index", "needs", "pattern", "regex")

    def __init__(self, regex: re.Pattern[str], needs: Needs, index: int) -> None:
        self.regex = regex
        self.pattern = regex.pattern
        self.needs = needs  # the literals one of which a match contains; None: always run
        self.index = index

    def search(self, text: str, candidates: AbstractSet[int] | None = None) -> re.Match[str] | None:
        """`candidates` is `Screen.scan(text)`; without it the regex simply runs."""
        if candidates is not None and self.index not in candidates:
            return None
        return self.regex.search(text)


class Group:
    """Patterns asked together ("does any of them match?")."""

    __slots__ = ("ids", "members")

    def __init__(self, members: Iterable[Screened]) -> None:
        self.members = {m.index: m for m in members}
        self.ids = frozenset(self.members)

    def any(self, text: str, candidates: AbstractSet[int] | None = None) -> bool:
        ids = self.ids if candidates is None else self.ids & candidates
        return any(self.members[i].regex.search(text) for i in ids)


class Screen:
    """Many patterns, one pass: an Aho-Corasick automaton finds every required literal in
    the text at once, which names the few patterns that can match; the rest never run."""

    def __init__(self) -> None:
        self._literals: dict[str, int] = {}
        self._users: list[set[int]] = []  # per literal: the patterns that need it
        self._always: set[int] = set()  # patterns with no required literal
        self._count = 0
        self._automaton: ahocorasick.Automaton | None = None

    def add(self, regex: re.Pattern[str]) -> Screened:
        index, self._count = self._count, self._count + 1
        needs = required_literals(regex)
        if needs is None:
            self._always.add(index)
        for literal in needs or ():
            if literal not in self._literals:
                self._literals[literal] = len(self._users)
                self._users.append(set())
            self._users[self._literals[literal]].add(index)
        self._automaton = None  # built again by build() or the next scan
        return Screened(regex, needs, index)

    def group(self, regexes: Iterable[re.Pattern[str]]) -> Group:
        return Group(self.add(r) for r in regexes)

    def build(self) -> None:
        """Make the automaton (done by the owner once all patterns are added)."""
        automaton = ahocorasick.Automaton()
        for literal, lid in self._literals.items():
            automaton.add_word(literal, lid)
        if self._literals:
            automaton.make_automaton()
        self._automaton = automaton  # published only when complete: threads may be scanning

    def scan(self, text: str) -> frozenset[int]:
        """The patterns that may match `text` (a literal they need occurs in it)."""
        automaton = self._automaton
        if automaton is None:
            self.build()
            automaton = self._automaton
            assert automaton is not None
        out = set(self._always)
        if self._literals:
            for lid in {lid for _, lid in automaton.iter(text)}:
                out |= self._users[lid]
        return frozenset(out)


def required_literals(regex: re.Pattern[str]) -> Needs:
    """Strings one of which every match contains, or None when that cannot be told."""
    if regex.flags & (re.IGNORECASE | re.VERBOSE) or not isinstance(regex.pattern, str):
        return None
    try:
        needs = _seq(P.parse(regex.pattern, regex.flags))
    except Exception:  # an unfamiliar construct: never filter rather than filter wrongly
        return None
    return needs if needs and all(needs) else None


def _better(a: Needs, b: Needs) -> Needs:
    """The more selective requirement: longer shortest string, then fewer strings."""
    if a is None:
        return b
    if b is None:
        return a

    def key(s: frozenset[str]) -> tuple[int, int]:
        return min(map(len, s)), -len(s)

    return a if key(a) >= key(b) else b


def _seq(items: Any) -> Needs:
    best: Needs = None
    run: list[str] = []
    for op, av in items:
        if op is C.LITERAL:
            run.append(chr(av))
            continue
        if run:
            best = _better(best, frozenset({"".join(run)}))
            run = []
        best = _better(best, _node(op, av))
    if run:
        best = _better(best, frozenset({"".join(run)}))
    return best


def _node(op: Any, av: Any) -> Needs:
    if op is C.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        return None if add_flags & (re.IGNORECASE | re.VERBOSE) else _seq(sub)
    if op is C.BRANCH:
        out: set[str] = set()
        for alt in av[1]:
            need = _seq(alt)
            if need is None:
                return None  # one way to match needs nothing
            out |= need
        return frozenset(out)
    if op in _REPEATS:
        low, _high, sub = av
        return _seq(sub) if low >= 1 else None
    if op is C.ASSERT:
        return _seq(av[1])  # a lookaround's text must be in the message too
    if op is C.ATOMIC_GROUP:
        return _seq(av)
    if op is C.IN and 0 < len(av) <= _MAX_CHOICES and all(o is C.LITERAL for o, _ in av):
        return frozenset(chr(c) for _, c in av)
    return None  # ASSERT_NOT, AT, ANY, CATEGORY, NOT_LITERAL, GROUPREF...: no requirement
