"""How much of the sentence encoder's meaning the matcher should blend in, and how.

    python -m eval.compare_semantic_blend DEV.jsonl [MORE.jsonl ...] [--out FILE]

For each setting it builds the engine once and reports, on the given files together:
in-scope top-1, off-topic accepted, and the harmless near misses of the manifest's near-miss
sets given a safety answer. The settings: off; the nearest example's similarity per intent
as a softmax (the first design, round 13); a logistic regression over the examples' vectors
(the matcher's `Meaning`) at several C and weights. Run it on a development set (never a
test set or a probe kept for first sight); the choice and its figures go in HISTORY.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bot import evalsets
from bot.engine import Engine
from bot.evalsets import Task
from bot.evaluate import read_cases, report, run
from bot.loader import load
from bot.matcher import Matcher, MatcherConfig
from bot.models import IntentKind, KnowledgeBase
from bot.normalise import normalise
from bot.semantic import Semantic

NEAREST_TEMPERATURE = 0.03
SETTINGS: list[tuple[str, dict[str, float]]] = [
    ("off", {"semantic_weight": 0.0}),
    *((f"nearest example, softmax w={w}", {"semantic_weight": w, "nearest": 1}) for w in (0.15,)),
    *(
        (f"logistic regression C={c:g} w={w}", {"semantic_weight": w, "semantic_c": c})
        for c in (1.0, 10.0, 30.0, 100.0)
        for w in (0.1, 0.15, 0.2, 0.3)
    ),
]


def nearest(kb: KnowledgeBase, semantic: Semantic, matcher: Matcher) -> None:
    """Replaces the matcher's meaning by the first design: per intent, its nearest example's
    cosine similarity, as a softmax."""
    rows = {iid: r for r, iid in enumerate(matcher._ids)}
    texts, owners = [], []
    for intent in kb.intents.values():
        if intent.kind is IntentKind.SAFETY or intent.id not in rows:
            continue
        for example in intent.examples:
            texts.append(normalise(example, kb.replacements).text)
            owners.append(rows[intent.id])
    vectors, owner = semantic.examples(texts), np.array(owners)

    def meaning(text: str) -> np.ndarray:
        sims = vectors @ semantic.embed(text)
        best = np.zeros(len(rows))
        np.maximum.at(best, owner, sims)
        p = np.exp((best - best.max()) / NEAREST_TEMPERATURE)
        return p / p.sum()

    matcher.meaning = meaning  # type: ignore[method-assign]


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
        config = {k: v for k, v in changes.items() if k != "nearest"}
        engine = Engine(kb, replace(MatcherConfig(), **config), semantic=semantic)
        if changes.get("nearest"):
            nearest(kb, semantic, engine.matcher)
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
