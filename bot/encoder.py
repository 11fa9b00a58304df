"""Run time: sentence embeddings from the int8 MiniLM-L6 ONNX model (built by
`signpost train`, see encoder_export.py), with onnxruntime on one thread and the model's own
WordPiece tokenizer (Hugging Face `tokenizers`). Nothing is downloaded here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

MAX_TOKENS = 128  # messages are short; longer ones are cut (the head carries the situation)


class Encoder:
    """`encode(texts)` -> one unit vector (float32, 384) per text."""

    def __init__(self, model: Path, tokenizer: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        # One thread per worker: the server scales by processes, and a second thread per
        # request only fights the other workers for the same two cores.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding()
        self.path = model

    def encode(self, texts: Sequence[str], batch: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        parts = [self._batch(texts[i : i + batch]) for i in range(0, len(texts), batch)]
        return np.vstack(parts)

    def _batch(self, texts: Sequence[str]) -> np.ndarray:
        done = self.tokenizer.encode_batch(list(texts))
        ids = np.asarray([d.ids for d in done], dtype=np.int64)
        mask = np.asarray([d.attention_mask for d in done], dtype=np.int64)
        (out,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        return out.astype(np.float32, copy=False)
