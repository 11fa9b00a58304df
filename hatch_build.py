"""Wheel build hook: train the learned parts for the built-in content and ship them inside
the wheel (bot/_kb/: model.npz, the sentence encoder in encoder/ and the examples' vectors),
so `pip install . && signpost serve` starts ready in seconds.
Editable installs skip it: they train once on first start and keep the models in the cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class TrainHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        out = Path(tempfile.mkdtemp(prefix="signpost-build-")) / "model.npz"
        # The build environment's own path (pip's isolated overlay) stays, after this source.
        path = os.pathsep.join(p for p in (self.root, os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path, "SIGNPOST_CACHE_DIR": str(out.parent)}
        subprocess.run(
            [sys.executable, "-m", "bot", "train", "--out", str(out)],
            cwd=self.root,
            env=env,
            check=True,
        )
        build_data["force_include"][str(out)] = "bot/_kb/model.npz"
        for name in ("encoder/minilm-l6-int8.onnx", "encoder/tokenizer.json"):
            build_data["force_include"][str(out.parent / name)] = f"bot/_kb/{name}"
        for vectors in out.parent.glob("vectors-*.npz"):
            build_data["force_include"][str(vectors)] = f"bot/_kb/{vectors.name}"
