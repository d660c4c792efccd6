"""Run every chapter in `nbs/` as a test, one pytest item per notebook, so the summary line counts them; and check that saved options tables are current."""
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


def saved_options_tables(notebook):
    "The complete options tables (`print_options`' header to its footer) among a notebook's saved outputs."
    import json
    for cell in json.loads(notebook.read_text())['cells']:
        text = ''.join(''.join(o.get('text', '')) for o in cell.get('outputs', []) if o.get('output_type') == 'stream')
        start, end = text.find('----------------- Options'), text.find('----------------- End')
        if start >= 0 and end > start: yield cell.get('id'), text[start:end]


def test_saved_options_tables_list_every_option():
    "A saved options table lists every option of the phase's parser: a flag added since would otherwise be missing from it."
    from gan_nb.options import OptionParser, TestOptions, TrainOptions
    stale = []
    for notebook in NOTEBOOKS:
        for cell_id, table in saved_options_tables(notebook):
            phase = TrainOptions if 'isTrain: True' in table else TestOptions
            shown = {line.split(':')[0].strip() for line in table.splitlines()[1:]}
            missing = {a.dest for a in phase().initialize(OptionParser())._actions if a.dest != 'help'} - shown
            if missing: stale.append(f'{notebook.name} cell {cell_id}: {", ".join(sorted(missing))}')
    assert not stale, 'saved outputs printed before these options existed (refresh them with tools/refresh_cells.py):\n' + '\n'.join(stale)
