"""Make `nbs/images/dashboard.png`, the README's picture of the training panel, from a real training run.

Starts JupyterLab in a scratch folder, opens a notebook whose `TrainingPanel` holds the README's recipe (pix2pix,
unet_128, 32 filters, 15 epochs of the built-in facades, seed 0) with `--checkpoints_dir ./checkpoints` (relative:
the form shows it so), presses Train, waits for the end of training, and screenshots the panel in headless
Chromium: the options, the loss curves (L1 on its own axis) and the trained real_A | fake_B | real_B.
Needs what `tests/test_browser.py` needs (apt `chromium`; pip `playwright jupyterlab`, never `playwright install`).
Takes a few minutes on two CPU cores; run it under nice:

    nice -n 19 python tools/dashboard_picture.py [OUT.png]    # default: nbs/images/dashboard.png
"""
import io
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from PIL import Image
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tests'/'browser'))
from drive_panel import CHROMIUM, FLAGS, check_no_widget_errors, wait_for_image  # noqa: E402
from lab_server import jupyter_lab  # noqa: E402

RECIPE = dict(dataroot='builtin:facades', name='facades_pix2pix', model='pix2pix', direction='BtoA', netG='unet_128',
              ngf=32, ndf=32, load_size=143, crop_size=128, n_epochs=10, n_epochs_decay=5, seed=0,
              checkpoints_dir='./checkpoints', num_threads=0, display_freq=64, print_freq=16)
MAX_BYTES = 200_000
TRAIN_TIMEOUT_S = 120 * 60  # a busy shared machine can be 20 times slower than a quiet one
FAILURE = Path(tempfile.gettempdir())/'dashboard_picture_failure.png'


def panel_notebook(path):
    "Write the notebook that shows the panel with the recipe (the kernel starts in its folder: ./checkpoints is there)."
    args = ', '.join(f'{k}={v!r}' for k, v in RECIPE.items())
    code = f'from gan_nb.extras.dashboard import TrainingPanel\npanel = TrainingPanel({args})\npanel'
    kernel = {'name': 'python3', 'display_name': 'Python 3 (ipykernel)', 'language': 'python'}  # else Lab asks
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)], metadata={'kernelspec': kernel}), path)


def train_and_shoot(page, url):
    "Open the notebook, run it, press Train, wait for the end of training; return the panel's screenshot (PNG bytes)."
    page.goto(url)
    page.locator('.jp-Notebook').first.wait_for()
    expect(page.locator('#jp-main-statusbar')).to_contain_text(re.compile(r'Idle'), timeout=90_000)
    expect(page.locator('#jp-main-statusbar')).not_to_contain_text('No Kernel')
    page.locator('.lm-MenuBar-itemLabel', has_text=re.compile(r'^Run$')).click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    panel = page.locator('.gan-nb-training-panel')
    panel.wait_for(state='visible', timeout=120_000)
    check_no_widget_errors(page, grace=2)
    t0 = time.time()
    page.locator('button.gan-nb-train').click()
    status = page.locator('.gan-nb-train-status')
    expect(status).to_contain_text(re.compile('finished|stopped|failed'), timeout=TRAIN_TIMEOUT_S * 1000)
    print(f'training took {time.time() - t0:.0f}s: {status.inner_text()}')
    if 'finished' not in status.inner_text(): raise RuntimeError(f'training did not finish: {status.inner_text()}')
    expect(page.locator('button.gan-nb-train')).to_be_enabled(timeout=30_000)
    for cls in ('.gan-nb-loss-plot', '.gan-nb-visuals'): wait_for_image(page, cls, timeout=60_000)
    time.sleep(1)  # let the last pictures paint
    check_no_widget_errors(page, grace=0)
    return panel.screenshot()


def small_png(png: bytes, limit=MAX_BYTES) -> bytes:
    "The screenshot as a palette PNG (a screenshot has few colours) if the full-colour one is over `limit` bytes."
    img = Image.open(io.BytesIO(png)).convert('RGB')
    for colors in (None, 256, 128, 64):
        buf = io.BytesIO()
        (img if colors is None else img.quantize(colors, dither=Image.Dither.NONE)).save(buf, 'PNG', optimize=True)
        if buf.tell() <= limit: return buf.getvalue()
    raise ValueError(f'the picture stays over {limit} bytes ({buf.tell()})')


def main(out=ROOT/'nbs'/'images'/'dashboard.png'):
    scratch = Path(tempfile.mkdtemp(prefix='gan_nb_dashboard_picture_'))
    try:
        root = scratch/'run'; root.mkdir()
        panel_notebook(root/'dashboard.ipynb')
        env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND='Agg', JUPYTER_CONFIG_DIR=str(scratch/'jupyter_config'),
                   JUPYTER_RUNTIME_DIR=str(scratch/'jupyter_runtime'))
        with jupyter_lab(root, env, scratch/'jupyter.log') as (base, token), sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(str(scratch/'profile'), executable_path=CHROMIUM, args=FLAGS,
                                                           headless=True, viewport={'width': 1400, 'height': 2400})
            try:
                page = browser.pages[0] if browser.pages else browser.new_page()
                page.set_default_timeout(60_000)
                png = small_png(train_and_shoot(page, f'{base}/lab/tree/dashboard.ipynb?token={token}'))
            except Exception:
                page.screenshot(path=str(FAILURE), full_page=True); print(f'failed: the page is in {FAILURE}')
                raise
            finally:
                browser.close()
        Path(out).write_bytes(png)
        print(f'wrote {out} ({len(png) // 1000} KB, {Image.open(io.BytesIO(png)).size[0]}x{Image.open(io.BytesIO(png)).size[1]})')
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == '__main__':
    os.environ.setdefault('OMP_NUM_THREADS', '1')  # the kernel inherits it: one thread is faster on a busy machine
    main(*sys.argv[1:2])
