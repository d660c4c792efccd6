"""One command that checks gan_nb on a GPU, correctness and speed, and writes one markdown table.

A driver over benchmarks/compare.py (the project's one benchmark harness): its plain reference-style steps
(`torch.optim.Adam(params, lr=0.0002, betas=(0.5, 0.999))` as PyTorch builds it), `same_numbers` and
`time_alternately`. Rows: identical numbers to the plain step; host synchronisations per default step
(`torch.cuda.set_sync_debug_mode`); step time and images/s of the default and each speed flag against the plain
step, pix2pix and CycleGAN, batch 1 and 16; fp16's loss scale after warm-up; `torchrun --nproc_per_node 1`
against a plain training run; the data loader's images/s against the step's. A flag this device cannot run
gets a row 'skipped: <reason>'. Under 8 minutes on one GPU; `--device cpu --quick` (tiny sizes) in seconds.

    python benchmarks/gpu_check.py                          # the GPU (256 px, unet_256 / resnet_9blocks)
    python benchmarks/gpu_check.py --device cpu --quick     # the same table on a CPU, tiny (what CI runs)
"""
from __future__ import annotations
import argparse
import contextlib
import copy
import datetime
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import compare  # benchmarks/compare.py: the one harness (it puts the repository on sys.path)
from compare import (PlainPix2Pix, PlainCycleGAN, gan_nb_model, random_batch, same_numbers, stepper, sync,
                     time_alternately, device_name, facades, ROOT)
import torch
import gan_nb.data
from gan_nb.extras.plots import read_loss_log
from gan_nb.extras.facades import make_facades
from gan_nb.extras.speed import native_fp16
from gan_nb.options import TrainOptions, resolve_device

FLAG_SETS = (['--amp', 'fp16'], ['--amp', 'bf16'], ['--channels_last'], ['--fused_adam'], ['--compile'], ['--fast'])
PLAINS = {'pix2pix': PlainPix2Pix, 'cycle_gan': PlainCycleGAN}


def row(check, setting, s_step='', images='', vs_plain='', result=''):
    return f'| {check} | {setting} | {s_step} | {images} | {vs_plain} | {result} |'


def sizes(a, model, batch_size):
    "compare.py's settings for `model` at `batch_size`: pix2pix at --size with --netG, CycleGAN at --cycle-size."
    b = copy.copy(a); b.batch_size = batch_size
    if model == 'cycle_gan': b.size = a.cycle_size
    return b


def identical_rows(a, device):
    "The plain step and gan_nb's default, 3 steps from the same weights (cuDNN's deterministic kernels on a GPU)."
    deterministic = torch.backends.cudnn.deterministic
    torch.backends.cudnn.deterministic = True  # otherwise cuDNN's atomics differ from run to run, even for one model
    try:
        for model in PLAINS:
            b = sizes(a, model, 1)
            loss, weight = same_numbers(b, device, model)
            ok = 'yes' if max(loss, weight) <= 1e-6 else 'NO'
            yield row('identical numbers', f'{model}, default, {b.size} px, 3 steps', result=f'{ok}: losses {loss:.1e}, weights {weight:.1e} apart')
    finally: torch.backends.cudnn.deterministic = deterministic


def count_syncs(m, batch, steps=3):
    "Host synchronisations a step of `m`, from a pinned batch as the loader gives, counted by CUDA's sync debug mode."
    pinned = {k: v.cpu().pin_memory() if torch.is_tensor(v) else v for k, v in batch.items()}
    m.set_input(pinned); m.optimize_parameters(); sync(m.device)  # warm-up
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try:
            for _ in range(steps): m.set_input(pinned); m.optimize_parameters()
        finally: torch.cuda.set_sync_debug_mode(0)
    sync(m.device)
    return sum('synchroniz' in str(w.message) for w in caught) / steps


def sync_rows(a, device):
    for model, plain in PLAINS.items():
        b = sizes(a, model, 1)
        if device.type != 'cuda': yield row('host syncs / step', f'{model}, default', result='n/a (no CUDA device)'); continue
        m = gan_nb_model(b, model, (), device, say=lambda s: None)
        batch = random_batch(b, device=device)
        ours, theirs = count_syncs(m, batch), count_syncs(plain(m.opt, device, m), batch)
        yield row('host syncs / step', f'{model}, default', result=f'{ours:g} (plain step: {theirs:g})')


def skip_reason(flags, device, a):
    if '--compile' in flags and device.type == 'cpu' and a.quick: return 'torch.compile takes minutes on a CPU (run without --quick)'
    if flags == ['--amp', 'fp16'] and device.type == 'cpu' and not native_fp16():
        return 'needs a GPU (this CPU has no AMX_FP16: float16 is emulated, many times slower)'


def with_flags(a, b, model, flags, device, batch):
    "A gan_nb model with `flags` and its first step's seconds, or (None, 'skipped: <why>') where this device cannot run them."
    if reason := skip_reason(flags, device, a): return None, f'skipped: {reason}'
    said = []
    try:
        m = gan_nb_model(b, model, flags, device, say=said.append)
        if '--amp' in flags and m.opt.amp != flags[1]: return None, 'skipped: ' + (' '.join(line.strip().replace('note: ', '') for line in said) or 'fell back to --amp off')
        return m, time_alternately({'first': stepper(m, batch, device)}, rounds=1, warmup=0)['first']  # compiling, cuDNN's tuning
    except Exception as e: return None, f'skipped: {type(e).__name__}: {e}'.splitlines()[0]  # a row, not the end


def speed_rows(a, device, model, batch_size, step_speed):
    "The plain step, gan_nb's default and each flag set, in turn; then fp16's loss scale after those steps."
    b = sizes(a, model, batch_size)
    where = f'{model}, batch {batch_size}, {b.size} px'
    batch = random_batch(b, device=device)
    base = gan_nb_model(b, model, (), device, say=lambda s: None)
    runs = {'plain (reference-style)': stepper(PLAINS[model](base.opt, device, base), batch, device), 'default': stepper(base, batch, device)}
    notes, models = {}, {}
    for flags in FLAG_SETS:
        name = ' '.join(flags)
        m, first = with_flags(a, b, model, flags, device, batch)
        if m is None: notes[name] = first; continue
        runs[name], models[name] = stepper(m, batch, device), m
        chosen = '-> ' + ' '.join(f'--{k} {v}' for k, v in m.opt.speed_settings.items()) + '; ' if '--fast' in flags else ''
        notes[name] = f'{chosen}first step {first:.2f} s'
    times = time_alternately(runs, rounds=a.steps, warmup=1)
    plain = times['plain (reference-style)']
    step_speed[(model, batch_size)] = batch_size / times['default']
    for name in ['plain (reference-style)', 'default', *(' '.join(f) for f in FLAG_SETS)]:
        if name not in times: yield row('step', f'{where}, {name}', result=notes[name]); continue
        yield row('step', f'{where}, {name}', f'{times[name]:.4f}', f'{batch_size / times[name]:.1f}', f'**{plain / times[name]:.2f}x**', notes.get(name, ''))
    fp16 = models.get('--amp fp16')
    yield row('fp16 loss scale', f'{where}, after {a.steps + 2} steps',
              result=f'{fp16.scaler.get_scale():g}' if fp16 else notes['--amp fp16'])


def tiny_data(a, d):
    "The training images: builtin:facades (256 px), or, with --quick, 8 facades of --size px."
    if not a.quick: return facades(d)
    return str(make_facades(Path(d)/'facades', n_train=8, n_val=0, n_test=1, size=a.size))


def data_args(a, root, device, batch_size):
    return ['--dataroot', root, '--model', 'pix2pix', '--direction', 'BtoA', '--device', str(device), '--batch_size', str(batch_size),
            '--load_size', str(round(a.size * 286 / 256)), '--crop_size', str(a.size), '--netG', a.netG, '--ngf', str(a.ngf)]


def data_rows(a, device, root, step_speed):
    "gan_nb's loader (as training builds it) over a few epochs, against the default pix2pix step at the same batch."
    batch_size = a.batches[-1]
    with contextlib.redirect_stdout(io.StringIO()):
        loader = gan_nb.data.create_dataset(TrainOptions().gather(data_args(a, root, device, batch_size)))
    n = 3 * len(loader.dataset)  # three epochs a round: a few batches alone would time mostly the workers' first fetches
    t = time_alternately({'epochs': lambda: sum(len(b['A']) for _ in range(3) for b in loader)}, rounds=2, warmup=1)['epochs']
    step = step_speed[('pix2pix', batch_size)]
    verdict = 'keeps up with the step' if n / t >= step else 'STARVES the step: data is slower than compute'
    yield row('data loader', f'facades, batch {batch_size}, {loader.dataloader.num_workers} workers, 3 epochs of {n // 3}',
              '', f'{n / t:.1f}', f'{n / t / step:.2f}x the step\'s {step:.1f}', verdict)


def train_run(a, device, root, d, launcher):
    "A short `gan_nb_train` run in a subprocess (one loss line a step): its median s/step after the first two, and wall s."
    name = f'run{time.time_ns()}'
    args = data_args(a, root, device, 1) + ['--n_epochs', '1', '--n_epochs_decay', '0', '--checkpoints_dir', d, '--name', name,
                                            '--no_html', '--print_freq', '1', '--display_freq', '100000', '--max_dataset_size', str(a.run_images)]
    start = time.perf_counter()
    r = subprocess.run(launcher + ['-m', 'gan_nb.train', *args], cwd=d, capture_output=True, text=True, env={**os.environ, 'PYTHONPATH': str(ROOT)})
    if r.returncode: raise RuntimeError((r.stderr or r.stdout).strip().splitlines()[-1])
    return statistics.median(l['time'] for l in read_loss_log(Path(d)/name/'loss_log.txt')[2:]), time.perf_counter() - start


def torchrun_rows(a, device, root, d):
    if not torch.distributed.is_available(): yield row('torchrun', '--nproc_per_node 1', result='skipped: torch.distributed is missing'); return
    launchers = {'plain run (python -m gan_nb.train)': [sys.executable],
                 'torchrun --nproc_per_node 1': [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '1']}
    try: runs = {name: train_run(a, device, root, d, l) for name, l in launchers.items()}
    except Exception as e: yield row('torchrun', '--nproc_per_node 1', result=f'skipped: {e}'); return
    plain = runs['plain run (python -m gan_nb.train)'][0]
    for name, (step, wall) in runs.items():
        yield row('torchrun', f'{name}, pix2pix, batch 1, {a.run_images} images', f'{step:.4f}', f'{1 / step:.1f}', f'**{plain / step:.2f}x**', f'whole run {wall:.0f} s')


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='auto', help='cuda, cuda:N, cpu or auto')
    p.add_argument('--quick', action='store_true', help='tiny sizes, batch 1 and 2, one timed round: seconds on a CPU')
    p.add_argument('--out', default='gpu_check.md', help='the markdown table is also written here')
    p.add_argument('--steps', type=int, default=None, help='timed rounds (default 5; 1 with --quick)')
    a = p.parse_args(argv)
    q = a.quick
    a.steps = a.steps or (1 if q else 5)
    a.size, a.netG, a.ngf, a.cycle_size = (32, 'resnet_6blocks', 8, 32) if q else (256, 'unet_256', 64, 256)
    a.batches, a.run_images = ((1, 2), 4) if q else ((1, 16), 40)
    return a


def main(argv=None):
    a = parse(argv)
    device, start = resolve_device(a.device), time.perf_counter()
    if a.quick and device.type == 'cpu':  # tiny networks: one thread is fastest, and spares a busy machine (training runs too)
        torch.set_num_threads(1); os.environ['OMP_NUM_THREADS'] = '1'
    header = io.StringIO()
    with contextlib.redirect_stdout(header): compare.header(a, device)
    lines = [f'# gpu_check: {datetime.date.today()}, {device_name(device)} ({device}), torch {torch.__version__}', '',
             header.getvalue().strip().splitlines()[0], '',
             row('check', 'setting', 's/step', 'images/s', 'vs plain', 'result'), row(*['---'] * 6)]
    def add(rows):
        for r in rows: lines.append(r); print(r, file=sys.stderr, flush=True)  # progress; the table goes to stdout at the end
    add(identical_rows(a, device))
    add(sync_rows(a, device))
    step_speed = {}
    for model in PLAINS:
        for batch_size in a.batches: add(speed_rows(a, device, model, batch_size, step_speed))
    with tempfile.TemporaryDirectory() as d:
        with contextlib.redirect_stdout(io.StringIO()): root = tiny_data(a, d)
        add(data_rows(a, device, root, step_speed))
        add(torchrun_rows(a, device, root, d))
    lines += ['', f'{time.perf_counter() - start:.0f} s in all; vs plain: the plain step\'s time / this one\'s (> 1: faster).']
    text = '\n'.join(lines) + '\n'
    print(text)
    Path(a.out).write_text(text)


if __name__ == '__main__':
    main()
