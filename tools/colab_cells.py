"""Give every notebook in nbs/ an "Open in Colab" badge and a hidden install cell (idempotent).

Run from the repository root after adding a chapter or changing a chapter's imports: `python tools/colab_cells.py`.
The badge image is a local file, so the documentation site loads nothing from outside.

The install cell is the one place a chapter opened alone gets its packages from, so it installs all that
the chapter imports: gan_nb (with the extras of the optional modules the chapter uses or exports, see
`EXTRA_OF_MODULE`) and fastcore where the chapter imports it. `install_cell` writes it; tests/test_sync.py
checks every notebook has it as written, and tests/test_run_alone.py runs each chapter alone with it.
"""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
REPO_URL = 'https://colab.research.google.com/github/gan-nb/gan_nb/blob/main/nbs/'
INSTALL_URL = 'git+https://github.com/gan-nb/gan_nb'
INSTALL_COMMENT = '# In Colab (and only there) install gan_nb and what this chapter imports; elsewhere this does nothing.'
EXTRA_OF_MODULE = {'extras.metrics': 'metrics', 'extras.export': 'export', 'extras.tiff': 'tiff'}  # gan_nb module -> the settings.ini extra it needs
BADGE_MARK = 'colab.research.google.com/github/gan-nb/gan_nb'


def badge(notebook: Path) -> str:
    return f'[![Open in Colab](images/colab-badge.svg)]({REPO_URL}{notebook.name})'


def source(cell): return ''.join(cell['source'])


def make(cell_type, text):
    cell = {'cell_type': cell_type, 'metadata': {}, 'source': text.splitlines(True)}
    if cell_type == 'code': cell.update(execution_count=None, outputs=[])
    return cell


def code(notebook: Path):
    return [source(c) for c in json.loads(notebook.read_text(encoding='utf-8'))['cells'] if c['cell_type'] == 'code']


def imported_modules(notebook: Path):
    "Top-level names after `import` / `from` in the notebook, plus `gan_nb.<module>` for gan_nb's modules."
    found = set()
    for text in code(notebook):
        for name in re.findall(r'^\s*(?:from|import)\s+([\w.]+)', text, re.M):
            found.add(name.split('.')[0])
            if name.startswith('gan_nb.'): found.update({'gan_nb.' + name.split('.')[1], name})
        found.update('gan_nb.' + m for m in re.findall(r'^#\|\s*default_exp\s+([\w.]+)', text, re.M))
    return found


def install_cell(notebook: Path) -> str:
    "The hidden install cell this notebook should have: gan_nb, its extras and fastcore as the chapter needs them."
    modules = imported_modules(notebook)
    extras = sorted({extra for module, extra in EXTRA_OF_MODULE.items() if f'gan_nb.{module}' in modules})
    package = f'"gan_nb[{",".join(extras)}] @ {INSTALL_URL}"' if extras else INSTALL_URL
    also = ' fastcore' if 'fastcore' in modules else ''
    return f'#| hide\n{INSTALL_COMMENT}\n! [ -e /content ] && pip install -Uqq {package}{also}'


def is_install(text: str): return INSTALL_URL in text and '/content' in text


def notebooks():
    return sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith('_'))


def missing(notebook: Path):
    "What the notebook lacks: 'badge', 'install' or both."
    cells = json.loads(notebook.read_text(encoding='utf-8'))['cells']
    text = [source(c) for c in cells]
    return ([] if any(BADGE_MARK in t for t in text) else ['badge']) + \
           ([] if install_cell(notebook) in code(notebook) else ['install'])


def add_cells(notebook: Path):
    nb = json.loads(notebook.read_text(encoding='utf-8'))
    lacks = missing(notebook)
    if not lacks: return False
    wanted = install_cell(notebook)
    old = [c for c in nb['cells'] if c['cell_type'] == 'code' and is_install(source(c))]
    for cell in old: cell['source'] = wanted.splitlines(True)  # an outdated install cell is rewritten in place
    title = next(i for i, c in enumerate(nb['cells']) if c['cell_type'] == 'markdown')  # '# Title' + '> summary'
    new = ([make('markdown', badge(notebook))] if 'badge' in lacks else []) + \
          ([make('code', wanted)] if 'install' in lacks and not old else [])
    nb['cells'][title + 1:title + 1] = new
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    return True


if __name__ == '__main__':
    changed = [p.name for p in notebooks() if add_cells(p)]
    print('added Colab cells to:', ', '.join(changed) if changed else 'nothing (all notebooks have them)')
    sys.exit(0)
