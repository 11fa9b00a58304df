"""Add the tuning cases to the intents as examples ("train on train+dev").

    python -m eval.promote_tuning_cases [--dry-run]

After the matcher's settings were chosen on the tuning sets, their cases, the extra
training cases and the topic questions of the near-miss sets (every set that
eval/manifest.yaml says is learned as `examples`) become example questions, so the bot
learns their wording. Only the topic test sets (role `test`) measure matching. Skipped: cases whose
expected list has more than one intent (ambiguous), cases that would nearly repeat an
example of another intent (the validator would reject them), and any case that nearly
repeats a held-out test case (token_sort_ratio >= 92), so the test splits stay unseen.
A set labelled by what the person asks (`asks`, eval/label_asks.py) names its main intent
first, so its cases are learned as that one. A case the safety stage answers as a crisis is
left out: the learned safety checks read every topic example as "none", and must not learn
that a first-hand account ("im being sextorted what do i do") is harmless.
Promoted examples that nearly repeat a held-out case (a split filed after they were
promoted) are taken out first.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process

from bot import evalsets
from bot.engine import Engine
from bot.evalsets import Learned
from bot.loader import load
from bot.models import IntentKind, Safety
from bot.normalise import normalise
from bot.validate import NEAR_DUPLICATE

ROOT = Path(__file__).resolve().parent.parent
# eval/manifest.yaml is the contract: the sets it says are learned as examples are the
# sources; the held-out sets (tests, and probes nothing was tuned on, of every task) are held
# out, and nothing close to them may be learned.
SETS = evalsets.repo()
SOURCES = tuple(s.path for s in SETS.select(learned_from=Learned.EXAMPLES))
# How close (the learned check's decision value over "none") a case may come to a crisis
# class and still be learned. At -2 the round-14 promotion lost no crisis message of the
# situation probes; at -0.5 it lost 17 (HISTORY.md, round 14).
NEAR_CRISIS = -2.0
MARK = "  # promoted from eval/ (see eval/promote_tuning_cases.py)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    kb = load()
    norm = {
        iid: {normalise(e, kb.replacements).text for e in i.examples}
        for iid, i in kb.intents.items()
    }
    all_texts = [(t, iid) for iid, ts in norm.items() for t in ts]
    oos = next(i.id for i in kb.intents.values() if i.kind is IntentKind.OUT_OF_SCOPE)
    # Nothing close to a held-out case may become an example, whoever wrote it.
    held_out = [normalise(t, kb.replacements).text for t in SETS.held_out_texts()]
    for path in sorted((ROOT / "intents").glob("*.yaml")):
        pruned = prune(path, held_out, lambda t: normalise(t, kb.replacements).text)
        if pruned:
            print(f"{path.stem:28s} -{len(pruned)} (nearly repeat a held-out case)")
            # A dry run must see the same examples a real run would.
            lines = promoted_lines(path)
            norm[path.stem] -= {normalise(t, kb.replacements).text for n, t in lines if n in pruned}
            if not args.dry_run:
                path.write_text(pruned_text(path, pruned))
    all_texts = [(t, iid) for iid, ts in norm.items() for t in ts]
    engine = Engine(kb)
    model = engine.triage_model

    def near_crisis(text: str) -> bool:
        # Near the learned check's boundary: taught as "none", it would move the boundary
        # and lose crisis messages worded like it.
        return model is not None and model.lean(text) > NEAR_CRISIS

    add: dict[str, list[str]] = defaultdict(list)
    for name in SOURCES:
        for case in SETS.rows(name):
            if len(case["expected"]) != 1 and not case.get("asks"):
                continue
            if case["expected"] == ["fallback"] and case.get("kind") == "near_miss":
                continue  # near misses teach triage, not matching: only their topic questions
            target = oos if case["expected"] == ["fallback"] else case["expected"][0]
            intent = kb.intents.get(target)
            if intent is None or intent.kind not in (
                IntentKind.TOPIC,
                IntentKind.CONVERSATION,
                IntentKind.OUT_OF_SCOPE,
            ):
                continue
            text = normalise(case["text"], kb.replacements).text
            if not text or text in norm[target]:
                continue
            if engine.respond(case["text"]).safety is not Safety.NONE or near_crisis(text):
                continue
            if process.extractOne(
                text, held_out, scorer=fuzz.token_sort_ratio, score_cutoff=NEAR_DUPLICATE
            ):
                continue
            clash = [
                all_texts[j][1]
                for _, _, j in process.extract(
                    text,
                    [t for t, _ in all_texts],
                    scorer=fuzz.token_sort_ratio,
                    score_cutoff=NEAR_DUPLICATE,
                    limit=5,
                )
                if all_texts[j][1] != target
            ]
            if clash:
                continue
            norm[target].add(text)
            all_texts.append((text, target))
            add[target].append(case["text"].strip())
    for iid, texts in sorted(add.items()):
        print(f"{iid:28s} +{len(texts)}")
        if args.dry_run:
            continue
        path = ROOT / "intents" / f"{iid}.yaml"
        lines = path.read_text().splitlines()
        start = next(i for i, ln in enumerate(lines) if re.match(r"^examples:", ln))
        end = start + 1
        while end < len(lines) and (lines[end].startswith("  ") or not lines[end].strip()):
            end += 1
        while not lines[end - 1].strip():
            end -= 1
        block = [MARK] + [f"  - {json.dumps(t, ensure_ascii=False)}" for t in texts]
        path.write_text("\n".join(lines[:end] + block + lines[end:]) + "\n")


def promoted_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of each example added by this script (below a MARK line)."""
    out: list[tuple[int, str]] = []
    inside = False
    for n, line in enumerate(path.read_text().splitlines()):
        if line == MARK:
            inside = True
        elif inside and line.startswith("  - "):
            out.append((n, str(yaml.safe_load(line[4:]))))
        else:
            inside = False
    return out


def prune(path: Path, held_out: list[str], norm: Callable[[str], str]) -> set[int]:
    """Line numbers of promoted examples that nearly repeat a held-out case."""
    return {
        n
        for n, text in promoted_lines(path)
        if process.extractOne(
            norm(text), held_out, scorer=fuzz.token_sort_ratio, score_cutoff=NEAR_DUPLICATE
        )
    }


def pruned_text(path: Path, drop: set[int]) -> str:
    lines = [ln for n, ln in enumerate(path.read_text().splitlines()) if n not in drop]
    return "\n".join(ln for i, ln in enumerate(lines) if not _empty_mark(lines, i)) + "\n"


def _empty_mark(lines: list[str], i: int) -> bool:
    nxt = lines[i + 1] if i + 1 < len(lines) else ""
    return lines[i] == MARK and not nxt.startswith("  - ")


if __name__ == "__main__":
    main()
