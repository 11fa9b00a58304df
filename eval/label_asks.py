"""Label a blind writer's set: each line's `kind` (what the person asks, in the writer's
words) becomes `asks`, and `expected` the intent ids eval/asks.yaml maps it to, so that
`signpost eval` scores it like any other set.

    python -m eval.label_asks IN.jsonl OUT.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

TABLE = Path(__file__).with_name("asks.yaml")


def label(row: dict, table: dict[str, list[str]]) -> dict:
    asks = row.get("asks") or row["kind"]
    if asks not in table:
        raise SystemExit(f"{TABLE.name}: no intents for kind {asks!r}")
    out = {"text": row["text"], "expected": table[asks], "audience": row.get("audience")}
    out["kind"] = row.get("style", "real" if row.get("source") else "")
    out["asks"] = asks
    for key in ("source", "site"):
        if row.get(key):
            out[key] = row[key]
    return out


def main(argv: list[str]) -> int:
    src, dst = (Path(a) for a in argv)
    table = yaml.safe_load(TABLE.read_text())
    rows = [json.loads(line) for line in src.read_text().splitlines() if line.strip()]
    dst.write_text("".join(json.dumps(label(r, table)) + "\n" for r in rows))
    print(f"{dst}: {len(rows)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
