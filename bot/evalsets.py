"""The evaluation sets' manifest (eval/manifest.yaml): every set's task, role and history.

One place says which set is held out, which was tuned on and which the bot learned from;
`signpost eval`, the eval scripts, the golden-replies check, the tests and bench/ ask it
instead of keeping their own lists of file names. It lives in the package (not in eval/)
because `signpost eval` reads it when run from a checkout of the repo.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

# The repo's eval/ folder (this package sits next to it in a checkout).
EVAL_DIR = Path(__file__).resolve().parent.parent / "eval"
MANIFEST = "manifest.yaml"


class Task(StrEnum):
    TOPICS = "topics"
    SAFETY = "safety"
    NEAR_MISS = "near_miss"
    SITUATION = "situation"


class Role(StrEnum):
    TRAIN = "train"
    TUNE = "tune"
    TEST = "test"
    REGRESSION = "regression"
    PROBE = "probe"


class Learned(StrEnum):
    EXAMPLES = "examples"
    TRIAGE_EXAMPLES = "triage_examples"


class Floors(BaseModel):
    """Regression floors on bot/evaluate.py's Report: accuracies are minimums, rates maximums."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    in_scope_accuracy: float | None = None
    overall_accuracy: float | None = None
    out_of_scope_false_accept_rate: float | None = None
    near_miss_false_alarm_rate: float | None = None

    def failures(self, report: object) -> list[str]:
        """Each floor the report does not meet, as 'figure: got vs floor'."""
        out = []
        for name, floor in self.model_dump(exclude_none=True).items():
            got = getattr(report, name)
            worse = got > floor if name.endswith("_rate") else got < floor
            if worse:
                out.append(f"{name}: {got} (floor {floor})")
        return out


class EvalSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str
    task: Task
    role: Role
    writer: str
    date: dt.date
    tuned_on: bool
    learned_from: tuple[Learned, ...] = ()
    known_overlap: int = 0
    floors: Floors | None = None
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> EvalSet:
        # The roles' definitions, so a set cannot be called held out while learned from.
        if self.role is Role.TEST and (self.tuned_on or self.learned_from):
            raise ValueError("a test set is never tuned on nor learned from")
        if self.role is Role.PROBE and self.tuned_on and not self.note:
            raise ValueError("a probe that has been tuned on needs a note saying so")
        if self.learned_from and self.known_overlap:
            raise ValueError("known_overlap is only for sets nothing was learned from")
        if not self.path.endswith(".jsonl") or Path(self.path).is_absolute() or ".." in self.path:
            raise ValueError("path must be a .jsonl file inside eval/")
        return self

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def held_out(self) -> bool:
        """Nothing learned from it and nothing tuned on it: its figures measure unseen wording."""
        return self.role in (Role.TEST, Role.PROBE) and not self.tuned_on and not self.learned_from


class Record(BaseModel):
    """A file in eval/ that is not a set of cases but made from them (the golden replies)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    path: str
    made_by: str  # the command that writes it
    tuned_on: bool  # whether anything was ever changed to make its contents come out right
    note: str


class ManifestError(ValueError):
    """The manifest is unreadable or wrong; the message names the file and each field."""


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sets: tuple[EvalSet, ...]
    records: tuple[Record, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Manifest:
        paths = [s.path for s in self.sets]
        if twice := sorted({p for p in paths if paths.count(p) > 1}):
            raise ValueError(f"listed twice: {', '.join(twice)}")
        return self


class EvalSets:
    """The manifest of one eval/ folder, with file paths resolved against it."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.all = manifest.sets
        self.records = manifest.records

    def select(
        self,
        task: Task | str | None = None,
        role: Role | str | None = None,
        learned_from: Learned | str | None = None,
    ) -> list[EvalSet]:
        """The sets of that task and role (any when not given), in the manifest's order."""
        return [
            s
            for s in self.all
            if (task is None or s.task == task)
            and (role is None or s.role == role)
            and (learned_from is None or learned_from in s.learned_from)
        ]

    def get(self, path: str) -> EvalSet:
        """One set by its path in the manifest ("safety/safety_probe_4.jsonl")."""
        for s in self.all:
            if s.path == path:
                return s
        raise KeyError(f"{self.root / MANIFEST}: no set {path!r}")

    def file(self, s: EvalSet | str) -> Path:
        return self.root / (s.path if isinstance(s, EvalSet) else self.get(s).path)

    def files(self, sets: list[EvalSet]) -> list[Path]:
        return [self.file(s) for s in sets]

    def rows(self, s: EvalSet | str) -> list[dict[str, Any]]:
        """A set's lines, each read as JSON (blank lines skipped)."""
        lines = self.file(s).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def held_out_texts(self) -> list[str]:
        """Every text of every held-out set, of any task (nothing may be learned from them)."""
        return [row["text"] for s in self.all if s.held_out for row in self.rows(s)]

    def record(self, name: str) -> Path:
        """A record's file by its name in the manifest ("golden")."""
        for r in self.records:
            if r.name == name:
                return self.root / r.path
        raise KeyError(f"{self.root / MANIFEST}: no record {name!r}")


def read(root: Path = EVAL_DIR) -> EvalSets:
    """The manifest in `root`; every problem named by file and field, all at once."""
    path = root / MANIFEST
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return EvalSets(root, Manifest.model_validate(data))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        lines = [f"  - {path}: {_where(data, e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ManifestError("\n".join([f"{path}: {len(lines)} problem(s)", *lines])) from exc


def _where(data: object, loc: tuple[int | str, ...]) -> str:
    """'sets[topics/tune.jsonl].role' rather than 'sets.0.role': the set a writer edits."""
    parts = [str(p) for p in loc]
    sets = data.get("sets") if isinstance(data, dict) else None
    if len(loc) > 1 and loc[0] == "sets" and isinstance(loc[1], int) and isinstance(sets, list):
        entry = sets[loc[1]] if loc[1] < len(sets) else None
        label = entry.get("path") if isinstance(entry, dict) else None
        parts[:2] = [f"sets[{label or loc[1]}]"]
    return ".".join(parts) or "file"


@cache
def repo() -> EvalSets:
    """The repo's own manifest, read once per process."""
    return read(EVAL_DIR)
