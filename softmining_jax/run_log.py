"""Run outputs: JSON-lines metrics, TensorBoard events."""

from __future__ import annotations

import json
import math
import pathlib
from typing import Any


class MetricsLog:
    """Appends one JSON object per line to ``metrics.jsonl`` and mirrors scalars to TensorBoard.

    On resume, lines with a step beyond the restored step are dropped so the file matches an
    uninterrupted run.
    """

    def __init__(self, workdir: pathlib.Path, resume_step: int | None, tensorboard: bool = True,
                 enabled: bool = True):
        """``enabled=False`` (processes other than 0 of a multi-host run) keeps the records in
        memory but writes nothing."""
        self.path = workdir / "metrics.jsonl"
        self.enabled = enabled
        kept = []
        if resume_step is not None and self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash
                if rec.get("step", math.inf) <= resume_step:
                    kept.append(line)
        if enabled:
            self.path.write_text("".join(line + "\n" for line in kept))
        self.records = [json.loads(line) for line in kept]
        self._writer = None
        if tensorboard and enabled:
            from tensorboardX import SummaryWriter

            self._writer = SummaryWriter(str(workdir / "tensorboard"))

    def write(self, record: dict[str, Any]) -> None:
        record = {k: (float(v) if not isinstance(v, (int, str)) else v) for k, v in record.items()}
        self.records.append(record)
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self._writer is not None:
            for k, v in record.items():
                if k != "step" and isinstance(v, float) and math.isfinite(v):
                    self._writer.add_scalar(k, v, record["step"])

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
