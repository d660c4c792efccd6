"""Run every chapter in `nbs/` as a test, one pytest item per notebook, so the summary line counts them."""
from pathlib import Path

import pytest
import nbdev.test as nbtest  # imported as a module so pytest does not collect nbdev's `test_nb` itself

NBS_DIR = Path(__file__).resolve().parent.parent / 'nbs'
NOTEBOOKS = sorted(p for p in NBS_DIR.rglob('*.ipynb')
                   if not p.name.startswith('_') and '.ipynb_checkpoints' not in p.parts)
SKIP_FLAGS = ['notest', 'slow']  # same as settings.ini's tst_flags


def test_there_are_notebooks():
    assert NOTEBOOKS, f'no notebooks found in {NBS_DIR}'


@pytest.mark.parametrize('notebook', NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook(notebook, capsys):
    passed, seconds = nbtest.test_nb(notebook, skip_flags=SKIP_FLAGS, showerr=True)
    assert passed, f'{notebook.name} failed (traceback above, in the captured stderr)'
