"""The command lines: gan_nb_train then gan_nb_test on tiny built-in data, and option errors."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

BIN = Path(sys.executable).parent
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}
TINY = ['--name', 'tiny', '--model', 'pix2pix', '--direction', 'BtoA', '--netG', 'resnet_6blocks', '--ngf', '8',
        '--ndf', '8', '--device', 'cpu']


def command(name):
    "The console script if installed (`pip install -e .`), else the module."
    script = BIN/name
    module = {'gan_nb_train': 'gan_nb.train', 'gan_nb_test': 'gan_nb.inference', 'gan_nb_eval': 'gan_nb.extras.metrics',
              'gan_nb_export': 'gan_nb.extras.export'}[name]
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
    umask = os.umask(0o022); os.umask(umask)
    for f in ('latest_net_G.pth', 'train_opt.txt', 'web/index.html'):  # the umask's permissions, as open() gives
        assert (save_dir/f).stat().st_mode & 0o777 == 0o666 & ~umask, f
    r = run('gan_nb_test', ['--dataroot', 'builtin:facades'] + TINY + ['--load_size', '32', '--crop_size', '32', '--num_test', '3'], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    results = tmp_path/'results'/'tiny'/'test_latest'
    assert (results/'index.html').is_file() and (tmp_path/'checkpoints'/'tiny'/'test_opt.txt').is_file()
    images = sorted(os.listdir(results/'images'))
    assert len(images) == 9 and all(any(i.endswith(f'_{v}.png') for v in ('real_A', 'fake_B', 'real_B')) for i in images)
    # resuming a run that has done all its epochs says so, and how to train longer; the run's options file stays
    options_before = (save_dir/'train_opt.txt').read_text()
    r = run('gan_nb_train', ['--dataroot', 'builtin:facades'] + TINY + ['--load_size', '36', '--crop_size', '32',
            '--num_threads', '0', '--max_dataset_size', '4', '--n_epochs', '1', '--n_epochs_decay', '1', '--continue_train'], tmp_path)
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr
    assert 'finished epoch 2 of 2 (--n_epochs 1 + --n_epochs_decay 1); to train longer, raise them' in r.stderr.splitlines()[-1]
    assert (save_dir/'train_opt.txt').read_text() == options_before


@pytest.mark.parametrize('name,args,message', [
    ('gan_nb_train', ['--dataroot', 'd', '--netG', 'unet_2048'], "argument --netG: invalid choice: 'unet_2048'"),
    ('gan_nb_train', ['--dataroot', 'd', '--use_dropout'], '--use_dropout was removed: dropout is on by default now'),
    ('gan_nb_train', ['--dataroot', 'd', '--gpu_ids', '0,1'], 'run: torchrun --nproc_per_node=2 -m gan_nb.train --dataroot d'),
    ('gan_nb_train', ['--dataroot', 'd', '--name', '../../x'], "--name '../../x': the run's folder inside --checkpoints_dir"),
    ('gan_nb_test', ['--dataroot', 'd', '--no_such_flag'], 'unrecognized arguments: --no_such_flag'),
    ('gan_nb_train', [], 'the following arguments are required: --dataroot'),
    ('gan_nb_test', [], 'the following arguments are required: --dataroot'),
    ('gan_nb_train', ['--dataroot', 'd', '--display_freq', '0'], '--display_freq 0: must be at least 1 (default: 400)'),
    # every number flag is checked at parse time (issue 27), the model's too, with one line naming it
    ('gan_nb_train', ['--dataroot', 'd', '--model', 'pix2pix', '--lambda_L1', '-1'], '--lambda_L1 -1.0: must be 0 or more'),
    ('gan_nb_train', ['--dataroot', 'd', '--beta1', '1.5'], '--beta1 1.5: must be 0 or more and less than 1 (default: 0.5)'),
    ('gan_nb_train', ['--dataroot', 'd', '--model', 'pix2pix', '--val_metric', 'cycle_l1'],
     "argument --val_metric: invalid choice: 'cycle_l1' (choose from auto, l1, fid)"),
    ('gan_nb_test', ['--dataroot', 'd', '--aspect_ratio', 'nan'], '--aspect_ratio nan: must be finite and more than 0'),
])
def test_bad_option_exits_2_with_one_line(tmp_path, name, args, message):
    r = run(name, args, tmp_path)
    assert r.returncode == 2, r.stderr
    errors = [line for line in r.stderr.splitlines() if 'error:' in line]
    assert len(errors) == 1 and message in errors[0], r.stderr
    assert 'Traceback' not in r.stderr


def test_the_references_old_flags_are_translated(tmp_path):
    "A command line from the reference's docs: --gpu_ids -1, --niter, --niter_decay, --loadSize, --fineSize, --display_id."
    r = run('gan_nb_train', ['--dataroot', 'builtin:facades', '--name', 'old', '--model', 'pix2pix', '--netG', 'resnet_6blocks',
            '--ngf', '8', '--ndf', '8', '--gpu_ids', '-1', '--niter', '1', '--niter_decay', '0', '--loadSize', '36',
            '--fineSize', '32', '--nThreads', '0', '--max_dataset_size', '2', '--display_id', '0', '--which_direction', 'BtoA'], tmp_path)
    assert r.returncode == 0 and 'Traceback' not in r.stderr, r.stderr[-2000:]
    notes = [line for line in r.stderr.splitlines() if line.startswith('note: ')]
    assert notes[:2] == ['note: --niter is --n_epochs now; using that', 'note: --niter_decay is --n_epochs_decay now; using that']
    assert 'note: --gpu_ids -1 is --device cpu now; using that' in notes
    assert any(n.startswith('note: --display_id ignored: a visdom display setting') for n in notes)
    saved = (tmp_path/'checkpoints'/'old'/'train_opt.txt').read_text()
    for line in ('device: cpu', 'n_epochs: 1', 'n_epochs_decay: 0', 'load_size: 36', 'crop_size: 32', 'direction: BtoA'):
        assert any(l.split()[:2] == line.split() for l in saved.splitlines()), line
    assert (tmp_path/'checkpoints'/'old'/'latest_net_G.pth').is_file()


def test_wgangp_without_lambda_gp_notes_it_once(tmp_path):
    r = run('gan_nb_train', ['--dataroot', str(tmp_path/'none'), '--gan_mode', 'wgangp', '--device', 'cpu'], tmp_path)
    notes = [line for line in r.stderr.splitlines() if line.startswith('note: ')]
    assert r.returncode == 1 and notes == ['note: --gan_mode wgangp without --lambda_gp trains an unconstrained critic '
                                           '(no gradient penalty is applied); add --lambda_gp 10 for WGAN-GP'], r.stderr


def test_unwritable_checkpoints_dir_fails_at_once(tmp_path):
    (tmp_path/'a_file').write_text('x')
    r = run('gan_nb_train', ['--dataroot', 'builtin:facades', '--checkpoints_dir', str(tmp_path/'a_file'/'ck')] + TINY, tmp_path)
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert 'choose a writable --checkpoints_dir' in r.stderr.splitlines()[-1]
    assert not (tmp_path/'datasets').exists()  # failed before touching the data


def one_error_line(r):
    "The run failed with exit status 1 and exactly one `error:` line, no traceback; return that line."
    errors = [line for line in r.stderr.splitlines() if 'error:' in line]
    assert r.returncode == 1 and len(errors) == 1 and 'Traceback' not in r.stderr, r.stderr
    assert re.match(r'[\w.]+: error: ', errors[0]), errors[0]  # a line of its own, not glued to a progress bar
    return errors[0]


def test_a_broken_image_read_by_a_worker_is_one_line(tmp_path):
    (tmp_path/'data'/'train').mkdir(parents=True)
    for i in range(3): Image.new('RGB', (64, 32), (i * 40, 0, 0)).save(tmp_path/'data'/'train'/f'{i}.png')
    (tmp_path/'data'/'train'/'3.jpg').write_bytes(b'not a jpeg at all')
    r = run('gan_nb_train', ['--dataroot', str(tmp_path/'data')] + TINY + ['--load_size', '36', '--crop_size', '32',
            '--num_threads', '1', '--n_epochs', '1', '--n_epochs_decay', '0'], tmp_path)
    assert 'could not read image' in one_error_line(r) and '3.jpg' in one_error_line(r)


def test_pix2pix_refuses_random_pairs(tmp_path):
    "pix2pix pointed at a CycleGAN folder (trainA, trainB) with --dataset_mode unaligned: one line, not unpaired training."
    r = run('gan_nb_train', ['--dataroot', 'builtin:facades_unaligned', '--dataset_mode', 'unaligned'] + TINY +
            ['--load_size', '36', '--crop_size', '32', '--num_threads', '0', '--max_dataset_size', '2'], tmp_path)
    assert '--model pix2pix learns from pairs, but --dataset_mode unaligned pairs A and B images at random' in one_error_line(r)
    assert not list((tmp_path/'checkpoints'/'tiny').glob('*.pth'))


def test_a_damaged_checkpoint_is_one_line(tmp_path):
    (tmp_path/'photos').mkdir()
    Image.new('RGB', (32, 32)).save(tmp_path/'photos'/'a.png')
    (tmp_path/'checkpoints'/'tiny').mkdir(parents=True)
    (tmp_path/'checkpoints'/'tiny'/'latest_net_G.pth').write_bytes(b'PK\x03\x04 cut short by a full disk')
    r = run('gan_nb_test', ['--dataroot', str(tmp_path/'photos'), '--name', 'tiny', '--model', 'test', '--device', 'cpu',
            '--netG', 'resnet_6blocks', '--ngf', '8', '--crop_size', '32', '--load_size', '32'], tmp_path)
    assert 'latest_net_G.pth: damaged or not a PyTorch checkpoint' in one_error_line(r)


def test_a_crash_in_a_new_run_keeps_an_earlier_runs_weights(tmp_path):
    (tmp_path/'data'/'train').mkdir(parents=True)
    for i, width in enumerate((64, 64, 64, 96)):  # the second batch mixes 32x32 and 48x48 images
        Image.new('RGB', (width, width // 2)).save(tmp_path/'data'/'train'/f'{i}.png')
    earlier = tmp_path/'checkpoints'/'tiny'/'latest_net_G.pth'
    earlier.parent.mkdir(parents=True); earlier.write_bytes(b'weights of an earlier run')
    r = run('gan_nb_train', ['--dataroot', str(tmp_path/'data')] + TINY + ['--preprocess', 'none', '--batch_size', '2',
            '--serial_batches', '--num_threads', '0', '--n_epochs', '1', '--n_epochs_decay', '0'], tmp_path)
    assert 'cannot share a batch; use --batch_size 1' in one_error_line(r)
    assert 'holds checkpoints of an earlier run' in r.stdout and 'nothing saved' in r.stdout, r.stdout + r.stderr
    assert earlier.read_bytes() == b'weights of an earlier run'
