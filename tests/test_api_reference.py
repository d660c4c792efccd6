"""Every public method of the classes people build on has a docstring and an entry in the API reference.

"Public": a name without a leading `_`, defined on the class itself (in its body or by `@patch`). "An entry":
nbdev's index (`gan_nb/_modidx.py`) lists `gan_nb.<module>.<Class>.<method>` and the notebook's page renders
it, that is nbdev's docs processing (`add_show_docs`, the step `nbdev_docs` and `tools/build_docs.py` run) ends
up with a `show_doc(Class.method)` cell on that page: added by nbdev for a `@patch` method of an exported cell,
or written in the notebook for a method of a class body. tests/test_docs.py checks that the built pages have
the anchors.
"""
import importlib
import inspect
import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'

CLASSES = {  # module -> classes whose every public method must be in the API reference
    'options': ['BaseOptions', 'TrainOptions', 'TestOptions'],
    'base_model': ['BaseModel'],
    'pix2pix': ['Pix2PixModel'],
    'cycle_gan': ['CycleGANModel'],
    'test_models': ['TestModel', 'ColorizationModel'],
    'template': ['TemplateModel', 'TemplateDataset'],
    'data': ['BaseDataset', 'AlignedDataset', 'UnalignedDataset', 'SingleDataset', 'ColorizationDataset',
             'CustomDatasetDataLoader'],
}
PANEL_MODULES = ['extras.panel', 'extras.dashboard']  # the form and the training dashboard; every public class in them counts
PANEL_CLASSES = ['OptionsPanel', 'TrainingDashboard']  # must exist in one of PANEL_MODULES


def _panel_modules():
    mods = []
    for name in PANEL_MODULES:
        try: mods.append(importlib.import_module(f'gan_nb.{name}'))
        except ModuleNotFoundError as e:
            if e.name != f'gan_nb.{name}': raise
    return mods


def _classes():
    "`(class, why it is here)` for every class the test covers."
    out = [(getattr(importlib.import_module(f'gan_nb.{mod}'), name), f'gan_nb.{mod}')
           for mod, names in CLASSES.items() for name in names]
    importlib.import_module('gan_nb')  # registers every model and dataset: each registered class counts too
    from gan_nb.options import DATASETS, MODELS
    seen = {cls for cls, _ in out}
    out += [(cls, cls.__module__) for cls in {**MODELS, **DATASETS}.values() if cls not in seen]
    for mod in _panel_modules():
        out += [(cls, mod.__name__) for name, cls in vars(mod).items()
                if inspect.isclass(cls) and cls.__module__ == mod.__name__ and not name.startswith('_')]
    return out


def _unwrap(attr):
    "The function behind a class attribute (method, static or class method, property), or None."
    if isinstance(attr, (staticmethod, classmethod)): return attr.__func__
    if isinstance(attr, property): return attr.fget
    return attr if inspect.isfunction(attr) else None


def public_methods(cls):
    "`{name: function}` of the public methods defined on `cls` itself (class body or `@patch`)."
    return {name: f for name, attr in vars(cls).items()
            if not name.startswith('_') and (f := _unwrap(attr)) is not None}


@lru_cache(None)
def rendered():
    "`{page: {'Class.method', ...}}`: the `show_doc` cells nbdev's docs processing gives each page."
    from nbdev.config import get_config
    from nbdev.doclinks import _nbpath2html
    from nbdev.process import NBProcessor
    from nbdev.processors import FrontmatterProc, add_show_docs, populate_language
    get_config(ROOT/'nbs')  # nbdev reads settings.ini from the project
    pages = {}
    for nb in sorted(NBS.glob('*.ipynb')):
        proc = NBProcessor(nb, [FrontmatterProc, populate_language, add_show_docs])
        proc.process()
        names = set()
        for cell in proc.nb.cells:
            if cell.cell_type != 'code' or 'hide' in cell.directives_: continue
            names |= set(re.findall(r'^show_doc\(\s*([\w.]+)\s*[,)]', cell.source, re.M))
        pages[_nbpath2html(nb.relative_to(NBS)).as_posix()] = names
    return pages


def test_the_panel_classes_exist():
    "The form and the dashboard are looked up by name: a rename must update PANEL_CLASSES above."
    found = {cls.__name__ for mod in _panel_modules() for cls in vars(mod).values() if inspect.isclass(cls)}
    missing = [name for name in PANEL_CLASSES if name not in found]
    assert not missing, (f'{", ".join(missing)} not found in gan_nb.{{{",".join(PANEL_MODULES)}}}: if the panel '
                         'classes were renamed or moved, update PANEL_CLASSES/PANEL_MODULES in tests/test_api_reference.py')


def test_the_covered_classes_have_methods():
    "The check below is not vacuous: the models, options and datasets do define public methods."
    counts = {cls.__name__: len(public_methods(cls)) for cls, _ in _classes()}
    for name in ('BaseOptions', 'BaseModel', 'Pix2PixModel', 'CycleGANModel', 'OptionsPanel'):
        assert counts.get(name), f'{name}: no public methods found'
    from gan_nb.pix2pix import Pix2PixModel
    assert {'set_input', 'forward', 'backward_D', 'backward_G', 'optimize_parameters'} <= set(public_methods(Pix2PixModel))


@pytest.mark.parametrize('cls,where', _classes(), ids=lambda x: x.__name__ if inspect.isclass(x) else '')
def test_every_public_method_is_documented(cls, where):
    from gan_nb._modidx import d
    pages = rendered()
    problems = []
    for name, f in public_methods(cls).items():
        qual = f'{cls.__name__}.{name}'
        if not (f.__doc__ or '').strip(): problems.append(f'{qual}: no docstring')
        key = f'{f.__module__}.{qual}'  # a patched method is indexed under the module that patches it
        entry = d['syms'].get(f.__module__, {}).get(key)
        if entry is None:
            problems.append(f'{qual}: not in nbdev\'s index as {key} (run nbdev_export; define it in an exported cell)')
            continue
        page, _, anchor = entry[0].partition('#')
        if anchor != qual.lower(): problems.append(f'{qual}: indexed as {entry[0]}')
        if qual not in pages.get(page, set()):
            problems.append(f'{qual}: {page} has no show_doc entry for it (write it as an exported `@patch` '
                            f'method, or add a `show_doc({qual})` cell after the class)')
    assert not problems, f'{where}.{cls.__name__}:\n' + '\n'.join(problems)
