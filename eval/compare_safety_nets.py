"""The safety stage's last net: nearest labelled messages (semantic_net.py) or a logistic
regression over their sentence vectors?

    python -m eval.compare_safety_nets SET.jsonl [MORE.jsonl ...]

The given situation sets are taken out of content/triage_examples.yaml first (the learned
safety check is trained again without them), so they are unseen by both nets; then issue
14's figures are printed for: the nearest-neighbour net (what ships), no net, and a
logistic-regression head over the same messages' vectors at several C and probability
floors (a refusal or an emergency needs 0.1 more). Run it on sets already tuned on, never on
a probe kept for first sight; the choice and its figures go in HISTORY.md.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import numpy as np

from bot.engine import Engine
from bot.loader import load
from bot.normalise import normalise
from bot.triage_model import NONE, ModelHit
from eval import situation_probe as sp

STRICTER = ("harmful_request", "immediate_danger")


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    ap = argparse.ArgumentParser()
    ap.add_argument("files", type=Path, nargs="+")
    args = ap.parse_args()
    kb = load()
    held = {
        normalise(json.loads(line)["text"], kb.replacements).text
        for f in args.files
        for line in f.open(encoding="utf-8")
        if line.strip()
    }
    kept = {
        label: tuple(t for t in texts if normalise(t, kb.replacements).text not in held)
        for label, texts in kb.triage_examples.items()
    }
    engine = Engine(replace(kb, triage_examples=MappingProxyType(kept)))
    if engine.semantic is None or engine.safety.net is None or engine.safety.model is None:
        raise SystemExit("no encoder or learned check built: run `signpost train` first")
    cases = sp.read(args.files)

    def show(name: str) -> None:
        lines = sp.report(sp.score(engine, cases)).splitlines()
        print(f"== {name}")
        print("\n".join(line for line in lines if line and not line.startswith(" "))[:1200])

    net = engine.safety.net
    show("nearest labelled messages (semantic_net.py)")
    engine.safety.net = None
    show("no net")
    engine.safety.net = net
    texts, labels = engine.safety.model.trained_on or ([], [])
    vectors = engine.semantic.examples(texts)
    semantic = engine.semantic
    for c in (1.0, 10.0):
        head = LogisticRegression(C=c, max_iter=3000).fit(vectors, labels)
        for floor in (0.5, 0.65, 0.8):

            def check(
                text: str, head: LogisticRegression = head, floor: float = floor
            ) -> ModelHit | None:
                if len(text.split()) < net.config.min_words:
                    return None
                p = head.predict_proba(semantic.embed(text)[None])[0]
                best = int(np.argmax(p))
                label = str(head.classes_[best])
                need = floor + (0.1 if label in STRICTER else 0.0)
                if label == NONE or p[best] < need:
                    return None
                return ModelHit(label, float(p[best] - need))

            net.check = check  # type: ignore[method-assign]
            show(f"logistic regression C={c:g}, floor {floor}")


if __name__ == "__main__":
    main()
