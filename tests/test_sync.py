"""The notebooks are the source: the package, the notebooks' cleanliness and the README must follow them."""
import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
import build_docs  # noqa: E402
import build_readme  # noqa: E402  (tools/ is not a package)


def run(cmd, cwd):
    bin_dir = Path(sys.executable).parent
    result = subprocess.run([str(bin_dir/cmd)], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f'{cmd} failed:\n{result.stdout}\n{result.stderr}'


def changed_files(before: Path, after: Path):
    "Relative paths that differ, appear or disappear between two folders."
    diff, pending = [], [filecmp.dircmp(before, after, ignore=['__pycache__', '.ipynb_checkpoints'])]
    while pending:
        d = pending.pop()
        rel = Path(d.left).relative_to(before)
        diff += [str(rel/n) for n in d.diff_files + d.left_only + d.right_only]
        pending += d.subdirs.values()
    return sorted(diff)


def test_clean_and_export_change_nothing(tmp_path):
    "What nbdev's own CI checks: after nbdev_clean and nbdev_export, nothing differs."
    copy = tmp_path/'repo'
    for name in ['nbs', 'gan_nb']: shutil.copytree(ROOT/name, copy/name, symlinks=True)
    for name in ['settings.ini', 'setup.py', 'README.md', '_quarto.yml']: shutil.copy2(ROOT/name, copy/name)
    run('nbdev_clean', copy)
    run('nbdev_export', copy)
    for name in ['nbs', 'gan_nb']:
        test_changes = changed_files(ROOT/name, copy/name)
        assert not test_changes, f'run nbdev_clean and nbdev_export, then commit: {name}/ changed: {test_changes}'


def test_readme_is_built_from_index():
    expected = build_readme.render(ROOT/'nbs'/'index.ipynb')
    assert (ROOT/'README.md').read_text(encoding='utf-8') == expected, 'README.md is stale: run python tools/build_readme.py'


def test_ci_runs_the_readme_test_command():
    ci_command = (ROOT/'.ci'/'run').read_text().strip().splitlines()[-1]
    assert ci_command in (ROOT/'README.md').read_text(), '.ci/run must run exactly the README test command'


def test_every_notebook_opens_in_colab():
    import colab_cells
    lacking = {p.name: colab_cells.missing(p) for p in colab_cells.notebooks() if colab_cells.missing(p)}
    assert not lacking, f'run python tools/colab_cells.py: {lacking}'


def sidebar_paths(contents):
    "Every page a sidebar.yml `contents:` list names, sections walked into, in order."
    for entry in contents or []:
        if isinstance(entry, dict) and 'section' in entry:
            if entry.get('href'): yield entry['href']
            yield from sidebar_paths(entry.get('contents'))
        else: yield entry.get('href') if isinstance(entry, dict) else entry


def test_sidebar_lists_every_notebook_once():
    "nbs/sidebar.yml groups the chapters for Quarto and tools/build_docs.py: a new notebook must be placed in it."
    import yaml
    from configparser import ConfigParser
    settings = ConfigParser()
    settings.read(ROOT/'settings.ini')
    assert settings['DEFAULT'].getboolean('custom_sidebar'), 'custom_sidebar = True, or nbdev_docs rewrites nbs/sidebar.yml'
    nbs = ROOT/'nbs'
    sidebar = yaml.safe_load((nbs/'sidebar.yml').read_text(encoding='utf-8'))
    listed = list(sidebar_paths(sidebar['website']['sidebar']['contents']))
    notebooks = [nb.relative_to(nbs).as_posix() for nb in build_docs.find_notebooks(nbs)]
    twice = sorted({p for p in listed if listed.count(p) > 1})
    assert not twice, f'nbs/sidebar.yml lists these more than once: {twice}'
    assert not set(notebooks) - set(listed), f'add to nbs/sidebar.yml: {sorted(set(notebooks) - set(listed))}'
    assert not set(listed) - set(notebooks), f'nbs/sidebar.yml lists what is not in nbs/: {sorted(set(listed) - set(notebooks))}'
    assert listed[0] == 'index.ipynb', 'the start page comes first'
