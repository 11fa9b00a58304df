"""Learned parts, trained once (`signpost train`) and loaded, like `rasa train`.

Each learned model is a *job*: its training texts, labels and settings. A job's key is a
hash of exactly those and of the artefact format, so a model is reused only for the data it
was trained on; any change to the content (or to how it is normalised) retrains just the
models it touches.

Models are stored as plain arrays in numpy .npz files (no pickle). Where a job is looked
for, first found first:

1. `SIGNPOST_MODEL`: an artefact file (`signpost train --out FILE`), if set;
2. the artefact built into the wheel (`bot/_kb/model.npz`);
3. the cache folder (`SIGNPOST_CACHE_DIR`, else `$XDG_CACHE_HOME/signpost`, else
   `~/.cache/signpost`): one `<key>.npz` per job.

A job found nowhere is trained (logged, with the advice to run `signpost train`) and written
to the cache, so the next start loads it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .classifier import Fitted, Head, Learned, fit_in_child, from_arrays, learnable, to_arrays

log = logging.getLogger("signpost.artefact")

FORMAT = 1  # bump when the arrays saved for a model change meaning
PACKAGED = Path(__file__).parent / "_kb" / "model.npz"


def job_key(name: str, texts: Sequence[str], rows: Sequence[int], c: float) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([FORMAT, name, c]).encode())
    for text, row in zip(texts, rows, strict=True):
        h.update(f"{row}\t{text}\n".encode())
    return f"{name}-{h.hexdigest()[:20]}"


def cache_dir() -> Path:
    if os.environ.get("SIGNPOST_CACHE_DIR"):
        return Path(os.environ["SIGNPOST_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "signpost"


def read(path: Path) -> dict[str, Learned]:
    """Every model in an artefact file, by job key; {} (logged) if it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = json.loads(str(data["keys"]))
            return {key: from_arrays(data, key) for key in keys}
    except (OSError, ValueError, KeyError) as exc:
        log.warning("model artefact %s not read (%s); training instead", path, exc)
        return {}


def write(models: Mapping[str, Learned], path: Path) -> Path:
    """One .npz with every model, written whole or not at all."""
    arrays: dict[str, np.ndarray] = {"keys": np.asarray(json.dumps(sorted(models)))}
    for key, fitted in models.items():
        arrays.update(to_arrays(fitted, key))
    return save_arrays(arrays, path)


def save_arrays(arrays: Mapping[str, np.ndarray], path: Path) -> Path:
    """An .npz written whole or not at all (a temporary file renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.part")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600: others (a container user) read it too
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass
class ModelStore:
    """Hands each learned part its model: loaded when built before, else trained."""

    files: Sequence[Path] = ()
    cache: Path | None = None  # where trained jobs are written and looked for; None: nowhere
    train: bool = True  # False: a job not found is an error (`signpost train --check`)
    used: dict[str, Learned] = field(default_factory=dict)
    trained: list[str] = field(default_factory=list)
    _loaded: dict[str, Learned] | None = None

    @classmethod
    def default(cls) -> ModelStore:
        files = [Path(p) for p in (os.environ.get("SIGNPOST_MODEL"),) if p]
        return cls(files=[*files, PACKAGED], cache=cache_dir())

    def _known(self) -> dict[str, Learned]:
        if self._loaded is None:
            self._loaded = {}
            for path in reversed([p for p in self.files if p.is_file()]):
                self._loaded.update(read(path))  # earlier files win
        return self._loaded

    def _cached(self, key: str) -> Learned | None:
        path = self.cache / f"{key}.npz" if self.cache else None
        if path is None or not path.is_file():
            return None
        return read(path).get(key)

    def get(
        self, name: str, texts: Sequence[str], rows: Sequence[int], c: float, without: str
    ) -> Fitted | None:
        """The n-gram model for this job, or None when there is too little to learn from or
        training failed (logged, saying what goes on `without` it)."""
        fitted = self._get(name, texts, rows, c, without, None)
        return fitted if isinstance(fitted, Fitted) else None

    def head(
        self,
        name: str,
        texts: Sequence[str],
        rows: Sequence[int],
        c: float,
        without: str,
        vectors: np.ndarray,
    ) -> Head | None:
        """The same for a head over the texts' sentence vectors; `name` must name the
        encoder, since the key hashes the texts, not their vectors."""
        head = self._get(name, texts, rows, c, without, vectors)
        return head if isinstance(head, Head) else None

    def _get(
        self,
        name: str,
        texts: Sequence[str],
        rows: Sequence[int],
        c: float,
        without: str,
        vectors: np.ndarray | None,
    ) -> Learned | None:
        if not learnable(texts, rows):
            return None
        key = job_key(name, texts, rows, c)
        fitted = self._known().get(key) or self._cached(key)
        if fitted is None:
            if not self.train:
                raise LookupError(f"no built model for {name} ({key}): run `signpost train`")
            log.info("training the %s model: no built model for this content (%s)", name, key)
            fitted = fit_in_child(texts, rows, c, without, vectors)
            if fitted is None:
                return None
            self.trained.append(key)
            self._save_to_cache(key, fitted)
        self.used[key] = fitted
        return fitted

    def _save_to_cache(self, key: str, fitted: Learned) -> None:
        if self.cache is None:
            return
        try:
            write({key: fitted}, self.cache / f"{key}.npz")
        except OSError as exc:  # a read-only file system: the model still serves this run
            log.warning("trained model not cached (%s): run `signpost train` to build it", exc)

    def keys(self) -> Iterable[str]:
        return self.used.keys()
