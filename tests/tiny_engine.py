"""Shared helpers for the training-engine tests: a tiny facades dataset, tiny options, reading saved weights."""
from pathlib import Path

import pytest
import torch

import gan_nb.data  # registers the datasets
import gan_nb.pix2pix  # registers the model
from gan_nb.extras.facades import make_facades
from gan_nb.options import TrainOptions

# resnet_6blocks accepts 32x32 (multiples of 4); ngf/ndf 8 keeps a step at a few milliseconds; dropout stays on
TINY_NETS = ['--model', 'pix2pix', '--direction', 'BtoA', '--netG', 'resnet_6blocks', '--ngf', '8', '--ndf', '8',
             '--device', 'cpu']
TINY_DATA = ['--load_size', '36', '--crop_size', '32', '--num_threads', '0']


@pytest.fixture
def one_thread():
    "Tiny networks run fastest on one thread (and CI machines are shared); restored afterwards."
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny_facades(folder, n_train=4, n_test=2):
    "A tiny aligned facades dataset (32x32 pairs) under `folder`."
    return make_facades(Path(folder)/'facades', n_train=n_train, n_val=0, n_test=n_test, size=32)


def tiny_train_args(root, checkpoints_dir, name='tiny', epochs=(1, 1), seed=0):
    "Command-line arguments for a tiny, seeded pix2pix run (4 images per epoch, batch 1)."
    return (['--dataroot', str(root), '--name', name, '--checkpoints_dir', str(checkpoints_dir)] + TINY_NETS + TINY_DATA +
            ['--n_epochs', str(epochs[0]), '--n_epochs_decay', str(epochs[1]), '--print_freq', '1', '--display_freq', '2',
             '--save_latest_freq', '1000', '--seed', str(seed)])


def tiny_opt(root, checkpoints_dir, name='tiny', epochs=(1, 1), **overrides):
    "Options for a tiny run, without printing or saving anything."
    return TrainOptions().gather(tiny_train_args(root, checkpoints_dir, name, epochs), **overrides)


def tiny_cycle_gan_opt(root, checkpoints_dir, freq, pool_size, extra=(), **overrides):
    "Options for a tiny, seeded CycleGAN run (resnet_6blocks, ngf/ndf 8, 32 px, one epoch then one decay epoch)."
    return TrainOptions().gather(['--dataroot', str(root), '--name', 'cg', '--checkpoints_dir', str(checkpoints_dir),
                                  '--model', 'cycle_gan', '--netG', 'resnet_6blocks', '--ngf', '8', '--ndf', '8',
                                  '--load_size', '36', '--crop_size', '32', '--num_threads', '0', '--n_epochs', '1',
                                  '--n_epochs_decay', '1', '--print_freq', str(freq), '--display_freq', str(freq), *extra,
                                  '--pool_size', str(pool_size), '--seed', '1', '--device', 'cpu'], **overrides)


def saved_weights(save_dir, label='latest', nets=('G', 'D')):
    "Every tensor of the saved networks, keyed `<net>.<key>`."
    out = {}
    for net in nets:
        state = torch.load(Path(save_dir)/f'{label}_net_{net}.pth', weights_only=True)
        out.update({f'{net}.{k}': v for k, v in state.items()})
    return out


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f'{len(different)} tensors differ, e.g. {different[:3]}'


def read_loss_log_lines(path):
    return Path(path).read_text().splitlines()
