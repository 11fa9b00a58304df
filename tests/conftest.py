from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot import evalsets
from bot.api import create_app
from bot.config import Settings
from bot.engine import Engine
from bot.loader import default_root, load
from bot.models import KnowledgeBase

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "eval"
# Every labelled case file ({"text", "expected", ...}) of eval/manifest.yaml: all tasks but
# the situation probes, which have their own line format.
CASE_FILES = [evalsets.repo().file(s) for s in evalsets.repo().all if s.task != "situation"]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load()


@pytest.fixture(scope="session")
def engine(kb: KnowledgeBase) -> Engine:
    return Engine(kb)


@pytest.fixture(scope="session")
def rules_engine(engine: Engine) -> Engine:
    """Triage by the rules alone. The learned safety check is trained on the safety sets in
    eval/ (content/triage_examples.yaml), so recall on them says nothing about the rules
    unless it is measured without it. The same matcher and rules, not trained twice."""
    rules = copy.copy(engine)
    rules.triage_model = None  # a new safety stage: the engine's own is left as it was
    rules.safety.net = None  # nor the semantic net: the rules alone
    return rules


@pytest.fixture(scope="session")
def client(engine: Engine) -> Iterator[TestClient]:
    app = create_app(Settings(), engine=engine)
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def kb_copy(tmp_path: Path) -> Path:
    """A writable copy of the built-in knowledge base, to break on purpose."""
    src = default_root()
    for name in ("intents", "content"):
        shutil.copytree(src / name, tmp_path / name)
    return tmp_path


def chat(client: TestClient, message: str, **extra: object) -> dict:
    r = client.post("/api/chat", json={"message": message, **extra})
    assert r.status_code == 200, r.text
    return r.json()
