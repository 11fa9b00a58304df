"""Split a freshly written case file into a tuning part and a held-out test part.

    python -m eval.split_cases NEW.jsonl [MORE.jsonl ...] --tune eval/topics/tune_8.jsonl \
        --test eval/topics/test_8.jsonl [--test-share 0.5] [--seed 11]

Before splitting, cases are dropped when their normalised text repeats another new case, an
example question of any intent, or a case in any set of eval/manifest.yaml: a copy of
something the bot already knows measures nothing. The split is random (fixed seed) and
stratified by main label and kind, so every cell with two or more cases lands in both parts.
Then list the new files in eval/manifest.yaml (a test checks it lists every file).
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path

from bot import evalsets
from bot.loader import load
from bot.normalise import normalise


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", type=Path, nargs="+")
    ap.add_argument("--tune", type=Path, required=True)
    ap.add_argument("--test", type=Path, required=True)
    ap.add_argument("--test-share", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    kb = load()

    def key(text: str) -> str:
        return normalise(text, kb.replacements).text

    known = {key(e) for i in kb.intents.values() for e in i.examples}
    sets = evalsets.repo()
    for path in sets.files(list(sets.all)):
        if path.resolve() in {args.tune.resolve(), args.test.resolve()}:
            continue
        known |= {key(json.loads(x)["text"]) for x in path.read_text().splitlines() if x.strip()}
    kept, dropped = [], 0
    for path in args.cases:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            k = key(row["text"])
            if not k or k in known:
                dropped += 1
                continue
            known.add(k)
            kept.append(row)
    cells: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in kept:
        cells[(row["expected"][0], row["kind"])].append(row)
    rng = random.Random(args.seed)
    tune, test = [], []
    for cell in sorted(cells):
        rows = cells[cell]
        rng.shuffle(rows)
        n_test = (
            round(len(rows) * args.test_share) if len(rows) > 1 else rng.random() < args.test_share
        )
        test += rows[: int(n_test)]
        tune += rows[int(n_test) :]
    for path, rows in ((args.tune, tune), (args.test, test)):
        rng.shuffle(rows)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"kept {len(kept)}, dropped {dropped} repeats: {len(tune)} tune, {len(test)} test")


if __name__ == "__main__":
    main()
