"""Match latency per message on the built-in knowledge base and on synthetic ones 10x and
100x larger (same number of examples per intent), so the growth of cost is visible.

    python bench/match_latency.py [--repeat 3] [--kb DIR]

Prints p50/p99 of Engine.respond() (normalise + triage + match + compose) and of the
matcher alone, in milliseconds, over every message of eval/topics/tune.jsonl and test.jsonl.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import time
from types import MappingProxyType

from bot import evalsets
from bot.engine import Engine
from bot.loader import load
from bot.models import Intent, IntentKind, KnowledgeBase
from bot.normalise import normalise


def synthetic(kb: KnowledgeBase, factor: int, seed: int = 7) -> KnowledgeBase:
    """`factor` times the intents: each copy's examples get one made-up topic word each, so
    choices and vocabulary grow like a real, larger knowledge base would."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    intents: dict[str, Intent] = dict(kb.intents)
    for copy in range(1, factor):
        for intent in kb.intents.values():
            if intent.kind is not IntentKind.TOPIC:
                continue
            words = ["".join(rng.choices(letters, k=rng.randint(5, 9))) for _ in range(3)]
            examples = tuple(
                f"{ex} {rng.choice(words)}" if i % 2 else f"{rng.choice(words)} {ex}"
                for i, ex in enumerate(intent.examples)
            )
            new_id = f"{intent.id}_{copy}"
            intents[new_id] = dataclasses.replace(
                intent, id=new_id, examples=examples, keywords=tuple(words)
            )
    return dataclasses.replace(kb, intents=MappingProxyType(intents))


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))
    return values[k]


def measure(engine: Engine, messages: list[str], repeat: int) -> tuple[list[float], list[float]]:
    full, match_only = [], []
    for _ in range(repeat):
        for m in messages:
            t0 = time.perf_counter()
            engine.respond(m)
            full.append((time.perf_counter() - t0) * 1000)
            text = normalise(m, engine.kb.replacements).text
            t0 = time.perf_counter()
            engine.matcher.match(text)
            match_only.append((time.perf_counter() - t0) * 1000)
    return full, match_only


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kb")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--factors", default="1,10,100")
    args = ap.parse_args()
    messages = [
        json.loads(line)["text"]
        for f in ("topics/tune.jsonl", "topics/test.jsonl")
        for line in evalsets.repo().file(f).read_text().splitlines()
        if line.strip()
    ]
    base = load(args.kb)
    print(f"{len(messages)} messages x {args.repeat}; times in ms per message")
    print(
        f"{'kb':>6s} {'intents':>8s} {'examples':>9s} {'build s':>8s} "
        f"{'respond p50':>11s} {'p99':>7s} {'match p50':>10s} {'p99':>7s}"
    )
    for factor in (int(f) for f in args.factors.split(",")):
        kb = synthetic(base, factor) if factor > 1 else base
        t0 = time.perf_counter()
        engine = Engine(kb)
        build = time.perf_counter() - t0
        engine.respond("warm up")
        full, match = measure(engine, messages, args.repeat)
        n_examples = sum(len(i.examples) for i in kb.intents.values())
        print(
            f"{factor:>5d}x {len(kb.intents):8d} {n_examples:9d} {build:8.2f} "
            f"{statistics.median(full):11.3f} {percentile(full, 99):7.3f} "
            f"{statistics.median(match):10.3f} {percentile(match, 99):7.3f}"
        )


if __name__ == "__main__":
    main()
