"""Reproduce a published comparison with one command: ``python experiments/reproduce.py NAME``.

Each suite is a file ``experiments/suites/NAME.json`` that freezes everything a result depends
on, so later changes of a task config do not move it:

* ``about``: one line on what the suite measures;
* ``script``: ``compare_samplers`` (one task, several samplers and seeds) or ``photos`` (the
  photo benchmark: one comparison per image);
* ``config``: the complete gin bindings of the task (written to ``experiments/results/NAME/
  suite.gin`` and passed as the task config);
* ``args``: the script's other arguments (samplers, seeds, steps, evaluation interval, timing).

A *group* file has ``about`` and ``suites`` (a list of suite names) instead: it runs those
suites one after another (``python experiments/reproduce.py methods_cpu``). Its optional
``claims`` (method -> the paper's reported wall-clock speed-up, the members it applies to and the
module whose docstring lists our differences of setup) are checked on the results page.

``--list`` shows the suites, ``--dry_run`` prints the command without running it, and arguments
after ``--`` are passed on (e.g. ``-- --seeds 0 --resume``). ``python
experiments/write_results_page.py`` then assembles ``docs/results.md`` from the suites' outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shlex
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
SUITES_DIR = ROOT / "experiments" / "suites"
SCRIPTS = {"compare_samplers": "--gin_configs", "photos": "--task_config"}
sys.path.insert(0, str(ROOT))


def load_suite(name: str, group: bool = False) -> dict:
    """The suite ``name`` (``experiments/suites/NAME.json``), checked for its fields; with
    ``group`` a group file (``about`` and ``suites``) is returned as it is."""
    path = SUITES_DIR / f"{name}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in SUITES_DIR.glob("*.json")))
        raise SystemExit(f"error: no suite named {name!r} (known: {known}).")
    suite = json.loads(path.read_text())
    if group and "suites" in suite:
        for member in suite["suites"]:
            load_suite(member)
        return suite
    missing = {"about", "script", "config", "args"} - set(suite)
    if missing or suite["script"] not in SCRIPTS:
        raise SystemExit(f"error: {path} needs the fields about, script ({' or '.join(SCRIPTS)}),"
                         f" config and args; missing or wrong: {sorted(missing) or 'script'}.")
    return suite


def command(name: str, extra: list[str]) -> tuple[str, list[str], pathlib.Path]:
    """``(script, argv, task config path)`` of suite ``name`` with ``extra`` arguments."""
    suite = load_suite(name)
    outdir = pathlib.Path("experiments") / "results" / name
    config = outdir / "suite.gin"
    argv = [SCRIPTS[suite["script"]], str(config), *suite["args"], "--outdir", str(outdir),
            *extra]
    return suite["script"], argv, config


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("suite", nargs="?")
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    parser.add_argument("--dry_run", action="store_true", help="print the command only")
    args = parser.parse_args(argv)
    if args.list or args.suite is None:
        for path in sorted(SUITES_DIR.glob("*.json")):
            print(f"{path.stem:28s} {json.loads(path.read_text())['about']}")
        return 0
    members = load_suite(args.suite, group=True).get("suites")
    if members is not None:
        for member in members:
            code = main([member, *(["--dry_run"] if args.dry_run else []), "--", *extra])
            if code:
                return code
        return 0
    script, script_argv, config = command(args.suite, extra)
    print(f"python experiments/{'benchmarks/' if script == 'photos' else ''}{script}.py "
          + shlex.join(script_argv), flush=True)
    if args.dry_run:
        return 0
    os.chdir(ROOT)  # the configs name their data relative to the repository root
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("\n".join(load_suite(args.suite)["config"]) + "\n")
    if script == "photos":
        from experiments.benchmarks import photos

        return photos.main(script_argv)
    from experiments import compare_samplers

    return compare_samplers.main(script_argv)


if __name__ == "__main__":
    sys.exit(main())
