"""Execute a notebook with this interpreter's kernel and store it with its outputs.

Usage: python experiments/notebooks/execute.py experiments/notebooks/extend_a_field.ipynb
(stderr streams, XLA's and absl's warnings, are left out of the stored outputs).
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import tempfile

import nbclient
import nbformat
from ipykernel.kernelspec import install


def main(argv: list[str] | None = None) -> int:
    path = pathlib.Path((argv or sys.argv[1:])[0])
    nb = nbformat.read(path, as_version=4)
    prefix = pathlib.Path(tempfile.mkdtemp())
    install(prefix=str(prefix), kernel_name="softmining-exec")
    spec_file = prefix / "share" / "jupyter" / "kernels" / "softmining-exec" / "kernel.json"
    spec = json.loads(spec_file.read_text())
    spec["argv"][0] = sys.executable  # the kernel is this interpreter: the project's environment
    spec_file.write_text(json.dumps(spec))
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    nbclient.NotebookClient(nb, timeout=900, kernel_name="softmining-exec",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.output_type == "stream" and o.name == "stderr")]
    nbformat.write(nb, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
