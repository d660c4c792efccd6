"""The benchmark harness's pieces work (not timings: those are printed by benchmarks/compare.py, never tested).

These smoke tests are here because benchmarks/ is a folder of the repository, which a chapter opened alone
(in Colab, or after `pip install gan_nb`) does not have.
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent/'benchmarks'))
import compare  # noqa: E402  (benchmarks/ is not a package)


def check_eq(a, b): assert a == b, f'{a!r} != {b!r}'


def test_options():
    "Its options parse, and an unknown --what is refused."
    a = compare.parse(['--what', 'step,flops,adam', '--steps', '1', "--flags=--fast;--fused_adam"])
    check_eq((a.what, a.steps, a.flag_sets), (['step', 'flops', 'adam'], 1, [['--fast'], ['--fused_adam']]))
    try: compare.parse(['--what', 'threads']); raise AssertionError('--what threads accepted')
    except SystemExit: pass


def test_compare_plain_step_is_identical():
    "compare.py's reference-style step and gan_nb's default step: same losses and weights after three steps."
    a = compare.parse(['--what', 'identical', '--size', '128', '--netG', 'unet_128', '--ngf', '8'])
    check_eq(compare.same_numbers(a, torch.device('cpu')), (0.0, 0.0))


def test_plain_step_uses_the_references_adam():
    "The plain step builds `torch.optim.Adam(params, lr, betas)` with PyTorch's own defaults (no foreach or fused forced)."
    a = compare.parse(['--size', '128', '--netG', 'unet_128', '--ngf', '8'])
    m = compare.gan_nb_model(a, 'pix2pix', say=lambda s: None)
    plain = compare.PlainPix2Pix(m.opt, m.device, m)
    check_eq({(g['foreach'], g['fused']) for o in (plain.optimizer_G, plain.optimizer_D) for g in o.param_groups}, {(None, None)})
