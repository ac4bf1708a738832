"""Run outputs: JSON-lines metrics and TensorBoard events.

``metrics.jsonl`` is the record of a run; the TensorBoard events are derived from it. On resume,
rows past the restored step are dropped (the file then matches an uninterrupted run) by an
atomic rewrite (a temporary file, fsync, rename: a crash during it leaves the old file whole),
unreadable rows are skipped with a warning naming the file and line, and the TensorBoard events
are written afresh from the kept rows, so a reader sees every step once however often the run
was killed.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pathlib
import shutil
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def read_records(path: pathlib.Path) -> list[dict[str, Any]]:
    """The readable rows of a ``metrics.jsonl``: JSON objects with an integer ``step``. Others
    (a line cut by a crash, a stray value, bytes that are not UTF-8) are skipped with a warning
    naming the file and line."""
    records = []
    if not path.exists():
        return records
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            record = json.loads(raw.decode("utf-8"))
            if not (isinstance(record, dict) and isinstance(record.get("step"), int)
                    and not isinstance(record.get("step"), bool)):
                raise ValueError("not an object with an integer 'step'")
        except (UnicodeDecodeError, ValueError) as e:
            if raw.strip():
                log.warning("%s line %d is unreadable (%s); skipped.", path, number,
                            str(e).splitlines()[0][:80])
            continue
        records.append(record)
    return records


def write_atomically(path: pathlib.Path, text: str) -> None:
    """Replace ``path`` by ``text`` so that a crash leaves either the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _tag(key: str) -> str:
    """TensorBoard tag of a metrics key: ``eval/psnr`` for ``eval_psnr``, ``train/loss``..."""
    return f"eval/{key[5:]}" if key.startswith("eval_") else f"train/{key}"


class MetricsLog:
    """Appends one JSON object per line to ``metrics.jsonl`` and mirrors it to TensorBoard.

    Args:
      workdir: the run's folder.
      resume_step: the restored step (rows past it are dropped), or None for a fresh run.
      tensorboard: also write TensorBoard events under ``tensorboard/``.
      enabled: False for processes other than 0 of a multi-host run: records are kept in memory
        but nothing is written.
    """

    def __init__(self, workdir: pathlib.Path, resume_step: int | None, tensorboard: bool = True,
                 enabled: bool = True):
        self.path = workdir / "metrics.jsonl"
        self.enabled = enabled
        kept = []
        if resume_step is not None:
            kept = [r for r in read_records(self.path) if r["step"] <= resume_step]
        if enabled:
            write_atomically(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        self.records = kept
        self._writer = None
        if tensorboard and enabled:
            from tensorboardX import SummaryWriter

            events = workdir / "tensorboard"
            if events.exists():  # derived from metrics.jsonl: written afresh from the kept rows
                shutil.rmtree(events)
            self._writer = SummaryWriter(str(events))
            for record in kept:
                self._scalars(record)

    def _scalars(self, record: dict[str, Any]) -> None:
        for k, v in record.items():
            if k != "step" and isinstance(v, float) and math.isfinite(v):
                self._writer.add_scalar(_tag(k), v, record["step"])

    def write(self, record: dict[str, Any]) -> None:
        record = {k: (float(v) if not isinstance(v, (int, str)) else v) for k, v in record.items()}
        self.records.append(record)
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self._writer is not None:
            self._scalars(record)

    def images(self, step: int, pictures: dict[str, np.ndarray]) -> None:
        """The evaluation's reconstruction and error map as TensorBoard images."""
        if self._writer is None:
            return
        for name in ("reconstruction", "error"):
            if name in pictures:
                image = np.asarray(pictures[name], np.float32)
                if name == "error":
                    image = image / max(float(image.max()), 1e-6)
                image = image[..., None] if image.ndim == 2 else image
                image = np.repeat(image, 3, -1) if image.shape[-1] == 1 else image[..., :3]
                self._writer.add_image(f"eval/{name}", np.clip(image, 0, 1), step,
                                       dataformats="HWC")

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
