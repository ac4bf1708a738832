"""This checkout's NeRF step and dense render against an older commit's, in alternating processes.

``python experiments/bench_checkouts.py --against 2257a94 --pairs 2`` checks the older commit out
into a temporary git worktree, copies this checkout's ``experiments/bench_step.py`` into it (the
``--nerf``/``--dense`` parts use only names that existed then), and runs ``bench_step.py
--no_grid --nerf --dense`` alternately in the two checkouts, each with the C allocator's defaults
and with the host-memory setting (this checkout: ``softmining_jax.reuse_freed_host_memory``, as
the command line runs; the older one: the same ``mallopt`` settings as ``GLIBC_TUNABLES``). One
JSON per run goes to ``--out`` (``experiments/results/bench_checkouts/``, which
``experiments/write_results_page.py`` tabulates). Each run is its own process, so absolute times
are compared across processes (alternation spreads the machine's drift over both checkouts).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from softmining_jax.host_memory import GLIBC_TUNABLES

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Runs a checkout's bench_step.py with that checkout first on the path (an editable install of
# this checkout would otherwise be imported instead).
_RUNNER = """
import runpy, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path[:] = [p for p in sys.path if "__editable__" not in p]
root = sys.argv[1]
sys.path.insert(0, root)
sys.argv = ["bench_step.py"] + sys.argv[2:]
runpy.run_path(root + "/experiments/bench_step.py", run_name="__main__")
"""


def run(root: pathlib.Path, out: pathlib.Path, reuse: bool, rounds: int, newer: bool) -> None:
    env = dict(os.environ)
    env.pop("GLIBC_TUNABLES", None)
    args = ["--no_grid", "--nerf", "--dense", "--rounds", str(rounds), "--out", str(out)]
    if newer:
        args += ["--host_memory", "reuse" if reuse else "default"]
    elif reuse:
        env["GLIBC_TUNABLES"] = GLIBC_TUNABLES
    print(f"{out.name}:", flush=True)
    subprocess.run([sys.executable, "-c", _RUNNER, str(root), *args], env=env, check=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", required=True, help="the older commit")
    parser.add_argument("--pairs", type=int, default=2, help="rounds of the four runs")
    parser.add_argument("--rounds", type=int, default=4, help="bench_step.py --rounds")
    parser.add_argument("--out", default=str(ROOT / "experiments" / "results" / "bench_checkouts"))
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    older = pathlib.Path(tempfile.mkdtemp(prefix="bench_checkouts_")) / "older"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(older),
                    args.against], check=True, capture_output=True)
    try:
        shutil.copy(ROOT / "experiments" / "bench_step.py", older / "experiments")
        for i in range(args.pairs):
            for reuse in (False, True):
                tag = "reuse" if reuse else "default"
                run(older, out / f"{args.against}_{tag}_{i}.json", reuse, args.rounds, False)
                run(ROOT, out / f"this_{tag}_{i}.json", reuse, args.rounds, True)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(older)],
                       check=False)
        shutil.rmtree(older.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
