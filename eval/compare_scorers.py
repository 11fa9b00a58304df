"""Choose the matcher's scoring on the TUNING split (never the test split).

    python eval/compare_scorers.py [--kb DIR] [--cases eval/topics/tune.jsonl]

1. Each rapidfuzz scorer alone (best example per intent).
2. The matcher itself (fuzzy similarity + word evidence + decision rule) over a grid of its
   settings, best first among those with out-of-scope false accepts at or under 5%.
For the single scorers: the threshold that maximises in-scope top-1 accuracy with the
out-of-scope false-accept rate at or under 5%. Safety messages are left to the triage set.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from rapidfuzz import fuzz, process

from bot import evalsets
from bot.loader import load
from bot.matcher import Matcher, MatcherConfig
from bot.models import Candidate, IntentKind, KnowledgeBase
from bot.normalise import normalise

SCORERS = {
    "ratio": fuzz.ratio,
    "WRatio": fuzz.WRatio,
    "partial_ratio": fuzz.partial_ratio,
    "token_sort_ratio": fuzz.token_sort_ratio,
    "token_set_ratio": fuzz.token_set_ratio,
    "partial_token_sort_ratio": fuzz.partial_token_sort_ratio,
}


def best_threshold(
    kb: KnowledgeBase, cases: list[dict], ranked: list[list[Candidate]], margin_ok: bool = False
) -> tuple[float, float, float]:
    def top(r: list[Candidate]) -> Candidate | None:
        return r[0] if r else None

    best = (0.0, 0.0, 1.0)
    for t100 in range(20, 96, 1):
        t = t100 / 100
        ok = fa = n_in = n_out = 0
        for c, r in zip(cases, ranked, strict=True):
            tp = top(r)
            accepted = (
                tp is not None
                and tp.score >= t
                and kb.intents[tp.intent].kind is not IntentKind.OUT_OF_SCOPE
            )
            if c["expected"] == ["fallback"]:
                n_out += 1
                fa += accepted
            else:
                n_in += 1
                ok += accepted and tp.intent in c["expected"]
        acc, far = ok / max(1, n_in), fa / max(1, n_out)
        if far <= 0.05 and acc > best[0]:
            best = (acc, t, far)
    return best


def scorer_ranker(m: Matcher, scorer: Callable) -> Callable[[str], list[Candidate]]:
    def rank(text: str) -> list[Candidate]:
        q = m.content_words(text)
        best: dict[str, float] = {}
        for _, s, idx in process.extract(q, m._choices, scorer=scorer, limit=80):
            o = m._owners[idx]
            best[o] = max(best.get(o, 0), s / 100)
        return [Candidate(k, v) for k, v in sorted(best.items(), key=lambda kv: -kv[1])]

    return rank


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kb")
    ap.add_argument("--cases", default=str(evalsets.repo().file("topics/tune.jsonl")))
    args = ap.parse_args()
    kb = load(args.kb)
    safety = {i.id for i in kb.safety_intents()}
    cases = [json.loads(line) for line in Path(args.cases).read_text().splitlines() if line.strip()]
    cases = [c for c in cases if not set(c["expected"]) & safety]
    texts = [normalise(c["text"], kb.replacements).text for c in cases]

    def drop_safety(r: list[Candidate]) -> list[Candidate]:
        return [c for c in r if c.intent not in safety]

    base = Matcher(kb)
    for name, scorer in SCORERS.items():
        rank = scorer_ranker(base, scorer)
        acc, t, fa = best_threshold(kb, cases, [drop_safety(rank(x)) for x in texts])
        print(f"{name:28s} accuracy {acc:6.1%} at {t:.2f} (false accepts {fa:.1%})")
    print("matcher grid (stop-words in fuzzy, fuzzy_weight, unknown_to_oos | threshold,")
    print("              evidence, min_evidence, margin), best first:")
    results = []
    for keep in (False, True):
        for fw in (0.4, 0.5, 0.6, 0.7, 0.8):
            for uo in (0.5, 1.0, 1.5):
                cfg = dataclasses.replace(
                    MatcherConfig(), fuzzy_keeps_stopwords=keep, fuzzy_weight=fw, unknown_to_oos=uo
                )
                m = Matcher(kb, cfg)
                ranked = [m.rank(x) for x in texts]
                for t in (0.45, 0.5, 0.55, 0.6):
                    for ev in (4.0, 5.0, 6.0, 8.0):
                        for mev in (0.0, 1.0, 1.5, 2.0):
                            for margin in (0.0, 0.03):
                                m.config = dataclasses.replace(
                                    cfg,
                                    threshold=t,
                                    evidence_threshold=ev,
                                    min_evidence=mev,
                                    margin=margin,
                                )
                                acc, fa = score(kb, cases, [m.decide(r) for r in ranked])
                                results.append(
                                    (fa <= 0.05, acc, -fa, keep, fw, uo, t, ev, mev, margin)
                                )
    for _, acc, nfa, keep, fw, uo, t, ev, mev, margin in sorted(results, reverse=True)[:12]:
        print(
            f"  {keep!s:5} {fw:.1f} {uo:.1f} | {t:.2f} {ev:4.1f} {mev:.1f} {margin:.2f}"
            f"  accuracy {acc:6.1%} (false accepts {-nfa:.1%})"
        )
    best = max(results, key=lambda r: r[1] - 2 * -r[2])
    print("best by accuracy - 2 x false accepts:", best[1:])


def score(kb: KnowledgeBase, cases: list[dict], decided: list) -> tuple[float, float]:
    ok = fa = n_in = n_out = 0
    for c, d in zip(cases, decided, strict=True):
        if c["expected"] == ["fallback"]:
            n_out += 1
            fa += d.intent != "fallback"
        else:
            n_in += 1
            ok += d.intent in c["expected"]
    return ok / max(1, n_in), fa / max(1, n_out)


if __name__ == "__main__":
    main()
