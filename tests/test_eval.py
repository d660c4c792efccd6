"""gan_nb_eval on the command line: train and test a tiny model on built-in facades, then score its results;
FID and KID with a stand-in weights file; one-line errors; the weights downloaded from a local server."""
import functools
import hashlib
import http.server
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from PIL import Image

from test_cli import ENV, TINY, run as run_script


def run(name, args, cwd, timeout=240):
    "`gan_nb_eval` as `python -m gan_nb.extras.metrics` (whatever console scripts are installed); the others as test_cli runs them."
    if name != 'gan_nb_eval': return run_script(name, args, cwd, timeout)
    return subprocess.run([sys.executable, '-m', 'gan_nb.extras.metrics'] + args, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=ENV)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope='module')
def results(tmp_path_factory):
    "A results folder from gan_nb_train then gan_nb_test on tiny built-in facades (3 test images)."
    tmp = tmp_path_factory.mktemp('eval')
    r = run('gan_nb_train', ['--dataroot', 'builtin:facades'] + TINY + ['--load_size', '36', '--crop_size', '32', '--num_threads', '0',
            '--max_dataset_size', '4', '--n_epochs', '1', '--n_epochs_decay', '0'], tmp)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    r = run('gan_nb_test', ['--dataroot', 'builtin:facades'] + TINY + ['--load_size', '32', '--crop_size', '32', '--num_test', '3'], tmp)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return tmp/'results'/'tiny'/'test_latest'


@pytest.fixture(scope='module')
def standin_weights(tmp_path_factory):
    "A weights file shaped like the FID Inception's (torchvision's Inception v3 layout), random, in half precision."
    import torchvision
    net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
    path = tmp_path_factory.mktemp('weights')/'inception.pth'
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}, path)
    return path


def fresh_copy(results, tmp_path):
    copy = tmp_path/'test_latest'
    shutil.copytree(results, copy)
    return copy


def test_eval_prints_writes_json_and_page(results, tmp_path):
    folder = fresh_copy(results, tmp_path)
    r = run('gan_nb_eval', ['--results', str(folder)], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for name in ('L1 (0..255)', 'PSNR (dB)', 'SSIM'): assert name in r.stdout, r.stdout
    saved = json.loads((folder/'metrics.json').read_text())
    assert saved['images'] == 3 and saved['paired'] and sorted(saved['scores']) == ['l1', 'psnr', 'ssim']
    assert 0 < saved['scores']['l1'] < 255 and -1 <= saved['scores']['ssim'] <= 1
    page = (folder/'index.html').read_text()
    assert '<h3>Scores (3 images)</h3>' in page and f"{saved['scores']['psnr']:.4f}" in page
    assert page.count('<img') == 9  # the images are all still there


def test_eval_fid_kid_with_a_weights_file(results, standin_weights, tmp_path):
    folder = fresh_copy(results, tmp_path)
    r = run('gan_nb_eval', ['--results', str(folder), '--inception_weights', str(standin_weights), '--device', 'cpu'], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert 'warning: FID on 3 images is biased upward' in r.stdout
    scores = json.loads((folder/'metrics.json').read_text())['scores']
    assert sorted(scores) == ['fid', 'kid', 'kid_std', 'l1', 'psnr', 'ssim'] and scores['fid'] >= 0


def one_error_line(r):
    errors = [line for line in r.stderr.splitlines() if 'error:' in line]
    assert r.returncode == 1 and len(errors) == 1 and 'Traceback' not in r.stderr, r.stderr
    return errors[0]


def test_bad_input_is_one_line(results, tmp_path):
    (tmp_path/'empty').mkdir(); (tmp_path/'a').mkdir(); (tmp_path/'b').mkdir()
    Image.new('RGB', (32, 32)).save(tmp_path/'a'/'x.png'); Image.new('RGB', (48, 48)).save(tmp_path/'b'/'x.png')
    no_targets = fresh_copy(results, tmp_path)
    for f in (no_targets/'images').glob('*_real_B.png'): f.unlink()
    cases = [(['--fake', str(tmp_path/'empty'), '--real', str(tmp_path/'b')], 'the folder holds no images'),
             (['--fake', str(tmp_path/'a'), '--real', str(tmp_path/'b')], 'paired metrics need images of the same size: x.png is 32x32 but x.png is 48x48'),
             (['--results', str(no_targets), '--inception_weights', str(tmp_path/'none.pth')], 'no real/fake pairs in'),
             (['--results', str(results), '--metrics', 'fid', '--inception_weights', str(tmp_path/'none.pth')], 'none.pth: no such file'),
             (['--results', str(tmp_path/'empty')], 'no images/ folder; give a folder gan_nb_test wrote')]
    for args, message in cases:
        assert message in one_error_line(run('gan_nb_eval', args, tmp_path)), args


def test_option_errors_exit_2(tmp_path):
    r = run('gan_nb_eval', [], tmp_path)
    assert r.returncode == 2 and 'give --results DIR (from gan_nb_test), or --fake DIR with --real DIR' in r.stderr.splitlines()[-1]
    r = run('gan_nb_eval', ['--results', 'x', '--metrics', 'lpips'], tmp_path)
    assert r.returncode == 2 and "invalid choice: 'lpips'" in r.stderr


def test_missing_extra_names_it(results, standin_weights, tmp_path):
    code = ('import sys; sys.modules["torch_fidelity"] = None; from gan_nb.extras.metrics import main; '
            f'main(["--results", {str(results)!r}, "--metrics", "fid", "--inception_weights", {str(standin_weights)!r}])')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert "FID and KID need torch-fidelity, in gan_nb's metrics extra: pip install 'gan_nb[metrics]'" in one_error_line(r)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


def test_weights_download_from_a_local_server(tmp_path):
    from gan_nb.extras.downloads import DownloadError
    from gan_nb.extras.metrics import inception_weights_file
    www = tmp_path/'www'; www.mkdir()
    torch.save({'conv.weight': torch.ones(2, 3)}, www/'w.pth')
    (www/'page.pth').write_bytes(b'<html>not found</html>')
    digest = hashlib.sha256((www/'w.pth').read_bytes()).hexdigest()
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(www)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f'http://127.0.0.1:{server.server_port}'
    try:
        target = tmp_path/'hub'/'weights.pth'
        assert inception_weights_file(url=f'{url}/w.pth', sha256=digest[:8], target=target, progress=False) == target
        assert target.read_bytes() == (www/'w.pth').read_bytes()
        with pytest.raises(DownloadError, match='is not the expected file'):
            inception_weights_file(url=f'{url}/page.pth', sha256=digest[:8], target=tmp_path/'bad'/'w.pth', progress=False)
        with pytest.raises(DownloadError, match='does not load as a PyTorch checkpoint'):
            inception_weights_file(url=f'{url}/page.pth', sha256=hashlib.sha256(b'<html>not found</html>').hexdigest()[:8],
                                   target=tmp_path/'bad'/'w.pth', progress=False)
        with pytest.raises(DownloadError, match='HTTP 404'):
            inception_weights_file(url=f'{url}/missing.pth', target=tmp_path/'bad'/'w.pth', progress=False)
        assert list((tmp_path/'bad').iterdir()) == []  # nothing half-written
    finally:
        server.shutdown(); server.server_close()


def test_train_with_validation_keeps_the_best_generator(tmp_path):
    args = ['--dataroot', 'builtin:facades'] + TINY + ['--load_size', '36', '--crop_size', '32', '--num_threads', '0',
                                                       '--max_dataset_size', '4', '--n_epochs', '2', '--n_epochs_decay', '0', '--val_freq', '1']
    r = run('gan_nb_train', args, tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert 'validation at epoch 2: l1 ' in r.stdout
    run_dir = tmp_path/'checkpoints'/'tiny'
    log = (run_dir/'loss_log.txt').read_text()
    assert '(epoch: 1, iters: 4) val_l1: ' in log and '(epoch: 2, iters: 4) val_l1: ' in log
    assert (run_dir/'best_net_G.pth').is_file() and not (run_dir/'best_net_D.pth').exists()
    r = run('gan_nb_test', ['--dataroot', 'builtin:facades'] + TINY + ['--load_size', '32', '--crop_size', '32', '--num_test', '1',
            '--epoch', 'best'], tmp_path)
    assert r.returncode == 0 and (tmp_path/'results'/'tiny'/'test_best'/'index.html').is_file(), r.stderr[-2000:]


def test_plateau_without_validation_is_refused_at_once(tmp_path):
    r = run('gan_nb_train', ['--dataroot', 'builtin:facades', '--lr_policy', 'plateau'] + TINY, tmp_path)
    errors = [line for line in r.stderr.splitlines() if 'error:' in line]
    assert r.returncode == 2 and len(errors) == 1 and 'Traceback' not in r.stderr, r.stderr
    assert '--lr_policy plateau lowers the learning rate when the validation score stops improving: add --val_freq N' in errors[0]
    assert not (tmp_path/'datasets').exists()  # refused before any work


def test_validation_without_a_split_is_one_line(tmp_path):
    r = run('gan_nb_train', ['--dataroot', 'builtin:facades_unaligned', '--model', 'cycle_gan', '--netG', 'resnet_6blocks',
            '--ngf', '8', '--ndf', '8', '--device', 'cpu', '--load_size', '32', '--crop_size', '32', '--val_freq', '1'], tmp_path)
    assert '--val_freq needs a validation split: no folder' in one_error_line(r) and '(or valA and valB)' in one_error_line(r)
