"""Execute a notebook in a scratch copy and copy back the outputs of the named cells only.

Every other cell keeps the output it had, so changing or adding a few cells does not rewrite (and conflict
with) the rest of a chapter's saved outputs. Cells are named by their id (`"id"` in the notebook's JSON).
Run from the repository root, then `nbdev_clean`:

    python tools/refresh_cells.py nbs/05_pix2pix.ipynb 3f1a9c20 7b2e4d11
"""
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_notebooks import run  # noqa: E402  (tools/ is not a package)


def refresh(path: Path, cell_ids: list[str]):
    "Run a copy of `path` (slow, notest and eval: false cells skipped) and copy the named cells' outputs back."
    nb = nbformat.read(path, as_version=4)
    known = {c.get('id') for c in nb.cells}
    if unknown := [i for i in cell_ids if i not in known]: sys.exit(f'{path.name} has no cell with id {", ".join(unknown)}')
    with tempfile.TemporaryDirectory() as d:
        copy = Path(d)/path.name
        shutil.copy2(path, copy)
        run(copy)
        ran = {c.get('id'): c for c in nbformat.read(copy, as_version=4).cells}
    for cell in nb.cells:
        if cell.get('id') in cell_ids: cell.outputs = ran[cell.id].outputs
    nbformat.write(nb, path)


if __name__ == '__main__':
    if len(sys.argv) < 3: sys.exit(__doc__)
    start = time.time()
    refresh(Path(sys.argv[1]), sys.argv[2:])
    print(f'{sys.argv[1]}: outputs of {len(sys.argv) - 2} cell(s) refreshed in {time.time() - start:.0f} s')
