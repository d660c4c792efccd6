"""The package keeps the shape issue 14 gave it: short functions, short notebook cells, no unused imports.

A function over 40 lines or a cell over 60 usually holds more than one idea; split it (the chapters show how:
small helpers, `@patch` methods in cells of their own, a sentence of why between them).
"""
import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p for p in (ROOT/'gan_nb').rglob('*.py') if p.name != '_modidx.py')
NOTEBOOKS = sorted((ROOT/'nbs').glob('*.ipynb'))
MAX_FUNCTION_LINES, MAX_CELL_LINES = 40, 60


def long_functions(path, limit=MAX_FUNCTION_LINES):
    "`name (n lines)` of each function or method in `path` longer than `limit` lines, decorators excluded."
    tree = ast.parse(path.read_text(encoding='utf-8'))
    return [f'{node.name} ({n} lines, line {node.lineno})' for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and (n := node.end_lineno - node.lineno + 1) > limit]


def long_cells(path, limit=MAX_CELL_LINES):
    "`cell <index> (<n> lines): <first line>` of each code cell in the notebook `path` longer than `limit` lines."
    cells = json.loads(path.read_text(encoding='utf-8'))['cells']
    out = []
    for i, cell in enumerate(cells):
        src = ''.join(cell['source'])
        if cell['cell_type'] == 'code' and (n := len(src.splitlines())) > limit:
            out.append(f'cell {i} ({n} lines): {src.splitlines()[0]}')
    return out


def test_the_checks_see_every_exported_module():
    "Every module nbdev exports (its index, `_modidx.py`) is checked here, sub-packages included."
    from gan_nb._modidx import d
    exported = {ROOT/'gan_nb'/Path(*name.split('.')[1:]).with_suffix('.py') for name in d['syms'] if name != 'gan_nb'}
    assert exported and exported <= set(MODULES), f'not checked: {sorted(str(p) for p in exported - set(MODULES))}'


def test_the_limits_catch_long_code(tmp_path):
    body = '\n'.join(f'    x{i} = {i}' for i in range(40))
    (tmp_path/'m.py').write_text(f'def short():\n    return 1\n\ndef long():\n{body}\n')
    assert long_functions(tmp_path/'m.py') == ['long (41 lines, line 4)']
    nb = {'cells': [{'cell_type': 'code', 'source': ['x = 1\n'] * 61}, {'cell_type': 'markdown', 'source': ['m\n'] * 99}]}
    (tmp_path/'n.ipynb').write_text(json.dumps(nb))
    assert long_cells(tmp_path/'n.ipynb') == ['cell 0 (61 lines): x = 1']


@pytest.mark.parametrize('path', MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_function_over_40_lines(path):
    found = long_functions(path)
    assert not found, (f'{path.name}: functions over {MAX_FUNCTION_LINES} lines: {", ".join(found)}; split them '
                       f'in the notebook that exports {path.name} and run nbdev_export')


@pytest.mark.parametrize('path', NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_cell_over_60_lines(path):
    found = long_cells(path)
    assert not found, (f'{path.name}: code cells over {MAX_CELL_LINES} lines: {"; ".join(found)}; split them into '
                       'shorter cells')


def unused_imports(path):
    "pyflakes' `line: message` for each unused import in `path`."
    from pyflakes import checker, messages
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    found = checker.Checker(tree, filename=str(path)).messages
    return [f'{m.lineno}: {m.message % m.message_args}' for m in found if isinstance(m, messages.UnusedImport)]


@pytest.mark.parametrize('path', [p for p in MODULES if p.name != '__init__.py'], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_unused_import(path):
    "`__init__.py` is left out: its imports are the package's re-exports."
    pytest.importorskip('pyflakes', reason='pyflakes (in the dev extra) checks for unused imports')
    found = unused_imports(path)
    assert not found, (f'{path.name}: unused imports: {"; ".join(found)}; remove them from the notebook that '
                       f'exports {path.name} (move one that only a test cell needs into that cell)')
