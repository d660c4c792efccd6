"""The benchmark script's pieces work (not timings: those are printed by benchmarks/bench.py, never tested).

These smoke tests lived in the performance chapter; they are here because benchmarks/ is a folder of the
repository, which a chapter opened alone (in Colab, or after `pip install gan_nb`) does not have.
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent/'benchmarks'))
import bench  # noqa: E402  (benchmarks/ is not a package)


def check_eq(a, b): assert a == b, f'{a!r} != {b!r}'


def test_options_and_limits():
    "Its options parse, and the matmul-rate and bandwidth helpers work on a small problem."
    a = bench.parse(['--what', 'pix2pix,flops,phases,convs', '--steps', '1', '--batch-sizes', '1,4', '--fused_adam', '--amp', 'bf16'])
    check_eq((a.what, a.steps, a.batch_sizes, bench.fast_flags(a)), (['pix2pix', 'flops', 'phases', 'convs'], 1, [1, 4], ['--amp', 'bf16', '--fused_adam']))
    check_eq(bench.matmul_rate(bench.resolve_device('cpu'), n=256, repeats=2) > 0, True)
    check_eq(bench.copy_bandwidth(bench.resolve_device('cpu'), mib=8, repeats=2) > 0, True)
    check_eq([name for name, _ in bench.PHASES], ['forward', 'backward_D', 'optimizer_D.step', 'backward_G', 'optimizer_G.step'])


class OneConvStep:
    "Just enough of a model for `record_convolutions`: one convolution, forward and backward."
    def __init__(self): self.conv = torch.nn.Conv2d(3, 4, 3)
    def optimize_parameters(self): self.conv(torch.randn(1, 3, 8, 8)).sum().backward()


def test_record_convolutions():
    "`--what convs` sees the forward, then a backward that computes only the weight and bias gradients (the input needs none)."
    calls = bench.record_convolutions(OneConvStep())
    check_eq([bench.conv_label(f, args) for f, args in calls],
            [('conv forward', 'x (1, 3, 8, 8), w (4, 3, 3, 3), stride 1'), ('conv backward dw+db', 'x (1, 3, 8, 8), w (4, 3, 3, 3), stride 1')])


def test_compare_plain_step_is_identical():
    "compare.py's reference-style step and gan_nb's default step: same losses and weights after three steps."
    import compare  # benchmarks/ is on sys.path (above)
    a = compare.parse(['--what', 'identical', '--size', '128', '--netG', 'unet_128', '--ngf', '8'])
    check_eq(compare.same_numbers(a, torch.device('cpu')), (0.0, 0.0))


def test_winograd_trial_computes_the_convolution():
    "winograd_trial.py's convolutions are `F.conv2d`'s (other round-off), gradients included, for both strides and odd sizes."
    import winograd_trial as wt
    import torch.nn.functional as F
    torch.manual_seed(0)
    for conv, stride, side in ((wt.conv4x4_stride2, 2, 8), (wt.conv4x4_stride1, 1, 8), (wt.conv4x4_stride1, 1, 7)):
        x, w = torch.randn(2, 3, side, side, requires_grad=True), torch.randn(5, 3, 4, 4, requires_grad=True)
        y, ref = conv(x, w), F.conv2d(x, w, stride=stride, padding=1)
        check_eq(y.shape, ref.shape)
        assert (y - ref).abs().max() < 1e-4
        gx, gw = torch.autograd.grad(y.square().sum(), (x, w))
        rx, rw = torch.autograd.grad(ref.square().sum(), (x, w))
        assert (gx - rx).abs().max() < 1e-3 and (gw - rw).abs().max() < 1e-3
