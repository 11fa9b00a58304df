"""Golden replies: every evaluation text's reply, recorded, so a behaviour change is a diff.

For each text in every set of eval/manifest.yaml (any role: train, tune, test, probe,
regression) and both audiences, the reply's intent, safety level, answer parts (which
answer files it is built from, in order), signpost ids, situation and did-you-mean flag are
written to eval/golden/replies.jsonl, keyed by text and audience (so moving a set does not
change it).

    python -m eval.golden record     # after a reviewed, intended change
    python -m eval.golden check      # exit 1 and list what changed, field by field

Answer wording is left out on purpose: editing an answer's words is not a behaviour change,
and the content validator checks wording. Answer *parts* are in: a reply that swaps one
answer for another, or gains an addendum, shows up.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from bot import evalsets
from bot.engine import Engine
from bot.models import AUDIENCES, KnowledgeBase, Reply

GOLDEN = evalsets.repo().record("golden")
FIELDS = ("intent", "safety", "answer_parts", "signposts", "situation", "did_you_mean")


def eval_texts(sets: evalsets.EvalSets | None = None) -> list[str]:
    """Every distinct text of every set in eval/manifest.yaml, in a stable order."""
    sets = sets or evalsets.repo()
    seen: dict[str, None] = {}
    for path in sets.files(list(sets.all)):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                seen.setdefault(str(json.loads(line)["text"]), None)
    return list(seen)


def answer_parts(kb: KnowledgeBase, reply: Reply) -> list[str]:
    """Which answers the reply's text is built from, in reading order."""
    found = []
    for answer_id, texts in kb.answers.items():
        text = _lead(texts[reply.audience])
        at = reply.answer.find(text) if text else -1
        if at >= 0:
            found.append((at, -len(text), answer_id))
    found.sort()
    out: list[str] = []
    end = -1
    for at, neg_len, answer_id in found:
        if at >= end:  # skip an answer that only sits inside a longer one already found
            out.append(answer_id)
            end = at - neg_len
    return out


def _lead(text: object) -> str:
    # The part of an answer a reply's `answer` carries: up to its `<!--more-->` line (or an
    # object's `lead`).
    return str(getattr(text, "lead", text) or "").split("<!--more-->")[0].strip()


def record_of(kb: KnowledgeBase, text: str, audience: str, reply: Reply) -> dict[str, object]:
    situation = getattr(reply, "situation", None)
    return {
        "text": text,
        "audience": audience,
        "intent": reply.intent,
        "safety": reply.safety.value,
        "answer_parts": answer_parts(kb, reply),
        "signposts": [h.id for h in reply.signposts],
        "situation": _plain(situation),
        "did_you_mean": reply.did_you_mean,
    }


def _plain(value: object) -> object:
    if value is None:
        return None
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, tuple | list | frozenset):
        return [_plain(v) for v in value]
    return getattr(value, "value", value)


def replies(engine: Engine, texts: Iterable[str]) -> Iterator[dict[str, object]]:
    for text in texts:
        for audience in AUDIENCES:
            yield record_of(engine.kb, text, audience, engine.respond(text, audience))


def read(path: Path = GOLDEN) -> dict[tuple[str, str], dict[str, object]]:
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    return {(r["text"], r["audience"]): r for r in rows}


def write(rows: Iterable[dict[str, object]], path: Path = GOLDEN) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def diff(
    old: dict[tuple[str, str], dict[str, object]], new: dict[tuple[str, str], dict[str, object]]
) -> list[tuple[str, str, str, object, object]]:
    """(text, audience, field, before, after) for each field that changed; a text only in
    one of the two shows as field "added" or "removed"."""
    out = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if before is None or after is None:
            out.append((*key, "added" if before is None else "removed", None, None))
            continue
        for name in FIELDS:
            if before.get(name) != after.get(name):
                out.append((*key, name, before.get(name), after.get(name)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.golden", description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["record", "check"])
    p.add_argument("--file", type=Path, default=GOLDEN, help="golden file (default: %(default)s)")
    p.add_argument("--show", type=int, default=40, metavar="N", help="list N changes (check)")
    args = p.parse_args(argv)
    engine = Engine.from_path()
    new = {(r["text"], r["audience"]): r for r in replies(engine, eval_texts())}
    if args.command == "record":
        print(f"recorded {write(new.values(), args.file)} replies in {args.file}")
        return 0
    changes = diff(read(args.file), new)
    if not changes:
        print(f"all {len(new)} replies unchanged")
        return 0
    texts = {(t, a) for t, a, *_ in changes}
    print(f"{len(texts)} of {len(new)} replies changed; by field:")
    for name, n in Counter(c[2] for c in changes).most_common():
        print(f"  {name:14s} {n}")
    for text, audience, name, before, after in changes[: args.show]:
        print(f"- [{audience}] {text!r}\n    {name}: {before!r} -> {after!r}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
