"""Core and extras: the modules that teach the reference's features (gan_nb/*.py) import nothing of the extras
(gan_nb/extras/), at top level or inside a function; no module imports itself round a cycle; the core uses no
private `torch` name and no `ctypes`."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT/'gan_nb'


def modules(pkg=PKG):
    "{dotted name: path} of every module of the package at `pkg` (the generated index left out)."
    return {'.'.join((pkg.name,) + p.relative_to(pkg).with_suffix('').parts).removesuffix('.__init__'): p
            for p in pkg.rglob('*.py') if p.name != '_modidx.py'}


def imported(name, path, known):
    "The package's modules that module `name` imports anywhere in its file, relative imports resolved."
    found, package = set(), name if path.name == '__init__.py' else name.rpartition('.')[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import): found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level: base = '.'.join(package.split('.')[:len(package.split('.')) - node.level + 1] + ([base] if base else []))
            found |= {f'{base}.{a.name}' if f'{base}.{a.name}' in known else base for a in node.names} & set(known)
    return found - {name}


def graph(pkg=PKG):
    known = modules(pkg)
    return {name: imported(name, path, known) for name, path in known.items()}


def cycles(g):
    "Each module from which an import path leads back to it."
    def reach(start):
        seen, todo = set(), list(g[start])
        while todo:
            m = todo.pop()
            if m not in seen: seen.add(m); todo += g.get(m, ())
        return seen
    return sorted(m for m in g if m in reach(m))


def core_violations(g, root='gan_nb'):
    "`core -> extra` for each import of an extra by a core module (the package's `__init__`, which attaches them, aside)."
    return sorted(f'{m} -> {n}' for m, ns in g.items() if m != root and '.extras' not in m
                  for n in ns if '.extras' in n)


PRIVATE = re.compile(r'\btorch(\.\w+)*\._\w+|\bimport ctypes\b|\bfrom ctypes\b')


def test_the_core_imports_no_extra():
    assert not core_violations(graph()), core_violations(graph())


def test_no_import_cycle():
    assert not cycles(graph()), cycles(graph())


def test_no_private_torch_name_or_ctypes_in_the_core():
    bad = [f'{p.name}: {m.group(0)}' for name, p in modules().items() if '.extras' not in name
           for m in PRIVATE.finditer(p.read_text())]
    assert not bad, bad


def test_the_checks_catch_what_they_look_for(tmp_path):
    "A small package with a cycle, a core module importing an extra inside a function, and a private torch name."
    pkg = tmp_path/'pkg'; (pkg/'extras').mkdir(parents=True)
    (pkg/'__init__.py').write_text('from .extras import speed\n')
    (pkg/'a.py').write_text('from .b import x\ndef f():\n    from pkg.extras.speed import y\n')
    (pkg/'b.py').write_text('from . import a\nimport torch\nk = torch._C\n')
    (pkg/'extras'/'__init__.py').write_text('')
    (pkg/'extras'/'speed.py').write_text('from ..a import f\n')
    g = graph(pkg)
    assert core_violations(g, 'pkg') == ['pkg.a -> pkg.extras.speed']
    assert cycles(g) == ['pkg.a', 'pkg.b', 'pkg.extras.speed']
    assert PRIVATE.search((pkg/'b.py').read_text()).group(0) == 'torch._C'
