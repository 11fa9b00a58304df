"""The code stays readable: no function in bot/ above cyclomatic complexity 20 (radon rank C
or better) and no module above 400 lines. A failure names every offender."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_rank, cc_visit
from radon.visitors import Function

from tests.conftest import ROOT

MAX_COMPLEXITY = 20
MAX_LINES = 400
PACKAGE = ROOT / "bot"

# Known offenders, each to be removed once fixed (the test below fails when one is).
ALLOWED: set[str] = set()


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "_kb" not in p.parts)


def complexities() -> dict[str, int]:
    """ "bot/module.py:Class.function" -> cyclomatic complexity, for every function."""
    out = {}
    for path in modules():
        rel = path.relative_to(ROOT).as_posix()
        for block in cc_visit(path.read_text(encoding="utf-8")):
            if isinstance(block, Function):
                out[f"{rel}:{block.fullname}"] = block.complexity
    return out


def test_radon_measures_what_we_think() -> None:
    # Guard against a radon upgrade silently measuring nothing: a function with 21 branches.
    code = "def f(x):\n" + "".join(f"    if x == {i}:\n        return {i}\n" for i in range(20))
    (block,) = cc_visit(code)
    assert block.complexity == 21 and cc_rank(21) == "D"


def test_no_function_above_the_complexity_limit() -> None:
    found = complexities()
    assert len(found) > 100  # every module was read
    over = {name: cc for name, cc in found.items() if cc > MAX_COMPLEXITY and name not in ALLOWED}
    listed = ", ".join(f"{n} ({cc}, rank {cc_rank(cc)})" for n, cc in sorted(over.items()))
    assert not over, f"above complexity {MAX_COMPLEXITY}: {listed}; split them"


def test_no_module_above_the_line_limit() -> None:
    lines = {
        p.relative_to(ROOT).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
        for p in modules()
    }
    over = {name: n for name, n in lines.items() if n > MAX_LINES}
    listed = ", ".join(f"{name} ({n} lines)" for name, n in sorted(over.items()))
    assert not over, f"above {MAX_LINES} lines: {listed}"


def test_allowed_offenders_are_still_offending() -> None:
    # Once an allowed function is split (or gone), its entry must go too, or the list
    # would quietly let a new offender of the same name through.
    found = complexities()
    fixed = sorted(n for n in ALLOWED if found.get(n, 0) <= MAX_COMPLEXITY)
    assert not fixed, f"within the limit (or gone) now: remove from ALLOWED: {fixed}"
