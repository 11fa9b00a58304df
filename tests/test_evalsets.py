"""The evaluation sets' manifest (eval/manifest.yaml, read by bot/evalsets.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from bot import evalsets
from bot.evalsets import ManifestError, Role, Task
from bot.loader import load
from bot.normalise import normalise

GOOD = {
    "path": "topics/a.jsonl",
    "task": "topics",
    "role": "test",
    "writer": "a writer",
    "date": "2026-12-01",
    "tuned_on": False,
}


def _write(tmp_path: Path, *sets: dict[str, object]) -> Path:
    (tmp_path / "manifest.yaml").write_text(json.dumps({"sets": list(sets)}))
    return tmp_path


def test_the_manifest_lists_exactly_the_files_in_eval() -> None:
    sets = evalsets.repo()
    on_disk = {p.relative_to(sets.root).as_posix() for p in sets.root.rglob("*.jsonl")}
    assert on_disk == {s.path for s in sets.all} | {r.path for r in sets.records}
    for s in sets.all:  # one folder per task
        assert s.path.split("/")[0] == s.task.value, s.path


def test_select_by_task_and_role_keeps_the_manifests_order() -> None:
    sets = evalsets.repo()
    tune = sets.select(Task.TOPICS, Role.TUNE)
    assert [s.name for s in tune][:2] == ["tune.jsonl", "tune_2.jsonl"]
    assert all(s.task is Task.TOPICS and s.role is Role.TUNE for s in tune)
    assert sets.select("safety", "regression") == sets.select(Task.SAFETY, Role.REGRESSION)
    assert sets.select() == list(sets.all)
    learned = sets.select(learned_from="examples")
    assert learned and all("examples" in s.learned_from for s in learned)
    assert sets.file("topics/test.jsonl") == sets.root / "topics" / "test.jsonl"
    with pytest.raises(KeyError, match=re.escape("no set 'topics/nope.jsonl'")):
        sets.get("topics/nope.jsonl")


def test_held_out_sets_share_no_text_with_the_training_data() -> None:
    # What the manifest calls held out must be: beyond the short phrases someone else
    # also wrote on their own (known_overlap), none of its texts is an intent example or a
    # line the learned safety check trains on.
    kb = load()

    def norm(text: str) -> str:
        return normalise(text, kb.replacements).text

    training = {norm(t) for v in kb.triage_examples.values() for t in v}
    training |= {norm(e) for i in kb.intents.values() for e in i.examples}
    sets = evalsets.repo()
    held_out = [s for s in sets.all if s.held_out]
    assert {s.role for s in held_out} == {Role.TEST, Role.PROBE}
    for s in held_out:
        texts = {norm(json.loads(x)["text"]) for x in sets.file(s).read_text().splitlines()}
        shared = texts & training
        assert len(shared) <= s.known_overlap, (s.path, sorted(shared)[:10])


def test_errors_name_the_file_the_set_and_the_field(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {**GOOD, "role": "held_out"},
        {**GOOD, "path": "topics/b.jsonl", "tuned_on": True},
        {**GOOD, "path": "safety/p.jsonl", "task": "safety", "role": "probe", "tuned_on": True},
        {**GOOD, "path": "topics/c.jsonl", "date": "soon", "colour": "red"},
    )
    with pytest.raises(ManifestError) as info:
        evalsets.read(root)
    msg = str(info.value)
    assert "manifest.yaml: 5 problem(s)" in msg
    assert "sets[topics/a.jsonl].role: Input should be 'train'" in msg
    assert "sets[topics/b.jsonl]: Value error, a test set is never tuned on" in msg
    assert "sets[safety/p.jsonl]: Value error, a probe that has been tuned on needs a note" in msg
    assert "sets[topics/c.jsonl].date" in msg and "sets[topics/c.jsonl].colour" in msg


def test_a_set_listed_twice_or_outside_eval_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=re.escape("listed twice: topics/a.jsonl")):
        evalsets.read(_write(tmp_path, GOOD, GOOD))
    with pytest.raises(ManifestError, match=re.escape("path must be a .jsonl file inside eval/")):
        evalsets.read(_write(tmp_path, {**GOOD, "path": "../content/x.jsonl"}))


def test_an_unreadable_manifest_is_named(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=re.escape("manifest.yaml: cannot read")):
        evalsets.read(tmp_path)
    (tmp_path / "manifest.yaml").write_text("sets: [")
    with pytest.raises(ManifestError, match=re.escape("manifest.yaml: not valid YAML")):
        evalsets.read(tmp_path)


def test_floors_are_minimums_for_accuracy_and_maximums_for_rates() -> None:
    floors = evalsets.Floors(in_scope_accuracy=0.9, out_of_scope_false_accept_rate=0.05)

    class Rep:
        in_scope_accuracy = 0.89
        out_of_scope_false_accept_rate = 0.06

    assert floors.failures(Rep()) == [
        "in_scope_accuracy: 0.89 (floor 0.9)",
        "out_of_scope_false_accept_rate: 0.06 (floor 0.05)",
    ]
    Rep.in_scope_accuracy, Rep.out_of_scope_false_accept_rate = 0.9, 0.05
    assert floors.failures(Rep()) == []


def test_a_set_without_a_path_is_named_by_its_place(tmp_path: Path) -> None:
    entry = {k: v for k, v in GOOD.items() if k != "path"}
    with pytest.raises(ManifestError, match=re.escape("sets[0].path: Field required")):
        evalsets.read(_write(tmp_path, entry))
    (tmp_path / "manifest.yaml").write_text("sets: {a: 1}\n")
    with pytest.raises(ManifestError, match=re.escape("sets: Input should be a valid")):
        evalsets.read(tmp_path)


def test_learned_probe_blocks_are_rewritten_not_lost() -> None:
    # Round 15 found the script dropping the earlier blocks on a second run: their texts
    # counted as already known, then the blocks were taken out.
    from eval.learn_situation_probes import MARK, rewrite

    base = "disclosure:\n- my own line\nnone:\n- hi there\n"
    cases = [
        {"text": "he made me keep it secret", "expect": "disclosure"},
        {"text": "my own line", "expect": "disclosure"},
        {"text": "going out tonight with mates", "expect": "none"},
        {"text": "my mate found pictures", "expect": "finder_help"},
    ]
    once, added = rewrite(base, cases, str.lower)
    assert added == {
        "disclosure": ["he made me keep it secret"],
        "none": ["going out tonight with mates"],
    }
    assert once.count(MARK) == 2 and yaml.safe_load(once)["disclosure"] == [
        "my own line",
        "he made me keep it secret",
    ]
    twice, _ = rewrite(once, cases, str.lower)
    assert twice == once
