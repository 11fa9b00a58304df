"""The `signpost` command: in this process through its entry point (as datasette's tests
do), and a real subprocess where the process itself is what is tested."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import evalsets
from bot.cli import main
from tests.conftest import ROOT


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run(*args: str, stdin: str | None = None) -> Result:
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's usage errors
                code = int(exc.code or 0)
    finally:
        sys.stdin = old_stdin
    return Result(code, out.getvalue(), err.getvalue())


def subprocess_run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_validate_passes_and_prints_the_grade_table() -> None:
    r = subprocess_run("validate")  # the real process: entry point, exit code, output
    assert r.returncode == 0, r.stdout + r.stderr
    assert "grade" in r.stdout and "OK" in r.stdout
    assert "online_grooming" in r.stdout


def test_chat_in_a_real_terminal_process() -> None:
    r = subprocess_run("chat", stdin="what is sextortion\nquit\n")
    assert r.returncode == 0, r.stderr
    assert "coercion_and_blackmail" in r.stdout and "Childline" in r.stdout


def test_train_builds_once_then_finds_everything_up_to_date(tmp_path: Path) -> None:
    out = tmp_path / "model.npz"
    first = run("train", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert out.is_file() and "3 model(s)" in first.stdout and "example vectors" in first.stdout
    assert (out.parent / "encoder" / "minilm-l6-int8.onnx").is_file()
    again = run("train", "--out", str(out))
    assert again.returncode == 0 and "0 trained, 3 up to date" in again.stdout


def test_unknown_command_is_a_usage_error() -> None:
    r = run("fly")
    assert r.returncode == 2 and "invalid choice" in r.stderr


@pytest.mark.parametrize("args", [("eval", "--fail-under", "x"), ("chat", "--audience", "cat")])
def test_bad_options_are_usage_errors(args: tuple[str, ...]) -> None:
    r = run(*args)
    assert r.returncode == 2 and "usage:" in r.stderr


def test_validate_fails_on_a_broken_intent(kb_copy: Path) -> None:
    p = kb_copy / "intents" / "online_grooming.yaml"
    p.write_text(p.read_text().replace("signposts:", "signpost:"))
    r = run("--kb", str(kb_copy), "validate")
    assert r.returncode == 1
    assert "intents/online_grooming.yaml: signposts" in r.stdout


def test_eval_reports_json(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        '{"text": "what is grooming", "expected": ["online_grooming"], "audience": "parent"}\n'
        '{"text": "dog grooming prices", "expected": ["fallback"], "audience": "parent"}\n'
    )
    r = run("eval", str(cases), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)[0]
    assert report["cases"] == 2
    assert report["in_scope_accuracy"] == 1.0
    assert "online_grooming" in report["per_intent"]


def test_eval_without_files_reports_the_manifests_tune_then_test_sets() -> None:
    r = run("eval", "--json")
    assert r.returncode == 0, r.stderr
    sets = evalsets.repo()
    want = [s.name for s in (*sets.select("topics", "tune"), *sets.select("topics", "test"))]
    assert [rep["name"] for rep in json.loads(r.stdout)] == want
    assert want[:2] == ["tune.jsonl", "tune_2.jsonl"] and "test.jsonl" in want


def test_eval_without_files_names_a_broken_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "manifest.yaml").write_text(
        "sets:\n- {path: topics/a.jsonl, task: topics, role: held_out, writer: x,"
        " date: 2026-12-01, tuned_on: false}\n"
    )
    monkeypatch.chdir(tmp_path)
    r = run("eval")
    assert r.returncode == 2
    assert "manifest.yaml: sets[topics/a.jsonl].role" in r.stderr


def test_eval_rejects_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json}\n")
    r = run("eval", str(bad))
    assert r.returncode == 2 and "bad.jsonl:1" in r.stderr


def test_chat_in_the_terminal() -> None:
    r = run("chat", stdin="what is sextortion\nhow do i report it\nquit\n")
    assert r.returncode == 0
    assert "coercion_and_blackmail" in r.stdout and "make_a_report" in r.stdout
    assert "Childline" in r.stdout


def test_validate_rejects_a_number_typed_by_hand(kb_copy: Path) -> None:
    p = kb_copy / "content" / "young_person" / "greeting.md"
    p.write_text(p.read_text() + "\nCall 0800 1112 now. Or see http://example.com.\n")
    r = run("--kb", str(kb_copy), "validate")
    assert r.returncode == 1
    assert (
        "content/young_person/greeting.md: number: '0800 1112' is not in the registry" in r.stdout
    )
    assert "only https: and tel: links" in r.stdout or "is not in the registry" in r.stdout


def test_validate_names_an_example_that_repeats_another_intents(kb_copy: Path) -> None:
    from bot.loader import load
    from bot.validate import validate

    copied = load(kb_copy).intents["online_grooming"].examples[0]
    p = kb_copy / "intents" / "greeting.yaml"
    p.write_text(p.read_text().replace("examples:\n", f"examples:\n  - {copied!r}\n", 1))
    res = validate(kb_copy)
    assert not res.ok
    # Under whichever file comes first, with the other in the message.
    found = [str(e) for e in res.errors if "nearly repeats" in e.message]
    assert found, res.errors
    assert all("intents/greeting.yaml" in f and "online_grooming.yaml" in f for f in found)


def test_validate_warns_about_a_capital_letter_in_a_regex(kb_copy: Path) -> None:
    # Triage reads lower-cased text: "Hes" in a regex never matches; escapes like \S are fine.
    from bot.validate import validate

    p = kb_copy / "content" / "safety_concepts.yaml"
    p.write_text(p.read_text().replace("  told_harm: [", "  told_harm: ['re:\\bHes here\\b', ", 1))
    found = [str(w) for w in validate(kb_copy).warnings if "capital letter" in w.message]
    assert len(found) == 1 and "concepts.told_harm" in found[0], found


def test_validate_names_a_safety_message_taught_as_two_things(kb_copy: Path) -> None:
    from bot.validate import validate

    p = kb_copy / "content" / "triage_examples.yaml"
    # A crisis message also listed as harmless, and a greeting (which the model learns as
    # "none" from its intent's examples) listed as a harmful request.
    text = p.read_text()
    text = text.replace("\nnone:\n", "\nnone:\n- hes outside my house rn\n", 1)
    text = text.replace("\nharmful_request:\n", "\nharmful_request:\n- hello\n", 1)
    p.write_text(text)
    found = [str(e) for e in validate(kb_copy).errors if "is also taught as" in e.message]
    where = "content/triage_examples.yaml"
    assert f"{where}: immediate_danger: 'hes outside my house rn' is also taught as none" in (
        "\n".join(found)
    ), found
    assert any(f.startswith(f"{where}: harmful_request: 'hello'") for f in found), found
