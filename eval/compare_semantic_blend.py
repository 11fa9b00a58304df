"""How much of the sentence encoder's meaning the matcher should blend in, and how.

    python -m eval.compare_semantic_blend DEV.jsonl [MORE.jsonl ...] [--out FILE]

For each setting (off; the softmax over intents at several weights) it builds the engine once
and reports, on the given files together: in-scope top-1, off-topic accepted, and the harmless
near misses of the manifest's near-miss sets given a safety answer. Run it on a development set
(never a test set or a probe kept for first sight); the choice and its figures go in
HISTORY.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from bot import evalsets
from bot.engine import Engine
from bot.evalsets import Task
from bot.evaluate import read_cases, report, run
from bot.loader import load
from bot.matcher import MatcherConfig
from bot.semantic import Semantic

SETTINGS: list[tuple[str, dict[str, float]]] = [
    ("off", {"semantic_weight": 0.0}),
    *((f"softmax w={w}", {"semantic_weight": w}) for w in (0.1, 0.2, 0.3)),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", type=Path, nargs="+")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    kb = load()
    semantic = Semantic.load()
    if semantic is None:
        raise SystemExit("no encoder built: run `signpost train` first")
    cases = [c for f in args.files for c in read_cases(f)]
    sets = evalsets.repo()
    near = [
        c
        for s in sets.select(Task.NEAR_MISS)
        for c in read_cases(sets.file(s))
        if c.kind == "near_miss"
    ]
    rows = [
        "| setting | in scope | off-topic accepted | near-miss alarms | ms/message |",
        "|---|---|---|---|---|",
    ]
    for name, changes in SETTINGS:
        engine = Engine(kb, replace(MatcherConfig(), **changes), semantic=semantic)
        start = time.perf_counter()
        rep = report("dev", run(engine, cases))
        ms = 1000 * (time.perf_counter() - start) / max(len(cases), 1)
        alarms = sum(o.safety != "none" for o in run(engine, near))
        rows.append(
            f"| {name} | {rep.in_scope_accuracy:.1%} of {rep.in_scope} | "
            f"{rep.out_of_scope_false_accept_rate:.1%} of {rep.out_of_scope} | "
            f"{alarms}/{len(near)} | {ms:.1f} |"
        )
        print(rows[-1], flush=True)
    text = "\n".join(rows) + "\n"
    if args.out:
        files = ", ".join(str(f) for f in args.files)
        args.out.write_text(f"# The matcher's semantic blend on {files}\n\n{text}")


if __name__ == "__main__":
    main()
