"""--matmul_conv end to end: a pix2pix step equals the default's to round-off, and checkpoints load both ways."""
import numpy as np
import torch
from PIL import Image

import gan_nb.data, gan_nb.pix2pix  # noqa: F401  (register the dataset and the model)
from gan_nb.base_model import create_model
from gan_nb.matmul_conv import MatmulConv2d, MatmulConvTranspose2d
from gan_nb.options import TrainOptions
from test_cli import run

# unet_256 with 8 filters at 256 px: its innermost convolution and transposed convolution are weight-bound
SMALL_UNET = ['--model', 'pix2pix', '--netG', 'unet_256', '--ngf', '8', '--ndf', '8', '--device', 'cpu', '--cpu_threads', '1']


def pix2pix(tmp_path, *flags):
    opt = TrainOptions().gather(['--dataroot', str(tmp_path), '--checkpoints_dir', str(tmp_path), '--name', 'm'] + SMALL_UNET + list(flags))
    torch.manual_seed(0)
    return create_model(opt)


def one_step(model, batch):
    torch.manual_seed(1)  # the same dropout masks
    model.set_input(batch); model.optimize_parameters()
    return model.get_current_losses()


def test_matmul_conv_step_equals_the_default_to_round_off(tmp_path):
    default, matmul = pix2pix(tmp_path), pix2pix(tmp_path, '--matmul_conv')
    kinds = {type(m) for m in matmul.netG.modules()}
    assert {MatmulConv2d, MatmulConvTranspose2d} <= kinds and MatmulConv2d not in {type(m) for m in default.netG.modules()}
    torch.manual_seed(2)
    batch = {'A': torch.rand(1, 3, 256, 256) * 2 - 1, 'B': torch.rand(1, 3, 256, 256) * 2 - 1, 'A_paths': ['a'], 'B_paths': ['a']}
    losses, losses_matmul = one_step(default, batch), one_step(matmul, batch)
    for name, value in losses.items(): assert abs(value - losses_matmul[name]) < 1e-4, (name, value, losses_matmul[name])
    assert list(default.netG.state_dict()) == list(matmul.netG.state_dict())


def test_matmul_conv_checkpoint_tests_without_the_flag(tmp_path):
    (tmp_path/'data'/'train').mkdir(parents=True); (tmp_path/'data'/'test').mkdir()
    rng = np.random.default_rng(0)
    for split in ('train', 'test'):
        for i in range(2): Image.fromarray(rng.integers(0, 256, (256, 512, 3), dtype=np.uint8)).save(tmp_path/'data'/split/f'{i}.png')
    common = ['--dataroot', str(tmp_path/'data'), '--name', 'mm'] + SMALL_UNET[:-2] + ['--load_size', '256', '--crop_size', '256']
    r = run('gan_nb_train', common + ['--matmul_conv', '--n_epochs', '1', '--n_epochs_decay', '0', '--num_threads', '0'], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    r = run('gan_nb_test', common + ['--num_test', '1'], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (tmp_path/'results'/'mm'/'test_latest'/'images'/'0_fake_B.png').is_file()
