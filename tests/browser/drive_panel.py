"""Drive `panel_demo.ipynb` in a running JupyterLab with Playwright and headless Chromium.

Run by `tests/test_browser.py` in a subprocess (Playwright's sync API cannot run inside an asyncio loop):
    python drive_panel.py URL ARTIFACTS_DIR
URL opens the notebook (`http://127.0.0.1:PORT/lab/tree/panel_demo.ipynb?token=...`). Prints one JSON line
with what it saw; exits non-zero, with the step that failed, on any failure. Screenshots go to ARTIFACTS_DIR.
"""
import json
import re
import sys
import time
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright, expect

CHROMIUM = '/usr/bin/chromium'
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--disable-dev-shm-usage']
BAD_TEXT = ('Error displaying widget', 'Loading widget...')


def main(url, artifacts):
    artifacts = Path(artifacts); artifacts.mkdir(parents=True, exist_ok=True)
    seen, step = {}, 'start'
    profile = tempfile.mkdtemp(prefix='gan_nb_chromium_')
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=FLAGS, headless=True,
                                                       viewport={'width': 1400, 'height': 1800})
        page = browser.pages[0] if browser.pages else browser.new_page()
        page.set_default_timeout(60_000)
        shot = lambda name, loc=None: (loc or page).screenshot(path=str(artifacts/f'{name}.png'))
        try:
            step = 'open the notebook'
            page.goto(url)
            page.locator('.jp-Notebook').first.wait_for()
            step = 'wait for the kernel'  # the indicator reads Idle before a kernel exists: wait for the status bar
            expect(page.locator('#jp-main-statusbar')).to_contain_text(re.compile(r'Idle'), timeout=90_000)
            expect(page.locator('#jp-main-statusbar')).not_to_contain_text('No Kernel')
            step = 'run all'
            page.locator('.lm-MenuBar-itemLabel', has_text=re.compile(r'^Run$')).click()
            page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
            panel = page.locator('.gan-nb-training-panel')
            panel.wait_for(state='visible', timeout=120_000)
            shot('1_panel', panel)
            check_no_widget_errors(page, grace=2)

            step = 'switch model to cycle_gan'
            page.locator('.gan-nb-opt-model select').select_option('cycle_gan')
            page.locator('.gan-nb-option-tabs .lm-TabBar-tab', has_text='model-specific').click()
            expect(page.locator('.gan-nb-opt-lambda_A')).to_be_visible()
            expect(page.locator('.gan-nb-opt-lambda_identity')).to_be_visible()
            expect(page.locator('.gan-nb-opt-lambda_L1')).to_have_count(0)
            expect(page.locator('.gan-nb-command')).not_to_contain_text('--model')  # cycle_gan is the default model
            shot('2_cycle_gan_fields', panel)
            seen['cycle_gan_command'] = page.locator('.gan-nb-command').inner_text()

            step = 'switch back to pix2pix'
            page.locator('.gan-nb-option-tabs .lm-TabBar-tab', has_text='basic').click()
            page.locator('.gan-nb-opt-model select').select_option('pix2pix')
            page.locator('.gan-nb-option-tabs .lm-TabBar-tab', has_text='model-specific').click()
            expect(page.locator('.gan-nb-opt-lambda_L1')).to_be_visible()
            expect(page.locator('.gan-nb-opt-lambda_A')).to_have_count(0)

            step = 'type a name'
            page.locator('.gan-nb-option-tabs .lm-TabBar-tab', has_text='basic').click()
            name = page.locator('.gan-nb-opt-name input')
            name.fill('browser_run'); name.press('Enter')
            expect(page.locator('.gan-nb-command')).to_contain_text('--name browser_run')
            expect(page.locator('.gan-nb-status')).to_contain_text('options are valid')
            seen['command'] = page.locator('.gan-nb-command').inner_text()

            step = 'train'
            page.locator('button.gan-nb-train').click()
            loss, grid = page.locator('img.gan-nb-loss-plot'), page.locator('img.gan-nb-visuals')
            t0 = time.time()
            wait_for_image(page, '.gan-nb-loss-plot', timeout=180_000)
            wait_for_image(page, '.gan-nb-visuals', timeout=60_000)
            seen['first_plot_s'] = round(time.time() - t0, 1)
            first_loss, first_grid = loss.get_attribute('src'), grid.get_attribute('src')
            step = 'watch the plots update'
            page.wait_for_function('([sel, old]) => document.querySelector(sel).getAttribute("src") !== old',
                                   arg=['img.gan-nb-loss-plot', first_loss], timeout=60_000)
            page.wait_for_function('([sel, old]) => document.querySelector(sel).getAttribute("src") !== old',
                                   arg=['img.gan-nb-visuals', first_grid], timeout=60_000)
            expect(page.locator('.gan-nb-progress-text')).to_contain_text('images')
            seen['progress'] = page.locator('.gan-nb-progress-text').inner_text()
            shot('3_training', page.locator('.gan-nb-dashboard'))

            step = 'stop'
            expect(page.locator('button.gan-nb-stop')).to_be_enabled()
            page.locator('button.gan-nb-stop').click()
            expect(page.locator('.gan-nb-train-status')).to_contain_text('stopped', timeout=120_000)
            expect(page.locator('button.gan-nb-train')).to_be_enabled(timeout=30_000)
            seen['status'] = page.locator('.gan-nb-train-status').inner_text()
            shot('4_stopped', panel)
            check_no_widget_errors(page, grace=0)
            seen['ok'] = True
        except Exception as e:
            seen.update(ok=False, step=step, error=f'{type(e).__name__}: {e}'[:3000])
            try: page.screenshot(path=str(artifacts/'failure.png'), full_page=True)
            except Exception: pass
        finally:
            browser.close()
    print(json.dumps(seen))
    return 0 if seen.get('ok') else 1


def wait_for_image(page, cls, timeout):
    "Wait until the Image widget with class `cls` shows a decoded picture."
    page.wait_for_function('sel => { const i = document.querySelector(sel); '
                           'return i && i.getAttribute("src") && i.complete && i.naturalWidth > 0; }',
                           arg=f'img{cls}', timeout=timeout)


def check_no_widget_errors(page, grace):
    "Fail if a widget view could not be displayed (after `grace` seconds for views still loading)."
    time.sleep(grace)
    text = page.locator('.jp-Notebook').inner_text()
    for bad in BAD_TEXT:
        if bad in text: raise AssertionError(f'the page shows "{bad}"')


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:3]))
