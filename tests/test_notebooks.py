"""The notebooks in ``notebooks/`` run top to bottom on small data, and are stored without outputs.

Each notebook is executed with nbclient from a temporary copy (the committed file is never written), in a
kernel of this interpreter, with ``CUR_NLP_NOTEBOOK_N`` (posts per set, default 40 here) and scratch output
in the test's temporary folder. They need ../shared (data, base encoder) and the default model.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, SHARED

NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = ["01_quickstart.ipynb", "02_evaluate.ipynb", "03_retrain_new_labels.ipynb", "04_heatmap.ipynb"]
CELL_TIMEOUT = 300
TEST_N = "40"


def _default_model_config() -> Path:
    from cur_nlp.classifier import default_model_path

    return default_model_path() / "config.json"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_clean(name):
    """Committed notebooks are valid, have no outputs or execution counts, and read N from the environment."""
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown", "a notebook starts with its introduction"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{name}: outputs stored in cell {cell.get('id')}"
            assert cell.execution_count is None, f"{name}: execution count stored in cell {cell.get('id')}"
    sources = "\n".join(c.source for c in nb.cells)
    if name != "03_retrain_new_labels.ipynb":  # 03 loads the model it trains
        assert "from_pretrained()" in sources or "from_pretrained(locate=" in sources, "loads the default model"
    if name != "01_quickstart.ipynb":
        assert "CUR_NLP_NOTEBOOK_N" in sources


@pytest.mark.skipif(not SHARED.exists(), reason="../shared (data and base encoder) is absent: notebooks need it")
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    if not _default_model_config().exists():
        pytest.skip(f"no default model ({_default_model_config()} is missing): the notebooks load it")

    # a kernel spec of this interpreter in a private folder: nothing registered globally
    spec = tmp_path / "jupyter" / "kernels" / "cur-nlp-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "cur_nlp test", "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("CUR_NLP_NOTEBOOK_N", os.environ.get("CUR_NLP_NOTEBOOK_N", TEST_N))
    monkeypatch.setenv("CUR_NLP_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # the kernel runs in the temporary folder: make sure it imports this checkout's packages
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))

    copy = tmp_path / name
    copy.write_bytes((NOTEBOOK_DIR / name).read_bytes())
    nb = nbformat.read(copy, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="cur-nlp-test",
                                     resources={"metadata": {"path": str(tmp_path)}})
    started = time.time()
    try:
        client.execute()
    finally:
        nbformat.write(nb, copy)  # the executed copy, for a look when something is off
    elapsed = time.time() - started

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    kinds = {key for o in outputs for key in o.get("data", {})}
    assert "text/html" in kinds, "tables/maps are rendered as HTML"
    if name in ("02_evaluate.ipynb", "04_heatmap.ipynb"):
        assert "image/png" in kinds, "plots are shown"
    print(f"{name}: {elapsed:.0f} s")
