"""Teach the learned safety check the situation probes that are already tuned on.

    python -m eval.learn_situation_probes [--dry-run]

A situation probe that has been tuned on no longer measures unseen wording; its messages are
still real wording of crises, requests to harm and harmless look-alikes. Every situation set
the manifest lists with `learned_from: [triage_examples]` is written into
content/triage_examples.yaml, under the class its `expect` stands for, in one marked block per
class (rewritten on every run):

- disclosure -> disclosure; self_harm -> self_harm; refuse -> harmful_request;
  own_thoughts_help -> worried_about_own_thoughts; none -> none;
- emergency -> self_harm when the message is about self-harm, else immediate_danger.

Finders, adults worried about another adult and friends are left out: their answer comes
from who is speaking, not from a class. Skipped too: texts already in the file or the
intents, and texts that nearly repeat a held-out set (token_sort_ratio >= 92).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process

from bot import evalsets
from bot.evalsets import Learned, Task
from bot.loader import load
from bot.normalise import normalise
from bot.validate import NEAR_DUPLICATE

ROOT = Path(__file__).resolve().parent.parent
FILE = ROOT / "content" / "triage_examples.yaml"
MARK = "# learned from the tuned situation probes (eval/learn_situation_probes.py)"
CLASS_OF = {
    "disclosure": "disclosure",
    "self_harm": "self_harm",
    "refuse": "harmful_request",
    "own_thoughts_help": "worried_about_own_thoughts",
    "none": "none",
}


def label(case: dict) -> str | None:
    if case["expect"] == "emergency":
        return "self_harm" if "self_harm" in case.get("topics", ()) else "immediate_danger"
    return CLASS_OF.get(case["expect"])


def without_blocks(lines: list[str]) -> list[str]:
    """The file's lines with every block this script wrote taken out."""
    out: list[str] = []
    inside = False
    for line in lines:
        if line == MARK:
            inside = True
            continue
        if inside and line.startswith("- "):
            continue
        inside = False
        out.append(line)
    return out


def rewrite(
    text: str,
    cases: Iterable[dict],
    norm: Callable[[str], str],
    also_known: Iterable[str] = (),
    held_out: Sequence[str] = (),
) -> tuple[str, dict[str, list[str]]]:
    """The file's text with the blocks rewritten from `cases`, and what each block holds.
    Known lines are the file's own without the blocks (plus `also_known`, normalised), so
    running it again gives the same file."""
    lines = without_blocks(text.splitlines())
    own = yaml.safe_load("\n".join(lines)) or {}
    known = {norm(str(t)) for texts in own.values() for t in texts or ()}
    known |= set(also_known)
    add: dict[str, list[str]] = defaultdict(list)
    for case in cases:
        cls, seen = label(case), norm(case["text"])
        if cls is None or not seen or seen in known:
            continue
        if held_out and process.extractOne(
            seen, held_out, scorer=fuzz.token_sort_ratio, score_cutoff=NEAR_DUPLICATE
        ):
            continue
        known.add(seen)
        add[cls].append(case["text"].strip())
    for cls, texts in sorted(add.items()):
        # At the end of the class's list: the next top-level key, or the end of the file.
        start = lines.index(f"{cls}:")
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i] and lines[i][0].isalpha()),
            len(lines),
        )
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1
        lines[end:end] = [MARK] + [f"- {json.dumps(t, ensure_ascii=False)}" for t in texts]
    return "\n".join(lines) + "\n", dict(add)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    sets = evalsets.repo()
    kb = load()

    def norm(text: str) -> str:
        return normalise(text, kb.replacements).text

    cases = [
        case
        for s in sets.select(Task.SITUATION, learned_from=Learned.TRIAGE_EXAMPLES)
        for case in sets.rows(s)
    ]
    text, add = rewrite(
        FILE.read_text(encoding="utf-8"),
        cases,
        norm,
        also_known={norm(e) for i in kb.intents.values() for e in i.examples},
        held_out=[norm(t) for t in sets.held_out_texts()],
    )
    for cls, texts in sorted(add.items()):
        print(f"{cls:28s} +{len(texts)}")
    if not args.dry_run:
        FILE.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
