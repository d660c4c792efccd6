"""The training panel in a real browser: JupyterLab + headless Chromium driven by Playwright.

Opens `tests/browser/panel_demo.ipynb`, runs it, switches the model to cycle_gan (its `lambda_A` appears),
back to pix2pix, types a name, presses Train (the loss plot and the image grid appear and update), presses
Stop (training stops, a checkpoint exists), and fails on "Error displaying widget". Screenshots go to
`$GAN_NB_ARTIFACTS` (default `tests/artifacts/browser`). Skipped, with the reason, when Chromium, Playwright
or JupyterLab is missing. Needs: apt `chromium`; pip `playwright jupyterlab` (never `playwright install`).
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE/'browser'))
from lab_server import jupyter_lab  # noqa: E402  (shared with tools/dashboard_picture.py)
CHROMIUM = Path('/usr/bin/chromium')


def _missing():
    if not CHROMIUM.exists(): return 'Chromium is not installed (apt-get install -y chromium)'
    for module, package in (('playwright', 'playwright'), ('jupyterlab', 'jupyterlab'), ('ipywidgets', 'ipywidgets')):
        if importlib.util.find_spec(module) is None: return f'{package} is not installed (pip install {package})'
    return None


@pytest.mark.skipif(_missing() is not None, reason=_missing() or '')
def test_training_panel_in_jupyterlab(tmp_path):
    artifacts = Path(os.environ.get('GAN_NB_ARTIFACTS', HERE/'artifacts')) / 'browser'
    shutil.rmtree(artifacts, ignore_errors=True); artifacts.mkdir(parents=True)
    root = tmp_path/'lab'; root.mkdir()
    shutil.copy(HERE/'browser'/'panel_demo.ipynb', root/'panel_demo.ipynb')  # JupyterLab saves into its copy
    checkpoints = tmp_path/'checkpoints'
    env = dict(os.environ, GAN_NB_DEMO_CHECKPOINTS=str(checkpoints), JUPYTER_CONFIG_DIR=str(tmp_path/'jupyter_config'),
               JUPYTER_RUNTIME_DIR=str(tmp_path/'jupyter_runtime'), MPLBACKEND='Agg')
    log = tmp_path/'jupyter.log'
    t0 = time.time()
    try:
        with jupyter_lab(root, env, log) as (base, token):
            url = f'{base}/lab/tree/panel_demo.ipynb?token={token}'
            run = subprocess.run([sys.executable, str(HERE/'browser'/'drive_panel.py'), url, str(artifacts)],
                                 capture_output=True, text=True, timeout=480, env=env)
    finally:
        if log.exists(): shutil.copy(log, artifacts/'jupyter.log')
    lines = [l for l in run.stdout.splitlines() if l.startswith('{')]
    seen = json.loads(lines[-1]) if lines else {}
    (artifacts/'result.json').write_text(json.dumps(dict(seen, seconds=round(time.time() - t0, 1)), indent=1))
    assert run.returncode == 0 and seen.get('ok'), \
        f"browser check failed at step {seen.get('step')!r}: {seen.get('error')}\n{run.stderr[-3000:]}\nscreenshots: {artifacts}"
    assert '--model' not in seen['cycle_gan_command']  # cycle_gan is the default: not written
    assert '--name browser_run' in seen['command'] and '--model pix2pix' in seen['command']
    assert 'stopped' in seen['status']
    run_dir = checkpoints/'browser_run'
    assert (run_dir/'latest_net_G.pth').exists() and (run_dir/'latest_net_D.pth').exists(), sorted(run_dir.glob('*'))
    assert (run_dir/'latest_train_state.pth').exists()
    assert (run_dir/'train_opt.txt').exists()
    assert sorted(p.name for p in artifacts.glob('*.png')) == ['1_panel.png', '2_cycle_gan_fields.png',
                                                               '3_training.png', '4_stopped.png']
