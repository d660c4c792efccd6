"""The command lines: gan_nb_train then gan_nb_test on tiny built-in data, and option errors."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}
TINY = ['--name', 'tiny', '--model', 'pix2pix', '--direction', 'BtoA', '--netG', 'resnet_6blocks', '--ngf', '8',
        '--ndf', '8', '--device', 'cpu']


def command(name):
    "The console script if installed (`pip install -e .`), else the module."
    script = BIN/name
    module = {'gan_nb_train': 'gan_nb.train', 'gan_nb_test': 'gan_nb.inference'}[name]
    return [str(script)] if script.exists() else [sys.executable, '-m', module]


def run(name, args, cwd, timeout=240):
    return subprocess.run(command(name) + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=ENV)


def test_train_then_test_on_builtin_data(tmp_path):
    r = run('gan_nb_train', ['--dataroot', 'builtin:facades'] + TINY +
            ['--load_size', '36', '--crop_size', '32', '--num_threads', '0', '--max_dataset_size', '4',
             '--n_epochs', '1', '--n_epochs_decay', '1', '--print_freq', '2', '--display_freq', '2'], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    save_dir = tmp_path/'checkpoints'/'tiny'
    for f in ('train_opt.txt', 'loss_log.txt', 'latest_net_G.pth', 'latest_net_D.pth', 'latest_train_state.pth',
              'web/index.html', 'web/images/epoch002_fake_B.png'):
        assert (save_dir/f).is_file(), f
    assert '(epoch: 2, iters: 4,' in (save_dir/'loss_log.txt').read_text()
    r = run('gan_nb_test', ['--dataroot', 'builtin:facades'] + TINY + ['--load_size', '32', '--crop_size', '32', '--num_test', '3'], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    results = tmp_path/'results'/'tiny'/'test_latest'
    assert (results/'index.html').is_file() and (tmp_path/'checkpoints'/'tiny'/'test_opt.txt').is_file()
    images = sorted(os.listdir(results/'images'))
    assert len(images) == 9 and all(any(i.endswith(f'_{v}.png') for v in ('real_A', 'fake_B', 'real_B')) for i in images)


@pytest.mark.parametrize('name,args,message', [
    ('gan_nb_train', ['--dataroot', 'd', '--netG', 'unet_512'], "argument --netG: invalid choice: 'unet_512'"),
    ('gan_nb_train', ['--dataroot', 'd', '--niter', '5'], '--niter was renamed to --n_epochs'),
    ('gan_nb_test', ['--dataroot', 'd', '--no_such_flag'], 'unrecognized arguments: --no_such_flag'),
])
def test_bad_option_exits_2_with_one_line(tmp_path, name, args, message):
    r = run(name, args, tmp_path)
    assert r.returncode == 2, r.stderr
    errors = [line for line in r.stderr.splitlines() if 'error:' in line]
    assert len(errors) == 1 and message in errors[0], r.stderr
    assert 'Traceback' not in r.stderr


def test_unwritable_checkpoints_dir_fails_at_once(tmp_path):
    (tmp_path/'a_file').write_text('x')
    r = run('gan_nb_train', ['--dataroot', 'builtin:facades', '--checkpoints_dir', str(tmp_path/'a_file'/'ck')] + TINY, tmp_path)
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert 'choose a writable --checkpoints_dir' in r.stderr.splitlines()[-1]
    assert not (tmp_path/'datasets').exists()  # failed before touching the data
