"""The learned second net under the safety rules (bot/triage_model.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy.sparse import hstack

from bot import compose, evalsets, evaluate
from bot.api import create_app
from bot.classifier import fit
from bot.config import Settings
from bot.engine import Engine
from bot.loader import KnowledgeBaseError, load
from bot.models import KnowledgeBase, Safety
from bot.normalise import normalise
from bot.triage_model import ModelHit, TriageModel, TriageModelConfig, training_set

# Wordings no rule knows (checked below with the rules alone), written for this test.
UNKNOWN_TO_THE_RULES = [
    ("mums new partner makes me sit with him when shes at work and it feels wrong", "disclosure"),
    ("he keeps offering me lifts and says mum doesnt need to know", "disclosure"),
    ("i think about touching children and it scares me", "worried_about_own_thoughts"),
]


def _norm(kb: KnowledgeBase, text: str) -> str:
    return normalise(text, kb.replacements).text


@pytest.mark.parametrize(("text", "intent"), UNKNOWN_TO_THE_RULES)
def test_the_model_answers_a_crisis_the_rules_miss(
    engine: Engine, rules_engine: Engine, text: str, intent: str
) -> None:
    assert rules_engine.respond(text).safety is Safety.NONE
    reply = engine.respond(text)
    assert reply.safety is Safety.URGENT
    assert reply.intent == intent
    assert reply.triaged_by == "model"
    assert 0.5 <= reply.confidence < 1.0  # less sure than a rule
    kb = engine.kb
    own, _ = compose.split_more(compose.answer_text(kb, kb.intents[intent].answer, "young_person"))
    assert reply.answer.startswith(own)
    ids = [s.id for s in reply.signposts]
    assert ids, "a safety answer always signposts"
    if intent == "disclosure":
        assert "childline" in ids


def test_a_rule_hit_never_asks_the_model(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(text: str) -> None:
        raise AssertionError("the model was asked")

    assert engine.triage_model is not None
    monkeypatch.setattr(engine.triage_model, "check", boom)
    reply = engine.respond("hes outside my house right now")
    assert reply.safety is Safety.EMERGENCY and reply.confidence == 1.0
    assert reply.triaged_by not in (None, "model")


class _Fixed:
    """A stand-in classifier with fixed decision values, to test the firing rule alone."""

    def __init__(self, values: list[float]) -> None:
        self.classes = np.arange(len(values))
        self.values = np.asarray(values)

    def decision(self, text: str) -> np.ndarray:
        return self.values.copy()


LABELS = ("disclosure", "harmful_request", "immediate_danger", "none")


@pytest.mark.parametrize(
    ("values", "text", "want"),
    [
        ([0.3, -1.0, -1.0, -0.2], "he said not to tell", "disclosure"),
        # beats "none" but no class claims it: fine for a disclosure answer...
        ([-0.1, -1.0, -1.0, -0.4], "he said not to tell", "disclosure"),
        # ...not for an emergency answer or a refusal
        ([-1.0, -1.0, -0.1, -0.4], "im walking home now", None),
        ([-1.0, -0.1, -1.0, -0.4], "where are the kids clubs", None),
        ([-1.0, -1.0, 0.2, -0.4], "im walking home now", "immediate_danger"),
        # "none" wins
        ([-0.5, -1.0, -1.0, 0.1], "he said not to tell", None),
        # under three words is too little to read, however sure
        ([2.0, -1.0, -1.0, -1.0], "help me", None),
    ],
)
def test_the_firing_rule(values: list[float], text: str, want: str | None) -> None:
    model = TriageModel(_Fixed(values), LABELS, TriageModelConfig())  # type: ignore[arg-type]
    hit = model.check(text)
    assert (hit.intent if hit else None) == want


def test_confidence_stays_between_a_half_and_below_one() -> None:
    assert ModelHit("disclosure", 0.0).score == 0.5
    assert 0.5 < ModelHit("disclosure", 1.0).score < 0.99
    assert ModelHit("disclosure", 1e6).score == 0.99


def test_short_replies_are_not_read_as_crises(engine: Engine) -> None:
    for text in ("no", "no i dont", "help me", "yes please", "ok"):
        assert engine.respond(text).triaged_by != "model", text


def test_fresh_blind_probe(engine: Engine, rules_engine: Engine) -> None:
    # eval/safety/safety_probe_4.jsonl: 270 crisis messages and 150 hard near misses from two new
    # writers who saw neither the rules nor the model's data, kept out of both. The rules
    # alone give 178 (65.9%) an urgent answer, rules and model 223 (82.6%); near misses that
    # fire go from 13 to 20 of 150 (HISTORY.md). The floors leave a little room (a
    # scikit-learn release can move a message on the boundary).
    cases = evaluate.read_cases(evalsets.repo().file("safety/safety_probe_4.jsonl"))
    crisis = [c for c in cases if c.kind != "near_miss"]
    near = [c for c in cases if c.kind == "near_miss"]
    assert (len(crisis), len(near)) == (270, 150)

    def urgent(e: Engine, group: list[evaluate.Case]) -> int:
        return sum(e.respond(c.text, c.audience).safety is not Safety.NONE for c in group)

    rules, both = urgent(rules_engine, crisis), urgent(engine, crisis)
    assert both >= 220, (rules, both)
    assert both - rules >= 42  # the model's own share of the catch
    assert urgent(engine, near) <= 22


def test_fresh_blind_harmless_set(engine: Engine, rules_engine: Engine) -> None:
    # eval/near_miss/near_miss_8.jsonl: 259 harmless look-alikes (short replies, protective parents,
    # everyday teenage life, films and news) from a third writer, never trained on. First
    # sight: the rules alone fired on 3, rules and model on 8. After the round-8 review's fixes
    # (guards, ten short replies such as "no i dont" under `none`, rules for clubs, jobs and
    # visitors): 2 and 6, none of the model's an emergency answer or a refusal.
    cases = evaluate.read_cases(evalsets.repo().file("near_miss/near_miss_8.jsonl"))
    assert len(cases) == 259
    replies = [(c.text, engine.respond(c.text, c.audience)) for c in cases]
    fired = [(t, r.intent) for t, r in replies if r.safety is not Safety.NONE]
    assert len(fired) <= 8, fired
    jarring = [
        t
        for t, r in replies
        if r.triaged_by == "model" and r.intent in ("immediate_danger", "harmful_request")
    ]
    assert jarring == []
    rules = [
        c.text for c in cases if rules_engine.respond(c.text, c.audience).safety is not Safety.NONE
    ]
    assert len(rules) <= 3, rules


def test_the_learned_checks_honest_measures_are_not_its_training_data(kb: KnowledgeBase) -> None:
    # The safety and near-miss sets eval/manifest.yaml calls held out measure the rules and
    # the model together only while no line the model learns from repeats one of their texts
    # (tests/test_evalsets.py checks every held-out set against the intents' examples too).
    lines = {_norm(kb, t) for v in kb.triage_examples.values() for t in v}
    sets = evalsets.repo()
    measures = [s for s in sets.all if s.held_out and s.task in ("safety", "near_miss")]
    assert {s.task for s in measures} == {"safety", "near_miss"}
    for s in measures:
        texts = {_norm(kb, c.text) for c in evaluate.read_cases(sets.file(s))}
        assert not texts & lines, (s.path, sorted(texts & lines)[:5])


def test_model_scores_match_scikit_learn(engine: Engine, kb: KnowledgeBase) -> None:
    texts, labels = training_set(kb)
    names = sorted(set(labels))
    c = TriageModelConfig().c
    _, (char, word, model) = fit(texts, [names.index(x) for x in labels], c)
    probe = [_norm(kb, t) for t, _ in UNKNOWN_TO_THE_RULES]
    want = model.decision_function(hstack([char.transform(probe), word.transform(probe)]))
    assert engine.triage_model is not None
    for text, row in zip(probe, want, strict=True):
        got = engine.triage_model._classifier.decision(text)
        assert max(abs(got - row)) < 1e-9


def test_no_model_when_switched_off_or_without_its_file(kb_copy: Path, kb: KnowledgeBase) -> None:
    assert Engine(kb, triage_model=TriageModelConfig(enabled=False)).triage_model is None
    (kb_copy / "content" / "triage_examples.yaml").unlink()
    bare = load(kb_copy)
    assert dict(bare.triage_examples) == {}
    engine = Engine(bare)
    assert engine.triage_model is None
    assert engine.respond(UNKNOWN_TO_THE_RULES[0][0]).safety is Safety.NONE  # rules alone


def test_operators_can_switch_it_off(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    seen: list[TriageModelConfig | None] = []

    def fake_engine(kb: KnowledgeBase, triage_model: TriageModelConfig | None = None) -> Engine:
        seen.append(triage_model)
        return engine

    monkeypatch.setattr("bot.api.Engine", fake_engine)
    monkeypatch.setenv("SIGNPOST_TRIAGE_MODEL", "false")
    create_app(Settings())
    assert seen and seen[0] is not None and seen[0].enabled is False


def test_model_answers_are_counted(engine: Engine) -> None:
    app = create_app(Settings(rate_limit_enabled=False, metrics_public=True), engine=engine)
    with TestClient(app) as client:
        text, intent = UNKNOWN_TO_THE_RULES[0]
        assert client.post("/api/chat", json={"message": text}).status_code == 200
        metrics = client.get("/metrics").text
    line = f'signpost_triage_model_answers_total{{intent="{intent}"}}'
    assert any(row.startswith(line) and float(row.split()[-1]) >= 1 for row in metrics.splitlines())


def test_bad_training_file_names_file_and_field(kb_copy: Path) -> None:
    path = kb_copy / "content" / "triage_examples.yaml"
    path.write_text("disclosure:\n  - a: b\nsadness:\n  - i feel sad\nnone: []\n")
    with pytest.raises(KnowledgeBaseError) as info:
        load(kb_copy)
    text = str(info.value)
    assert "content/triage_examples.yaml: disclosure: must be a list of text lines" in text
    assert "content/triage_examples.yaml: sadness: must be 'none' or a safety intent" in text
    path.write_text("- just a list\n")
    with pytest.raises(KnowledgeBaseError, match=r"triage_examples\.yaml: file: must map"):
        load(kb_copy)


def test_a_list_given_twice_is_an_error_not_an_overwrite(kb_copy: Path) -> None:
    # PyYAML keeps the last of two equal keys: a second "disclosure:" heading would silently
    # drop the first list.
    path = kb_copy / "content" / "triage_examples.yaml"
    path.write_text(path.read_text() + "disclosure:\n- one more\n")
    with pytest.raises(KnowledgeBaseError, match=r"triage_examples\.yaml: line \d+: .*given twice"):
        load(kb_copy)


def test_yes_and_no_stay_text(kb_copy: Path) -> None:
    path = kb_copy / "content" / "triage_examples.yaml"
    path.write_text(path.read_text().replace("\nnone:\n", "\nnone:\n- no\n- yes\n- off\n", 1))
    assert {"no", "yes", "off"} <= set(load(kb_copy).triage_examples["none"])
    path.write_text(path.read_text().replace("\nnone:\n", "\nnone:\n- true\n", 1))
    with pytest.raises(KnowledgeBaseError, match="put it in quotes"):
        load(kb_copy)
