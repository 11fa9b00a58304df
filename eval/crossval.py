"""K-fold cross-validation of topic matching on cases already promoted to examples.

    python -m eval.crossval eval/topics/tune.jsonl [MORE.jsonl ...] [--folds 5] [--errors 0]

A tuning split that has been promoted into the intents cannot measure anything any more:
every case is now an example of its own answer. This script takes each fold's cases back
out of the intents, matches them with what is left, and reports the folds together. It
gives an honest signal for changes to the matcher without touching a test set
(eval/manifest.yaml, role `test`).
"""

from __future__ import annotations

import argparse
import random
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from bot.engine import Engine
from bot.evaluate import read_cases, report, run, to_text
from bot.loader import load
from bot.models import KnowledgeBase
from bot.normalise import normalise


def without(kb: KnowledgeBase, texts: set[str]) -> KnowledgeBase:
    """The knowledge base with every example whose normalised text is in `texts` removed."""
    intents = {
        iid: replace(
            intent,
            examples=tuple(
                e for e in intent.examples if normalise(e, kb.replacements).text not in texts
            ),
        )
        for iid, intent in kb.intents.items()
    }
    return replace(kb, intents=MappingProxyType(intents))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", type=Path, nargs="+")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--errors", type=int, default=0)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    kb = load()
    cases = [c for path in args.cases for c in read_cases(path)]
    order = list(range(len(cases)))
    random.Random(args.seed).shuffle(order)
    outcomes = []
    for k in range(args.folds):
        fold = [cases[i] for i in order[k :: args.folds]]
        held = {normalise(c.text, kb.replacements).text for c in fold}
        outcomes += run(Engine(without(kb, held)), fold)
    name = f"{args.folds}-fold cross-validation of " + ", ".join(str(p) for p in args.cases)
    print(to_text(report(name, outcomes), show_errors=args.errors))


if __name__ == "__main__":
    main()
