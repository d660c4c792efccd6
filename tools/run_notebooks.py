"""Execute notebooks in place so their outputs (figures, tables, widget state) show on the website.

Cells that nbdev's test run skips (`#| slow`, `#| notest`, `#| eval: false`) are skipped here too and keep
whatever output they had. Run from the repository root, then `nbdev_clean`:

    python tools/run_notebooks.py                 # every notebook in nbs/
    python tools/run_notebooks.py nbs/05_pix2pix.ipynb
"""
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SKIP = re.compile(r'^\s*#\|\s*(slow|notest|eval:\s*false)\b', re.M)


class SkippingClient(NotebookClient):
    "Runs a notebook like nbdev_test does: cells marked slow, notest or eval: false are left as they are."
    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type == 'code' and SKIP.search(cell.source): return cell
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)


def run(path: Path, timeout=900):
    nb = nbformat.read(path, as_version=4)
    SkippingClient(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}},
                   store_widget_state=True).execute()
    nbformat.write(nb, path)


if __name__ == '__main__':
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    paths = [Path(p) for p in sys.argv[1:]] or sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith('_'))
    for path in paths:
        start = time.time()
        run(path)
        print(f'{path.name}: {time.time() - start:.1f} s')
