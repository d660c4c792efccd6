"""Give every notebook in nbs/ an "Open in Colab" badge and a hidden install cell (idempotent).

Run from the repository root after adding a chapter: `python tools/colab_cells.py`. The badge image is a
local file, so the documentation site loads nothing from outside.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
REPO_URL = 'https://colab.research.google.com/github/gan-nb/gan_nb/blob/main/nbs/'
INSTALL = '#| hide\n# In Colab (and only there) install gan_nb first; elsewhere this does nothing.\n! [ -e /content ] && pip install -Uqq git+https://github.com/gan-nb/gan_nb'
BADGE_MARK = 'colab.research.google.com/github/gan-nb/gan_nb'


def badge(notebook: Path) -> str:
    return f'[![Open in Colab](images/colab-badge.svg)]({REPO_URL}{notebook.name})'


def source(cell): return ''.join(cell['source'])


def make(cell_type, text):
    cell = {'cell_type': cell_type, 'metadata': {}, 'source': text.splitlines(True)}
    if cell_type == 'code': cell.update(execution_count=None, outputs=[])
    return cell


def notebooks():
    return sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith('_'))


def missing(notebook: Path):
    "What the notebook lacks: 'badge', 'install' or both."
    cells = json.loads(notebook.read_text(encoding='utf-8'))['cells']
    text = [source(c) for c in cells]
    return ([] if any(BADGE_MARK in t for t in text) else ['badge']) + \
           ([] if any('pip install -Uqq git+https://github.com/gan-nb/gan_nb' in t for t in text) else ['install'])


def add_cells(notebook: Path):
    nb = json.loads(notebook.read_text(encoding='utf-8'))
    lacks = missing(notebook)
    if not lacks: return False
    title = next(i for i, c in enumerate(nb['cells']) if c['cell_type'] == 'markdown')  # '# Title' + '> summary'
    new = ([make('markdown', badge(notebook))] if 'badge' in lacks else []) + \
          ([make('code', INSTALL)] if 'install' in lacks else [])
    nb['cells'][title + 1:title + 1] = new
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    return True


if __name__ == '__main__':
    changed = [p.name for p in notebooks() if add_cells(p)]
    print('added Colab cells to:', ', '.join(changed) if changed else 'nothing (all notebooks have them)')
    sys.exit(0)
