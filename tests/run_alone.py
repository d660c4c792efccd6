"""Run one notebook as a reader who opened it alone would: `python run_alone.py NOTEBOOK WHEEL`.

Executed by the fresh environment's python (tests/test_run_alone.py), so it uses only the standard library
and IPython (which ipywidgets brings). Cells run in IPython's InteractiveShell, so `!` and `%` lines work.
Cells marked `#| slow`, `#| notest` or `#| eval: false` are skipped, as nbdev_test skips them. The install
cell runs as in Colab (its `/content` check taken as true), installing the given wheel of this repository in
place of the GitHub URL. Exits 1 at the first failing cell, naming the notebook, the cell and the error.
"""
import json
import os
import re
import sys
from pathlib import Path

from IPython.core.interactiveshell import InteractiveShell

SKIP = re.compile(r'^\s*#\|\s*(slow|notest|eval:\s*false)\b', re.M)
REPO_URL = 'git+https://github.com/gan-nb/gan_nb'
COLAB_CHECK = '[ -e /content ] && '


def as_in_colab(source: str, wheel: Path) -> str:
    "The install cell as Colab runs it, with this repository's wheel in place of the GitHub URL."
    return source.replace(COLAB_CHECK, '').replace(REPO_URL, wheel.resolve().as_uri())


def first_line(source: str) -> str:
    return next((line for line in source.splitlines() if line.strip() and not line.startswith('#')), '')[:100]


def run(notebook: Path, wheel: Path) -> int:
    os.environ.setdefault('MPLBACKEND', 'Agg')
    shell = InteractiveShell.instance(colors='nocolor')  # plain tracebacks in the test report
    cells = json.loads(notebook.read_text(encoding='utf-8'))['cells']
    for number, cell in enumerate(cells):
        source = ''.join(cell['source'])
        if cell['cell_type'] != 'code' or SKIP.search(source): continue
        is_install = REPO_URL in source
        if is_install: source = as_in_colab(source, wheel)
        result = shell.run_cell(source, store_history=True)
        error = result.error_before_exec or result.error_in_exec
        if error is None and is_install and shell.user_ns.get('_exit_code', 0) != 0:
            error = RuntimeError(f"the install cell's pip exited with status {shell.user_ns['_exit_code']}")
        if error is not None:
            message = ' '.join(str(error).split())[:300]  # one line, short: an assertion may print whole tensors
            print(f'\n{notebook.name}: cell {number} ({first_line(source)!r}) failed: {type(error).__name__}: {message}')
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(run(Path(sys.argv[1]), Path(sys.argv[2])))
