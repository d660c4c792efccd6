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


def test_gpu_check_quick_on_cpu(tmp_path):
    "benchmarks/gpu_check.py's CPU form runs and writes its table: every check, model, batch and flag has a row."
    import subprocess
    out = tmp_path/'gpu_check.md'
    r = subprocess.run([sys.executable, str(Path(compare.__file__).with_name('gpu_check.py')), '--device', 'cpu', '--quick', '--out', str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    text = out.read_text()
    assert text in r.stdout and text.startswith('# gpu_check: ') and 'torch ' + torch.__version__ in text.splitlines()[0]
    rows = [[c.strip() for c in line.strip('|').split('|')] for line in text.splitlines()[6:] if line.startswith('| ')]
    checks = [r[0] for r in rows]
    check_eq({c: checks.count(c) for c in checks},
             {'identical numbers': 2, 'host syncs / step': 2, 'step': 2 * 2 * 8, 'fp16 loss scale': 4, 'data loader': 1, 'torchrun': 2})
    check_eq({r[5].split(':')[0] for r in rows if r[0] in ('identical numbers', 'host syncs / step')}, {'yes', 'n/a (no CUDA device)'})
    steps = [r[1] for r in rows if r[0] == 'step']
    for model in ('pix2pix', 'cycle_gan'):
        for batch in (1, 2):
            for name in ('plain (reference-style)', 'default', '--amp fp16', '--amp bf16', '--channels_last', '--fused_adam', '--compile', '--fast'):
                assert f'{model}, batch {batch}, 32 px, {name}' in steps, (model, batch, name)
    assert all(r[2] or r[5].startswith('skipped: ') for r in rows if r[0] in ('step', 'torchrun')), rows  # a time or a reason
