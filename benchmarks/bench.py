"""Benchmarks for gan_nb: training-step time, data-loader throughput, a whole epoch, and the FLOP limit.

Prints a markdown table. Timings exclude warm-up steps; each row gives the minimum and the median of the
timed steps (the minimum is the least disturbed by other processes on a shared machine).

    python benchmarks/bench.py --what pix2pix --steps 5
    python benchmarks/bench.py --what pix2pix,cycle_gan,data,flops --batch-sizes 1,4
    python benchmarks/bench.py --what phases --batch-sizes 1        # where a pix2pix step spends its time
    python benchmarks/bench.py --what convs --batch-sizes 1         # each convolution of a pix2pix step, replayed alone
    python benchmarks/bench.py --what pix2pix --reference-adam      # the reference's plain Adam, for comparison
    python benchmarks/bench.py --what pix2pix --system-malloc       # glibc's malloc as it comes (page faults each step)
    python benchmarks/bench.py --what pix2pix --amp bf16 --channels_last --fused_adam
"""
from __future__ import annotations
import argparse
import contextlib
import datetime
import io
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the repository

import torch

from gan_nb.options import TrainOptions, resolve_device
import gan_nb.data  # registers the datasets
import gan_nb.pix2pix, gan_nb.cycle_gan  # register the models
from gan_nb.base_model import create_model, reuse_freed_memory

WHATS = ('pix2pix', 'cycle_gan', 'data', 'epoch', 'flops', 'phases', 'convs')


def cpu_name() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor() or platform.machine()


def machine(device) -> str:
    if device.type == 'cuda': return torch.cuda.get_device_name(device)
    return f'{cpu_name()}, {os.cpu_count()} cores'


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)
    elif device.type == 'mps': torch.mps.synchronize()


def reset_peak(device):
    if device.type == 'cuda': torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device) -> str:
    "GPU: peak allocated since the last reset; CPU: the process's peak resident set so far (it never goes down)."
    if device.type == 'cuda': return f'{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB (GPU)'
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return f'{kib / 2**20:.2f} GiB (RSS)'


def fast_flags(a) -> list[str]:
    flags = []
    if a.amp != 'off': flags += ['--amp', a.amp]
    for name in ('channels_last', 'compile', 'fused_adam'):
        if getattr(a, name): flags.append('--' + name)
    return flags


def build_model(model, batch_size, a, device):
    args = ['--dataroot', 'unused', '--model', model, '--device', str(device), '--batch_size', str(batch_size),
            '--checkpoints_dir', tempfile.gettempdir(), *fast_flags(a)]
    opt = TrainOptions().gather(args)
    with contextlib.redirect_stdout(io.StringIO()): m = create_model(opt)
    if a.reference_adam:  # the reference: torch.optim.Adam with its defaults (a per-tensor loop on the CPU)
        for name in ('optimizer_G', 'optimizer_D'):
            old = getattr(m, name)
            new = torch.optim.Adam([p for g in old.param_groups for p in g['params']], lr=opt.lr, betas=(opt.beta1, 0.999))
            setattr(m, name, new)
        m.optimizers = [m.optimizer_G, m.optimizer_D]
    return m, opt


def random_batch(batch_size, size, device=None):
    x = lambda: torch.rand(batch_size, 3, size, size) * 2 - 1
    return {'A': x(), 'B': x(), 'A_paths': ['a'] * batch_size, 'B_paths': ['b'] * batch_size}


def time_steps(model, batch, steps, warmup, device):
    model.set_input(batch)
    for _ in range(warmup): model.optimize_parameters()
    sync(device); reset_peak(device)
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        model.set_input(batch)
        model.optimize_parameters()
        sync(device)
        times.append(time.perf_counter() - t)
    return times


def bench_model(name, a, device, rows, results):
    for bs in a.batch_sizes:
        torch.manual_seed(0)
        m, _ = build_model(name, bs, a, device)
        times = time_steps(m, random_batch(bs, a.size), a.steps, a.warmup, device)
        med = statistics.median(times)
        results[(name, bs)] = times
        losses = m.get_current_losses()  # the only host sync of the losses: once, here
        ok = all(v == v and abs(v) != float('inf') for v in losses.values())
        rows.append((f'{name} step', config(a, name), bs, f'{min(times):.3f}', f'{med:.3f}', f'{bs / med:.2f}',
                     peak_memory(device), '' if ok else 'non-finite loss!'))
        del m


def config(a, name):
    base = {'pix2pix': 'unet_256, basic D, batch norm', 'cycle_gan': 'resnet_9blocks x2, basic D x2, instance norm, pool 50'}.get(name, '')
    extra = ' '.join(fast_flags(a)) or 'defaults'
    if a.reference_adam: extra += ' (reference Adam)'
    if a.system_malloc: extra += ' (system malloc)'
    return f'{base}, {a.size}px, {extra}'.strip(', ')


PHASES = (('forward', 'G forward'), ('backward_D', 'D: forward on the fake and the real pair, backward'),
          ('optimizer_D.step', 'Adam on D'), ('backward_G', 'G: D forward on the fake pair, backward through D and G'),
          ('optimizer_G.step', 'Adam on G'))


def bench_phases(a, device, rows):
    "Time each part of a pix2pix step by wrapping the methods `optimize_parameters` calls."
    bs = a.batch_sizes[0]
    torch.manual_seed(0)
    m, _ = build_model('pix2pix', bs, a, device)
    spent = {name: [] for name, _ in PHASES}
    for name, _ in PHASES:
        owner, _, attr = name.rpartition('.')
        target = getattr(m, owner) if owner else m
        def timed(*args, _f=getattr(target, attr), _name=name, **kw):
            sync(device); t = time.perf_counter()
            out = _f(*args, **kw)
            sync(device); spent[_name].append(time.perf_counter() - t)
            return out
        setattr(target, attr, timed)  # an instance attribute: only this model is timed
    times = time_steps(m, random_batch(bs, a.size), a.steps, a.warmup, device)
    for name, what in PHASES:
        t = spent[name][a.warmup:]
        rows.append((f'phase: {name}', what + ', ' + config(a, 'pix2pix'), bs, f'{min(t):.3f}', f'{statistics.median(t):.3f}',
                     '', '', f'{statistics.median(t) / statistics.median(times):.0%} of the step'))
    rows.append(('phase: whole step', config(a, 'pix2pix'), bs, f'{min(times):.3f}', f'{statistics.median(times):.3f}',
                 f'{bs / statistics.median(times):.2f}', peak_memory(device), ''))
    del m


def record_convolutions(model):
    "The convolution kernels one training step calls: a list of (op, args), the tensors cloned."
    from torch.utils._python_dispatch import TorchDispatchMode
    conv_ops = (torch.ops.aten.convolution.default, torch.ops.aten.convolution_backward.default)
    calls = []
    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in conv_ops:
                calls.append((func, [x.detach().clone() if torch.is_tensor(x) else x for x in args]))
            return func(*args, **(kwargs or {}))
    with Recorder(): model.optimize_parameters()
    return calls


def conv_label(func, args):
    "What a recorded convolution call computes: its part (forward, backward to which inputs) and its shapes."
    backward = func is torch.ops.aten.convolution_backward.default
    x, w, stride, transposed = (args[1], args[2], args[4], args[7]) if backward else (args[0], args[1], args[3], args[6])
    part = 'backward ' + '+'.join(n for n, on in zip(('dx', 'dw', 'db'), args[-1]) if on) if backward else 'forward'
    return f'{"transposed " if transposed else ""}conv {part}', f'x {tuple(x.shape)}, w {tuple(w.shape)}, stride {stride[0]}'


def bench_convolutions(a, device, rows):
    """Replay each convolution kernel of a pix2pix step on its own: the time the step cannot go below
    without faster convolution kernels (or different numerics), set against the FLOP floor."""
    from torch.utils.flop_counter import FlopCounterMode
    bs = a.batch_sizes[0]
    torch.manual_seed(0)
    m, _ = build_model('pix2pix', bs, a, device)
    m.set_input(random_batch(bs, a.size))
    for _ in range(a.warmup): m.optimize_parameters()
    calls = record_convolutions(m)
    del m
    groups = {}  # identical calls (same op, shapes and outputs) are timed once and counted
    for func, args in calls:
        key = conv_label(func, args)
        groups.setdefault(key, [func, args, 0])[2] += 1
    total_min = total_med = total_flops = 0
    for (part, shapes), (func, args, count) in groups.items():
        counter = FlopCounterMode(display=False)
        with counter: func(*args)
        times = []
        for _ in range(a.steps):
            sync(device); t = time.perf_counter(); func(*args); sync(device); times.append(time.perf_counter() - t)
        flops = counter.get_total_flops()
        total_min += count * min(times); total_med += count * statistics.median(times); total_flops += count * flops
        rows.append((part, shapes, bs, f'{count * min(times):.4f}', f'{count * statistics.median(times):.4f}', '', '',
                     f'{count} call(s) per step, {flops / min(times) / 1e9:.0f} GFLOP/s'))
    floor = total_flops / matmul_rate(device)
    rows.append(('convolutions alone', f'pix2pix: the {len(calls)} convolution calls of one step, ' + config(a, 'pix2pix'), bs,
                 f'{total_min:.3f}', f'{total_med:.3f}', '', '',
                 f'{total_flops / 1e9:.1f} GFLOP; FLOP floor {floor:.3f} s; convolutions alone = {total_min / floor:.2f}x the floor'))


def bench_data(a, device, rows):
    opt = TrainOptions().gather(['--dataroot', 'builtin:facades', '--model', 'pix2pix', '--device', str(device),
                                 '--num_threads', str(a.num_threads), '--batch_size', str(a.batch_sizes[0])])
    with contextlib.redirect_stdout(io.StringIO()): data = gan_nb.data.create_dataset(opt)
    rates = []
    for epoch in range(a.data_epochs + 1):  # the first epoch starts the workers: a warm-up
        t, n = time.perf_counter(), 0
        for batch in data: n += len(batch['A'])
        if epoch: rates.append(n / (time.perf_counter() - t))
    rows.append(('data loader', f'builtin:facades aligned, 286 resize, 256 crop, flip, {a.num_threads} workers',
                 a.batch_sizes[0], f'{1 / max(rates):.4f}', f'{1 / statistics.median(rates):.4f}',
                 f'{statistics.median(rates):.1f}', peak_memory(device), 's/image; images/s over whole epochs'))


def bench_epoch(a, device, rows):
    try: from gan_nb.train import train
    except Exception as e:  # the training engine is not there (yet)
        rows.append(('epoch', 'skipped', '', '', '', '', '', f'gan_nb.train.train unavailable ({type(e).__name__})'))
        return
    with tempfile.TemporaryDirectory() as d:
        args = ['--dataroot', 'builtin:facades', '--model', 'pix2pix', '--direction', 'BtoA', '--device', str(device),
                '--n_epochs', '1', '--n_epochs_decay', '0', '--checkpoints_dir', d, '--name', 'bench',
                '--batch_size', str(a.batch_sizes[0]), '--num_threads', str(a.num_threads), '--display_freq', '1000000',
                '--print_freq', '1000000', '--save_latest_freq', '1000000', '--no_html',
                '--max_dataset_size', str(a.epoch_images), *fast_flags(a)]
        opt = TrainOptions().gather(args)
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()): train(opt, progress=False)
        dt = time.perf_counter() - t
    n = min(64, a.epoch_images)
    rows.append(('epoch (train)', f'pix2pix {n} images, ' + config(a, 'pix2pix'), a.batch_sizes[0], '', f'{dt:.1f}',
                 f'{n / dt:.2f}', peak_memory(device), 'seconds per epoch, end to end (model build, data, saving)'))


def matmul_rate(device, n=4096, repeats=5):
    "Measured fp32 matrix-multiply rate in FLOP/s (the best of a few `torch.mm` of n x n matrices)."
    x, y = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    torch.mm(x, y); sync(device)
    best = float('inf')
    for _ in range(repeats):
        t = time.perf_counter(); torch.mm(x, y); sync(device); best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def copy_bandwidth(device, mib=256, repeats=5):
    "Measured memory bandwidth in bytes/s: the best of a few copies of a `mib` MiB float32 tensor (read + write)."
    x = torch.empty(mib * 2**18, device=device).fill_(1.0)
    y = torch.empty_like(x).fill_(0.0)
    best = float('inf')
    for _ in range(repeats):
        t = time.perf_counter(); y.copy_(x); sync(device); best = min(best, time.perf_counter() - t)
    return 2 * x.numel() * x.element_size() / best


def step_flops(name, bs, a, device):
    "FLOPs of one training step, and the number of parameters the optimisers update."
    from torch.utils.flop_counter import FlopCounterMode
    m, _ = build_model(name, bs, a, device)
    m.set_input(random_batch(bs, a.size))
    counter = FlopCounterMode(display=False)
    with counter: m.optimize_parameters()
    return counter.get_total_flops(), sum(p.numel() for o in m.optimizers for g in o.param_groups for p in g['params'])


ADAM_PASSES = 7  # the least memory traffic of one Adam update: read parameter, gradient, 2 moments; write 3 back


def bench_flops(a, device, rows, results):
    rate, bandwidth = matmul_rate(device), copy_bandwidth(device)
    rows.append(('fp32 matmul rate', '4096x4096 torch.mm, best of 5', '', '', '', '', '', f'{rate / 1e9:.0f} GFLOP/s'))
    rows.append(('memory bandwidth', '256 MiB copy, best of 5', '', '', '', '', '', f'{bandwidth / 1e9:.1f} GB/s (read + write)'))
    for (name, bs) in sorted(results) or [('pix2pix', a.batch_sizes[0])]:
        flops, params = step_flops(name, bs, a, device)
        floor = flops / rate
        times = results.get((name, bs))
        note = f'{flops / 1e9:.1f} GFLOP/step; floor {floor:.3f} s/step'
        if times:
            note += (f'; measured min {min(times):.3f} = {min(times) / floor:.2f}x floor, '
                     f'{floor / min(times):.0%} of matmul peak')
        rows.append(('FLOP limit', f'{name} (convolutions, matmuls; not Adam, norms)', bs, '', '', '', '', note))
        adam = ADAM_PASSES * 4 * params / bandwidth
        note = (f'{params / 1e6:.1f} M parameters x {ADAM_PASSES} float32 passes: {adam:.3f} s/step; '
                f'FLOP floor + Adam floor {floor + adam:.3f} s/step')
        if times: note += f' (measured min = {min(times) / (floor + adam):.2f}x)'
        rows.append(('Adam memory limit', f'{name}: the optimiser update is memory-bound', bs, '', '', '', '', note))


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--what', default='pix2pix,cycle_gan,data,flops', help=f'comma-separated: {", ".join(WHATS)}')
    p.add_argument('--steps', type=int, default=10, help='timed training steps per configuration')
    p.add_argument('--warmup', type=int, default=2, help='untimed steps first (allocation, kernel choice, compilation)')
    p.add_argument('--batch-sizes', type=lambda s: [int(x) for x in s.split(',')], default=[1, 4])
    p.add_argument('--size', type=int, default=256, help='image side (crop size)')
    p.add_argument('--device', default='cpu', help='cpu, cuda, cuda:N, mps or auto')
    p.add_argument('--num-threads', type=int, default=2, help='data-loader workers (--num_threads) for data and epoch')
    p.add_argument('--data-epochs', type=int, default=2, help='timed epochs of the data loader')
    p.add_argument('--epoch-images', type=int, default=64, help='images in the timed training epoch (64: all)')
    p.add_argument('--reference-adam', action='store_true', help="use the reference's plain torch.optim.Adam (the 'before')")
    p.add_argument('--amp', default='off', choices=('off', 'bf16', 'fp16'))
    p.add_argument('--channels_last', '--channels-last', action='store_true')
    p.add_argument('--compile', action='store_true')
    p.add_argument('--fused_adam', '--fused-adam', action='store_true')
    p.add_argument('--system-malloc', action='store_true',
                   help="leave glibc's malloc as it comes (training calls gan_nb's reuse_freed_memory on the CPU)")
    a = p.parse_args(argv)
    a.what = [w.strip() for w in a.what.split(',') if w.strip()]
    if bad := [w for w in a.what if w not in WHATS]: p.error(f'unknown --what {bad}; choose from {", ".join(WHATS)}')
    return a


def main(argv=None):
    a = parse(argv)
    torch.set_num_threads(os.cpu_count())  # explicitly: all cores for the compute threads
    device = resolve_device(a.device)
    if device.type == 'cpu' and not a.system_malloc: reuse_freed_memory()  # as gan_nb.train.train does
    rows, results = [], {}
    for what in a.what:
        if what in ('pix2pix', 'cycle_gan'): bench_model(what, a, device, rows, results)
        elif what == 'data': bench_data(a, device, rows)
        elif what == 'epoch': bench_epoch(a, device, rows)
        elif what == 'phases': bench_phases(a, device, rows)
        elif what == 'convs': bench_convolutions(a, device, rows)
    if 'flops' in a.what: bench_flops(a, device, rows, results)
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print(f'machine: {machine(device)}; device {device}; torch {torch.__version__}; {torch.get_num_threads()} threads; '
          f'{datetime.datetime.now().isoformat(timespec="minutes")}; load average {load:.2f} at the end')
    print(f'{a.steps} timed steps after {a.warmup} warm-up; min and median (a shared machine is noisy: trust the min)\n')
    print('| what | configuration | batch | min s/step | median s/step | images/s (median) | peak memory | note |')
    print('|---|---|---|---|---|---|---|---|')
    for r in rows: print('| ' + ' | '.join(str(c) for c in r) + ' |')


if __name__ == '__main__':
    main()
