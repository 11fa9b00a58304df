"""The `signpost` command: serve, chat, validate, train, sources, eval."""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .evalsets import ManifestError
from .loader import KnowledgeBaseError


def _prepare_multiprocess(path: str) -> None:
    """Point every worker started after this at `path`, emptied: samples left by an earlier
    run would be added to this one's. Before bot.metrics is imported: its counters open their
    files there as they are created."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.unlink(os.path.join(path, name))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path


def _serve(args: argparse.Namespace) -> int:
    import tempfile

    import uvicorn

    if args.kb:
        os.environ["SIGNPOST_KB_DIR"] = str(Path(args.kb).resolve())
    # Fail fast, in this process, with the file and field, before workers start.
    from .loader import load

    load(os.environ.get("SIGNPOST_KB_DIR"))
    from .config import Settings
    from .logs import logging_config

    try:
        settings = Settings()
    except ValueError as exc:  # pydantic's ValidationError names the variable
        print(f"signpost: bad configuration: {exc}", file=sys.stderr)
        return 1
    log_config = logging_config(settings.log_format, settings.log_level)
    logging.config.dictConfig(log_config)
    log = logging.getLogger("signpost.server")
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if settings.metrics_enabled and (args.workers > 1 or multiproc_dir):
        # Before any worker (or prometheus_client in this process) starts: every worker
        # writes its samples there and the scrape adds them up (bot/metrics.py).
        _prepare_multiprocess(multiproc_dir or tempfile.mkdtemp(prefix="signpost-metrics-"))
    from . import metrics
    from .server import NoDelayHTTPProtocol, raise_open_file_limit, run

    before, after = raise_open_file_limit()
    limit = settings.max_connections
    if after - 64 < limit:  # a cap above the file limit would fail as EMFILE instead of 503
        limit = max(16, after - 64)
    log.info(
        "open files: limit %d (was %d); at most %d connections per worker", after, before, limit
    )
    if settings.metrics_enabled and settings.metrics_port:
        try:
            metrics.serve_separately(args.host, settings.metrics_port)
            log.info("metrics on http://%s:%d/metrics", args.host, settings.metrics_port)
        except OSError as exc:  # monitoring is not worth refusing to help anyone
            log.error("metrics: cannot listen on port %d (%s)", settings.metrics_port, exc.strerror)
    config = uvicorn.Config(
        "bot.api:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        http=NoDelayHTTPProtocol,  # TCP_NODELAY and a header deadline (bot/server.py)
        log_config=log_config,  # applied in every worker: text or JSON, no message text
        log_level=settings.log_level,
        access_log=False,  # ours logs method, route template, status and latency only
        server_header=False,
        proxy_headers=False,  # the client IP comes from SIGNPOST_TRUSTED_PROXY_HEADER only
        timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=limit,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        h11_max_incomplete_event_size=16 * 1024,  # request line and headers
    )
    return run(config)


def _render(reply) -> str:
    out = [reply.answer, ""]
    for h in reply.signposts:
        contact = " / ".join(x for x in (h.phone, h.text, h.url) if x)
        out.append(f"  * {h.name}: {contact}")
    if reply.suggestions:
        out.append("  You could ask: " + " | ".join(s.label for s in reply.suggestions))
    out.append(f"  [{reply.intent}, {reply.confidence:.2f}, safety: {reply.safety.value}]")
    return "\n".join(out)


def _chat(args: argparse.Namespace) -> int:
    from .engine import Engine

    engine = Engine.from_path(args.kb)
    context: dict = {}
    print("Signpost (type 'quit' to leave). Nothing you type is saved.")
    while True:
        try:
            line = input("> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if line.lower() in {"quit", "exit"}:
            return 0
        if not line:
            continue
        reply = engine.respond(line[:1000], args.audience, context)
        context = reply.context
        print(_render(reply), flush=True)


def _validate(args: argparse.Namespace) -> int:
    from .validate import to_text, validate

    result = validate(args.kb)
    print(to_text(result))
    return 0 if result.ok else 1


def _train(args: argparse.Namespace) -> int:
    """Build every learned part for this content: into the cache, or with `--out` into one
    artefact file (what the wheel and the Docker image ship). Up-to-date models are reused
    unless `--force`."""
    import time

    from . import artefact
    from .engine import Engine
    from .loader import load
    from .semantic import Semantic

    started = time.perf_counter()
    out = Path(args.out) if args.out else None
    cache = artefact.cache_dir()
    if args.force:  # nothing found: everything trains, and is written below
        store = artefact.ModelStore(cache=None)
    else:
        store = artefact.ModelStore(files=[p for p in (out, artefact.PACKAGED) if p], cache=cache)
    semantic = Semantic.build(out.parent if out else None)
    Engine(load(args.kb), models=store, semantic=semantic)
    if out:
        artefact.write(store.used, out)
    elif args.force:
        for key, fitted in store.used.items():
            artefact.write({key: fitted}, cache / f"{key}.npz")
    semantic.vectors.save()
    n, trained = len(store.used), len(store.trained)
    took = time.perf_counter() - started
    print(
        f"signpost train: {n} model(s), {trained} trained, {n - trained} up to date;"
        f" {len(semantic.vectors.used)} example vectors, {semantic.vectors.added} new"
        f" ({took:.1f} s) -> {out or cache}"
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    from . import evaluate
    from .engine import Engine

    try:
        files = args.files or [str(p) for p in _default_eval_files()]
    except ManifestError as exc:
        print(f"signpost eval: {exc}", file=sys.stderr)
        return 2
    if not files:
        print("signpost eval: no files given and no eval/ splits here", file=sys.stderr)
        return 2
    engine = Engine.from_path(args.kb)
    reports = []
    for f in files:
        path = Path(f)
        try:
            cases = evaluate.read_cases(path)
        except (OSError, evaluate.CaseError) as exc:
            print(f"signpost eval: {exc}", file=sys.stderr)
            return 2
        reports.append(evaluate.report(path.name, evaluate.run(engine, cases)))
    if args.json:
        print(evaluate.to_json(reports))
    else:
        print("\n\n".join(evaluate.to_text(r, args.errors) for r in reports))
    if args.fail_under is not None and any(
        r.in_scope_accuracy < args.fail_under for r in reports if r.in_scope
    ):
        return 1
    return 0


def _insights(args: argparse.Namespace) -> int:
    from .insights import run

    return run(args.source, args.json)


def _sources(args: argparse.Namespace) -> int:
    """Write (or with --check, compare) docs/SOURCES.md from the helpline registry."""
    from . import registry
    from .loader import default_root

    root = Path(args.kb) if args.kb else default_root()
    text = registry.sources_markdown(registry.read(root / "content" / "helplines.yaml"))
    out = Path(args.out) if args.out else root / "docs" / "SOURCES.md"
    if args.check:
        current = out.read_text(encoding="utf-8") if out.is_file() else ""
        if current != text:
            print(f"signpost sources: {out} is out of date: run `signpost sources`")
            return 1
        print(f"signpost sources: {out} is up to date")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"signpost sources: wrote {out}")
    return 0


def _default_eval_files() -> list[Path]:
    """The repo's topic sets from its manifest, tuning then held out (run from the repo)."""
    from . import evalsets

    here = Path("eval")
    if not (here / evalsets.MANIFEST).is_file():
        return []
    sets = evalsets.read(here)
    return sets.files([*sets.select("topics", "tune"), *sets.select("topics", "test")])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="signpost", description=__doc__)
    p.add_argument("--kb", help="folder with intents/ and content/ (default: built-in)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="start the web server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1)
    s.set_defaults(func=_serve)

    c = sub.add_parser("chat", help="talk to the bot in this terminal")
    c.add_argument("--audience", choices=["young_person", "parent"])
    c.set_defaults(func=_chat)

    v = sub.add_parser("validate", help="check intents and content; exit 1 on any error")
    v.set_defaults(func=_validate)

    t = sub.add_parser("train", help="build the learned parts once (serve, chat, eval load them)")
    t.add_argument("--out", help="write one artefact file here (default: the cache folder)")
    t.add_argument("--force", action="store_true", help="train again even if up to date")
    t.set_defaults(func=_train)

    r = sub.add_parser("sources", help="write docs/SOURCES.md from content/helplines.yaml")
    r.add_argument("--out", help="where to write it (default: docs/SOURCES.md)")
    r.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    r.set_defaults(func=_sources)

    e = sub.add_parser("eval", help="evaluate on labelled JSONL cases")
    e.add_argument("files", nargs="*", help="JSONL files (default: the eval/ splits)")
    e.add_argument("--json", action="store_true", help="machine-readable report")
    e.add_argument("--errors", type=int, default=0, metavar="N", help="list N misses per file")
    e.add_argument("--fail-under", type=float, help="exit 1 if in-scope accuracy is lower")
    e.set_defaults(func=_eval)

    i = sub.add_parser("insights", help="answers and 'was this helpful?' per intent, from /metrics")
    i.add_argument("source", help="a /metrics address (http or https) or a saved scrape file")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=_insights)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KnowledgeBaseError as exc:
        print(f"signpost: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
