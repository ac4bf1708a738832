"""Train a neural field with soft mining (or another sampler), configured with gin.

Usage: softmining-train --gin_configs=... --gin_bindings=... --workdir=...

With no ``--gin_configs`` it runs the built-in default: fitting a bundled 512-px public-domain
image of Pluto with soft mining (a couple of minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import pathlib
import re
import sys
from collections.abc import Sequence

import gin

from softmining_jax import (
    configurables,  # noqa: F401  (registers the gin names)
    host_memory,
)

# The built-in default run (same as gin_configs/image/default.gin): the bundled 512 px Pluto with
# the image default (gin_configs/samplers/pixel_error_map.gin), CPU-sized.
DEFAULT_BINDINGS = (
    "train_and_evaluate.task = @image_fitting_task()",
    "train_and_evaluate.batch_size = 512",
    "train_and_evaluate.num_steps = 3000",
    "train_and_evaluate.eval_every = 500",
    "train_and_evaluate.checkpoint_every = 1000",
    "train_and_evaluate.sampler = @error_map_sampler()",
    "error_map_sampler.source = 'dense+feedback'",
    "error_map_sampler.cell_size = 1",
    "error_map_sampler.ema = 1.0",
    "error_map_sampler.rebuild_fraction = 0.03125",
    "error_map_sampler.uniform_fraction = 0.1",
    "error_map_sampler.weights = @hard/WeightSchedule()",
    "hard/WeightSchedule.alpha = 0.0",
    "train_and_evaluate.dense_refresh = @per_epoch/DenseRefresh()",
    "per_epoch/DenseRefresh.epochs = 1.0",
    "per_epoch/DenseRefresh.stride = 'auto'",
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="softmining-train", description=__doc__.split("\n")[0],
        epilog="Your own gin configurables: put their module on PYTHONPATH and name it with "
               "--import (or import it in a config with 'import my_module').")
    parser.add_argument("--gin_configs", action="append", default=[],
                        help="gin config file (repeatable); default: the built-in Pluto run")
    parser.add_argument("--gin_bindings", action="append", default=[],
                        help="gin binding such as 'train_and_evaluate.num_steps=500' (repeatable)")
    parser.add_argument("--workdir", default="runs/default",
                        help="output folder; running again with the same folder resumes")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        metavar="MODULE", help="import MODULE first (it registers your gin "
                        "configurables); repeatable")
    group = parser.add_argument_group(
        "multi-host", "join a multi-process run (jax.distributed); also read from the environment "
        "variables SOFTMINING_COORDINATOR / _NUM_PROCESSES / _PROCESS_ID")
    group.add_argument("--distributed", action="store_true",
                       help="initialise jax.distributed (auto-detects SLURM, Open MPI, TPU pods)")
    group.add_argument("--coordinator_address", help="host:port of process 0")
    group.add_argument("--num_processes", type=int)
    group.add_argument("--process_id", type=int)
    return parser.parse_args(argv)


def parse_gin(configs: Sequence[str], bindings: Sequence[str]) -> None:
    """Parse gin files and bindings, turning gin's errors into messages that name the culprit.

    With no files, the built-in default bindings come first (user bindings override them).
    """
    files = []
    for c in configs:
        path = pathlib.Path(c).absolute()
        if not path.is_file():
            raise SystemExit(f"error: gin config file not found: {c}")
        files.append(path)
    if not files:
        bindings = [*DEFAULT_BINDINGS, *bindings]
    gin.clear_config()
    try:
        for path in files:
            # Includes such as 'samplers/x.gin' resolve against the config tree's root
            # (gin_configs/), whatever the working directory.
            with _working_directory(path.parent.parent):
                gin.parse_config_file(str(path))
        gin.parse_config(bindings)
    except (ValueError, KeyError, SyntaxError, TypeError, OSError) as e:
        where = f"config files {[str(f) for f in files]}, bindings {list(bindings)}"
        raise SystemExit(f"error: invalid gin configuration ({where}):\n  {e}") from None


@contextlib.contextmanager
def _working_directory(path: pathlib.Path):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _one_line(error: BaseException) -> str:
    """An exception as the message a user needs: gin's 'In call to configurable ...' trailer
    becomes a prefix naming the configurable."""
    text = str(error).strip() or type(error).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    where = [line for line in lines if line.startswith("In call to configurable")]
    body = [line for line in lines if not line.startswith("In call to configurable")]
    message = " ".join(body)
    if where and "'" in where[-1] and not re.match(r"[\w.]+\.\w+ ", message):
        message = where[-1].split("'")[1] + ": " + message  # name the configurable
    return message


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    host_memory.reuse_freed_host_memory()  # before JAX's first computation
    # force: importing orbax installs a root handler, which would swallow INFO messages.
    logging.basicConfig(level=logging.INFO, format="%(message)s", force=True)
    for noisy in ("absl", "orbax", "jax"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if (args.distributed or args.coordinator_address or args.num_processes is not None
            or "SOFTMINING_COORDINATOR" in os.environ):
        from softmining_jax.parallel import initialize_distributed

        initialize_distributed(args.coordinator_address, args.num_processes, args.process_id)
    for module in args.imports:
        try:
            importlib.import_module(module)
        except ImportError as e:
            print(f"error: --import {module}: {e} (is its folder on PYTHONPATH?)",
                  file=sys.stderr)
            return 2
    try:
        parse_gin(args.gin_configs, args.gin_bindings)
    except SystemExit as e:  # a bad config: one message, the usage-error exit code
        print(e, file=sys.stderr)
        return 2
    try:
        train_fn = gin.get_configurable("train_and_evaluate")
        record = train_fn(workdir=args.workdir, progress=not args.quiet,
                          operative_config=gin.operative_config_str)
    except (FileNotFoundError, PermissionError, ValueError, TypeError, RuntimeError,
            ImportError, FloatingPointError) as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 2
    psnr = record.get("eval_psnr", float("nan"))
    if "test_psnr" in record:  # NeRF: the periodic evaluation uses a few views; say which
        print(f"final test PSNR {record['test_psnr']:.2f} dB over all "
              f"{int(record['test_views'])} test views (periodic evaluation on fewer views: "
              f"{psnr:.2f} dB) after {record.get('step', 0)} steps; outputs in {args.workdir}")
    else:
        print(f"final eval PSNR {psnr:.2f} dB after {record.get('step', 0)} steps; "
              f"outputs in {args.workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
