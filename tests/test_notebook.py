"""The extension notebook runs top to bottom and learns (executed with the project's kernel)."""

from __future__ import annotations

import json
import pathlib
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = (pathlib.Path(__file__).resolve().parents[1] / "experiments" / "notebooks"
            / "extend_a_field.ipynb")


def test_the_notebook_is_stored_executed():
    """A reader sees the outputs without running it (experiments/notebooks: re-execute and store
    with ``python experiments/notebooks/execute.py``)."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    ran = [c for c in code if c.outputs]
    assert len(ran) >= len(code) - 2  # all but the imports and the field's definition
    assert "results" in ran[-1].metadata.get("tags", [])
    assert sum(o.output_type == "display_data" for c in code for o in c.outputs) >= 2


def test_extension_notebook_executes_and_learns(tmp_path, monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # The kernel is this interpreter: the project's own environment.
    from ipykernel.kernelspec import install

    prefix = tmp_path / "kernel"
    install(prefix=str(prefix), kernel_name="softmining-test")
    spec_file = prefix / "share" / "jupyter" / "kernels" / "softmining-test" / "kernel.json"
    spec = json.loads(spec_file.read_text())
    spec["argv"][0] = sys.executable
    spec_file.write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="softmining-test",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    cell = next(c for c in nb.cells if "results" in c.metadata.get("tags", []))
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    results = json.loads(text.strip().splitlines()[-1])
    assert set(results) == {"uniform", "soft mining", "error map", "stratified",
                            "direct_soft_mining", "jittered_soft_mining"}
    for name, psnr in results.items():
        assert psnr > 20.0, (name, psnr)  # an untrained field is around 10 dB here
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the PSNR curves and the picture panel rendered inline
