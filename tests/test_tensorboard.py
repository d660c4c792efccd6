"""--use_tensorboard: event files TensorBoard's own reader loads back, with curves that continue across a resume."""
import importlib.util
import subprocess
import sys

import pytest

from test_cli import ENV, run, one_error_line

TINY = ['--name', 'tiny', '--model', 'pix2pix', '--direction', 'BtoA', '--netG', 'resnet_6blocks', '--ngf', '8', '--ndf', '8',
        '--device', 'cpu', '--load_size', '36', '--crop_size', '32', '--num_threads', '0', '--max_dataset_size', '4',
        '--print_freq', '2', '--display_freq', '2', '--n_epochs_decay', '0', '--use_tensorboard']
needs_tensorboard = pytest.mark.skipif(importlib.util.find_spec('tensorboard') is None, reason="needs the tensorboard extra")


def scalars(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(log_dir)); acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()['scalars']}


@needs_tensorboard
def test_scalars_load_back_and_continue_across_a_resume(tmp_path):
    r = run('gan_nb_train', ['--dataroot', 'builtin:facades'] + TINY + ['--n_epochs', '1', '--val_freq', '1'], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    log_dir = tmp_path/'checkpoints'/'tiny'/'tensorboard'
    first = scalars(log_dir)
    assert {'loss/G_GAN', 'loss/G_L1', 'loss/D_real', 'loss/D_fake', 'lr/G', 'lr/D', 'epoch', 'val/l1'} <= set(first), sorted(first)
    assert [s for s, _ in first['val/l1']] == [4]  # the validation score at the end of epoch 1
    assert [s for s, _ in first['loss/G_GAN']] == [2, 4]
    assert first['lr/G'][0][1] == pytest.approx(2e-4)
    r = run('gan_nb_train', ['--dataroot', 'builtin:facades'] + TINY + ['--n_epochs', '2', '--continue_train'], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    both = scalars(log_dir)
    assert [s for s, _ in both['loss/G_GAN']] == [2, 4, 6, 8]  # the second run's steps follow the first's
    assert [v for _, v in both['epoch']] == [1, 1, 2, 2]


def test_missing_tensorboard_is_one_line(tmp_path):
    script = tmp_path/'train_without_tensorboard.py'  # as if the tensorboard extra were not installed
    script.write_text('import sys; sys.modules["tensorboard"] = None\nfrom gan_nb.train import main as train_main\nsys.exit(train_main())\n')
    r = subprocess.run([sys.executable, str(script), '--dataroot', 'builtin:facades'] + TINY + ['--n_epochs', '1'],
                       cwd=tmp_path, capture_output=True, text=True, timeout=240, env=ENV)
    assert "--use_tensorboard needs the tensorboard package: pip install 'gan_nb[tensorboard]'" in one_error_line(r)
