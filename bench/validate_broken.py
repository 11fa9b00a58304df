"""How long `signpost validate` takes to reject a broken intent file, and what it says.

Copies the built-in content to a temporary folder, breaks one intent file (a misspelt
field name, the commonest editing slip), then runs `python -m bot --kb <copy> validate` in a
fresh process, as a content editor would, and prints the wall time and the message.

    python bench/validate_broken.py             # 3 runs, median
    python bench/validate_broken.py --runs 5 --intent the_law
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def broken_copy(dest: Path, intent: str) -> Path:
    """The content under `dest`, with `intent`'s `signposts:` misspelt as `signpost:`."""
    for folder in ("intents", "content"):
        shutil.copytree(ROOT / folder, dest / folder)
    path = dest / "intents" / f"{intent}.yaml"
    text = path.read_text(encoding="utf-8")
    if "\nsignposts:" not in text:
        raise SystemExit(f"{path} has no 'signposts:' line to break")
    path.write_text(text.replace("\nsignposts:", "\nsignpost:", 1), encoding="utf-8")
    return path


def run_once(kb: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--kb", str(kb), "validate"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,  # `bot` from this checkout
    )
    return time.perf_counter() - started, done


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--intent", default="online_grooming", help="the intent file to break")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="signpost-bench-") as tmp:
        broken_copy(Path(tmp), args.intent)
        times = []
        for _ in range(args.runs):
            took, done = run_once(Path(tmp))
            times.append(took)
            if done.returncode != 1:
                print(done.stdout + done.stderr, file=sys.stderr)
                print(f"expected exit code 1, got {done.returncode}", file=sys.stderr)
                return 1
    print(f"exit code 1; message:\n{(done.stdout + done.stderr).strip()}")
    median = statistics.median(times)
    print(
        f"signpost validate, broken intents/{args.intent}.yaml: median {median:.2f} s wall"
        f" over {args.runs} run(s) (min {min(times):.2f}, max {max(times):.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
