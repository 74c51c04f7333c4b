"""Re-execute stage notebooks in place, in order, against a throw-away warehouse (``make notebooks``).

The committed outputs are what nbval compares against, so they must come from the committed
sample and the notebooks' default parameters, exactly as nbval runs them.

    python -m duckbook.run.refresh notebooks/10_ingest.ipynb notebooks/20_staging.ipynb ...
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from duckbook.testing import isolate_environment


def refresh(paths: list[Path]) -> None:
    """Execute each notebook top to bottom with its defaults and write its outputs back."""
    with tempfile.TemporaryDirectory(prefix="duckbook-refresh-") as tmp:
        isolate_environment(Path(tmp))
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            NotebookClient(
                nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(path.parent)}}
            ).execute()
            nbformat.write(nb, path)
            print(f"refreshed {path}")


if __name__ == "__main__":
    refresh([Path(p) for p in sys.argv[1:]])
