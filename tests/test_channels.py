"""16-bit and 4-channel folders through gan_nb_train and gan_nb_test: results keep bit depth and channels."""
import sys

import numpy as np
import pytest
from PIL import Image

from test_cli import run, one_error_line

TINY = ['--name', 'tiny', '--model', 'pix2pix', '--netG', 'resnet_6blocks', '--ngf', '8', '--ndf', '8', '--device', 'cpu',
        '--num_threads', '0']
TRAIN = ['--load_size', '36', '--crop_size', '32', '--n_epochs', '1', '--n_epochs_decay', '0', '--display_freq', '2',
         '--print_freq', '2']
TEST = ['--load_size', '32', '--crop_size', '32', '--num_test', '2']


def write_pairs(root, make, n=3):
    "n aligned A|B files from `make(i)` -> (H, W, C) or (H, W) array of one half."
    for split in ('train', 'test'):
        (root/split).mkdir(parents=True)
        for i in range(n):
            a, b = make(i), make(i + 10)
            Image.fromarray(np.concatenate([a, b], axis=1)).save(root/split/f'{i}.png')


def train_then_test(tmp_path, nc):
    args = ['--dataroot', str(tmp_path/'data'), '--input_nc', str(nc), '--output_nc', str(nc)] + TINY
    r = run('gan_nb_train', args + TRAIN, tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    r = run('gan_nb_test', args + TEST, tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return tmp_path/'results'/'tiny'/'test_latest'/'images'


def test_16bit_grayscale_trains_and_tests_in_16_bits(tmp_path):
    rng = np.random.default_rng(0)
    write_pairs(tmp_path/'data', lambda i: (rng.integers(0, 65536, (32, 32)) | 256).astype(np.uint16))
    images = train_then_test(tmp_path, 1)
    for label in ('real_A', 'fake_B', 'real_B'):
        with Image.open(images/f'0_{label}.png') as im: assert (im.mode, im.size) == ('I;16', (32, 32)), (label, im.mode)
    # real_A went in and came out through the tensor: the same 16-bit values, bit for bit
    with Image.open(tmp_path/'data'/'test'/'0.png') as src: original = np.array(src)[:, :32]
    with Image.open(images/'0_real_A.png') as im: assert np.array_equal(np.array(im), original)


def test_4_channels_train_and_test_in_4_channels(tmp_path):
    rng = np.random.default_rng(1)
    write_pairs(tmp_path/'data', lambda i: rng.integers(0, 256, (32, 32, 4)).astype(np.uint8))
    images = train_then_test(tmp_path, 4)
    for label in ('real_A', 'fake_B', 'real_B'):
        with Image.open(images/f'0_{label}.png') as im: assert (im.mode, im.size) == ('RGBA', (32, 32)), (label, im.mode)


def test_channel_mismatch_is_one_line(tmp_path):
    write_pairs(tmp_path/'data', lambda i: np.zeros((32, 32, 3), np.uint8), n=1)
    r = run('gan_nb_train', ['--dataroot', str(tmp_path/'data'), '--input_nc', '4', '--output_nc', '4'] + TINY + TRAIN, tmp_path)
    line = one_error_line(r)
    assert '0.png has 3 channel(s) but --input_nc is 4' in line, line


def test_16bit_colour_png_is_refused_not_truncated(tmp_path):
    import struct, zlib
    rgb = np.full((32, 64, 3), 40000, np.uint16)  # a 16-bit RGB A|B PNG, written by hand (Pillow cannot)
    raw = b''.join(b'\x00' + row.astype('>u2').tobytes() for row in rgb)
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    (tmp_path/'data'/'train').mkdir(parents=True)
    (tmp_path/'data'/'train'/'0.png').write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 64, 32, 16, 2, 0, 0, 0))
                                                 + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
    r = run('gan_nb_train', ['--dataroot', str(tmp_path/'data')] + TINY + TRAIN, tmp_path)
    assert 'is a 16-bit colour PNG, which Pillow reads only as 8 bits' in one_error_line(r)


def test_gan_nb_test_pads_unet_inputs_with_preprocess_none(tmp_path):
    import torch
    from gan_nb.networks import define_G
    (tmp_path/'photos').mkdir()
    Image.new('RGB', (60, 44), (200, 30, 30)).save(tmp_path/'photos'/'a.png')
    (tmp_path/'checkpoints'/'u').mkdir(parents=True)
    torch.save(define_G(3, 3, 4, 'unet_128', 'batch', True).state_dict(), tmp_path/'checkpoints'/'u'/'latest_net_G.pth')
    r = run('gan_nb_test', ['--dataroot', str(tmp_path/'photos'), '--name', 'u', '--model', 'test', '--netG', 'unet_128',
                            '--norm', 'batch', '--ngf', '4', '--preprocess', 'none', '--device', 'cpu'], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    with Image.open(tmp_path/'results'/'u'/'test_latest'/'images'/'a_fake.png') as im: assert im.size == (60, 44)


def test_tiff_and_npy_without_tifffile(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'tifffile', None)  # as if the tiff extra were not installed
    from gan_nb.images import read_array, save_array
    seven = np.arange(4 * 5 * 7, dtype=np.uint16).reshape(4, 5, 7)
    path = save_array(seven, tmp_path/'seven')
    assert path.suffix == '.npy' and np.array_equal(read_array(path), seven)
    Image.fromarray(np.arange(20, dtype=np.uint16).reshape(4, 5) * 3000).save(tmp_path/'grey16.tif')  # Pillow reads this one exactly
    assert read_array(tmp_path/'grey16.tif').dtype == np.uint16


def test_unet_512_trains_on_512_crops(tmp_path):
    (tmp_path/'data'/'train').mkdir(parents=True)
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (512, 1024, 3)).astype(np.uint8)).save(tmp_path/'data'/'train'/'0.png')
    r = run('gan_nb_train', ['--dataroot', str(tmp_path/'data'), '--name', 'big', '--model', 'pix2pix', '--netG', 'unet_512',
                             '--ngf', '4', '--ndf', '4', '--device', 'cpu', '--num_threads', '0', '--load_size', '512',
                             '--crop_size', '512', '--n_epochs', '1', '--n_epochs_decay', '0'], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    import torch
    from gan_nb.extras.loading import generator_options
    state = torch.load(tmp_path/'checkpoints'/'big'/'latest_net_G.pth', weights_only=True)
    assert generator_options(state)['netG'] == 'unet_512'
