"""Every chapter runs alone, as Colab opens it: copied alone into an empty folder and run in a fresh environment.

The environment is built once per test run (the first test to need it builds it under a file lock; xdist's
workers share the folder that conftest.py names in GAN_NB_FRESH_ENV): a new virtual environment with only
gan_nb's runtime requirements, installed from a wheel of this repository (no dev extra). gan_nb itself is then
uninstalled, because each chapter's install cell installs it. Each notebook gets a thin environment of its
own on top (a `.pth` file makes the shared one's packages visible), so what one chapter's install cell
installs (fastcore, an extra) is not seen by another, and parallel installs never touch the same folder.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock  # a dependency of torch

ROOT = Path(__file__).resolve().parent.parent
NBS_DIR = ROOT/'nbs'
NOTEBOOKS = sorted(p for p in NBS_DIR.glob('*.ipynb') if not p.name.startswith('_'))
RUNNER = Path(__file__).resolve().parent/'run_alone.py'
PACKAGE_FILES = ['setup.py', 'settings.ini', 'README.md', 'MANIFEST.in', 'LICENSE']  # what setup.py builds from


def _run(cmd, what, **kwargs):
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    if result.returncode: pytest.fail(f'{what} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}')
    return result.stdout


def _purelib(python):
    return Path(_run([python, '-c', "import sysconfig; print(sysconfig.get_paths()['purelib'])"], 'sysconfig').strip())


def _wheel(folder: Path, python) -> Path:
    "A wheel of this repository's package, built from a clean copy (never in the working tree, which others share)."
    src = folder/'src'
    shutil.copytree(ROOT/'gan_nb', src/'gan_nb', ignore=shutil.ignore_patterns('__pycache__'))
    for name in PACKAGE_FILES:
        if (ROOT/name).exists(): shutil.copy2(ROOT/name, src/name)
    _run([python, '-m', 'pip', 'wheel', '-q', '--no-deps', '-w', folder/'wheel', src], 'pip wheel (this repository)')
    wheel, = (folder/'wheel').glob('gan_nb-*.whl')
    return wheel


def _build(root: Path):
    "The shared environment: runtime requirements only (gan_nb installed from a wheel, then removed again)."
    _run([sys.executable, '-m', 'venv', root/'base'], 'python -m venv')
    python = root/'base'/'bin'/'python'
    _run([python, '-m', 'pip', 'install', '-q', _wheel(root/'first', python)], 'pip install (runtime requirements)')
    _run([python, '-m', 'pip', 'uninstall', '-y', '-q', 'gan_nb'], 'pip uninstall gan_nb')
    return dict(python=str(python), purelib=str(_purelib(python)))


def _this_run(tmp_path_factory) -> Path:
    "A folder of this test run, the same for all of xdist's workers."
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get('PYTEST_XDIST_WORKER') else base


@pytest.fixture(scope='session')
def fresh_env(tmp_path_factory):
    "The shared environment (kept across runs only when GAN_NB_FRESH_ENV names a folder) and this run's wheel."
    run_dir = _this_run(tmp_path_factory)
    root = Path(os.environ.get('GAN_NB_FRESH_ENV') or run_dir/'fresh_env')
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root/'build.lock')):
        ready = root/'ready.json'
        if not ready.exists(): ready.write_text(json.dumps(_build(root)))
        env = json.loads(ready.read_text())
    with FileLock(str(run_dir/'gan_nb_wheel.lock')):
        wheels = list((run_dir/'gan_nb_wheel'/'wheel').glob('gan_nb-*.whl'))
        env['wheel'] = str(wheels[0] if wheels else _wheel(run_dir/'gan_nb_wheel', env['python']))
    return env


def notebook_env(fresh_env, folder: Path):
    "A thin environment of the notebook's own over the shared one, with a `pip` that installs into it."
    _run([fresh_env['python'], '-m', 'venv', '--without-pip', folder], 'python -m venv --without-pip')
    python = folder/'bin'/'python'
    (_purelib(python)/'shared_fresh_env.pth').write_text(fresh_env['purelib'] + '\n')
    pip = folder/'bin'/'pip'
    pip.write_text(f'#!/bin/sh\nexec "{python}" -m pip "$@"\n')
    pip.chmod(0o755)
    dev_bin = str(Path(sys.executable).parent)  # the test run's own environment must not leak in
    path = os.pathsep.join([str(folder/'bin')] + [p for p in os.environ.get('PATH', '').split(os.pathsep) if p != dev_bin])
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV', 'PYTHONHOME')}
    env.update(PATH=path, VIRTUAL_ENV=str(folder), MPLBACKEND='Agg')
    return python, env


def test_there_are_notebooks():
    assert NOTEBOOKS, f'no notebooks found in {NBS_DIR}'


@pytest.mark.parametrize('notebook', NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_alone(notebook, fresh_env, tmp_path):
    alone = tmp_path/'alone'
    alone.mkdir()
    shutil.copy2(notebook, alone/notebook.name)
    shutil.copy2(RUNNER, tmp_path/RUNNER.name)  # beside, not inside, the notebook's folder
    python, env = notebook_env(fresh_env, tmp_path/'env')
    result = subprocess.run([str(python), str(tmp_path/RUNNER.name), str(alone/notebook.name), fresh_env['wheel']],
                            cwd=alone, env=env, capture_output=True, text=True)
    verdict = [line for line in result.stdout.splitlines() if line.startswith(f'{notebook.name}: cell ')]
    assert result.returncode == 0, '\n'.join(verdict + ['', result.stdout[-5000:], result.stderr[-3000:]])
