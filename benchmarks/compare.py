"""gan_nb against a plain PyTorch step written the way the reference writes it, side by side in one process.

The plain step (`PlainPix2Pix`, `PlainCycleGAN` below) is built from gan_nb's own networks and losses with the
same initial weights, and trained as the reference's `train.py` trains: `torch.optim.Adam` with its CPU
default (a per-parameter loop, `foreach=False`), glibc's malloc as it runs in a process that never tunes
it, PyTorch's default thread count. The contenders run **alternately**, one step each in turn, so that the
load of a shared machine hits all of them alike, and every figure is printed as a ratio to the plain step
(> 1: faster than plain). Each run prints the CPU, its flags (AVX2, AVX-512, AVX512_BF16, AMX) and the load
average, because a ratio means little without them.

    python benchmarks/compare.py                                  # everything, CPU, 256 px
    python benchmarks/compare.py --what step,flags --steps 4      # the pix2pix step: default and each speed flag
    python benchmarks/compare.py --what identical                 # same losses and weights after 3 steps?
    python benchmarks/compare.py --what adam                      # the optimiser update alone: plain, foreach, blocked, fused
    python benchmarks/compare.py --what threads --size 128 --netG unet_128 --ngf 32   # one competing process
    python benchmarks/compare.py --what busy_fast                 # --fast against plain, quiet and beside that process
    python benchmarks/compare.py --what epoch,panel --epoch-images 16
    python benchmarks/compare.py --what panel_fresh    # the panel in a fresh process, its main thread never running torch
    python benchmarks/compare.py --device cuda                    # the same on a GPU (compile included)
"""
from __future__ import annotations
import argparse
import contextlib
import copy
import ctypes
import datetime
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere in the repository

import torch

from gan_nb.options import TrainOptions, resolve_device
import gan_nb.data  # registers the datasets
import gan_nb.pix2pix, gan_nb.cycle_gan  # register the models
from gan_nb.base_model import create_model, reuse_freed_memory
from gan_nb.networks import define_G, define_D
from gan_nb.losses import GANLoss
from gan_nb.cycle_gan import ImagePool
from gan_nb import hardware

WHATS = ('identical', 'adam', 'step', 'flags', 'cycle_gan', 'data', 'threads', 'busy_fast', 'epoch', 'panel', 'panel_fresh')
FLAG_SETS = (['--fused_adam'], ['--channels_last'], ['--matmul_conv'], ['--amp', 'bf16'], ['--amp', 'fp16'],
             ['--fused_adam', '--matmul_conv'], ['--channels_last', '--fused_adam', '--matmul_conv'],
             ['--amp', 'bf16', '--channels_last', '--fused_adam'],
             ['--amp', 'bf16', '--channels_last', '--fused_adam', '--matmul_conv'], ['--fast'])


# --- the plain steps: the reference's way, on gan_nb's networks -------------------------------------------

def set_requires_grad(nets, requires_grad):
    for net in nets:
        for p in net.parameters(): p.requires_grad = requires_grad


class PlainPix2Pix:
    "pix2pix trained as the reference writes it, from options `o`, with the weights of a gan_nb `Pix2PixModel` if given."
    def __init__(self, o, device, model=None):
        self.opt, self.device = o, device
        self.netG = define_G(o.input_nc, o.output_nc, o.ngf, o.netG, o.norm, not o.no_dropout, o.init_type, o.init_gain).to(self.device)
        self.netD = define_D(o.input_nc + o.output_nc, o.ndf, o.netD, o.n_layers_D, o.norm, o.init_type, o.init_gain).to(self.device)
        if model is not None: self.netG.load_state_dict(model.netG.state_dict()); self.netD.load_state_dict(model.netD.state_dict())
        self.criterionGAN, self.criterionL1 = GANLoss(o.gan_mode).to(self.device), torch.nn.L1Loss()
        adam = lambda net: torch.optim.Adam(net.parameters(), lr=o.lr, betas=(o.beta1, 0.999), foreach=False)
        self.optimizer_G, self.optimizer_D = adam(self.netG), adam(self.netD)

    def set_input(self, batch):
        self.real_A, self.real_B = batch['A'].to(self.device), batch['B'].to(self.device)

    def optimize_parameters(self):
        self.fake_B = self.netG(self.real_A)
        set_requires_grad([self.netD], True)
        self.optimizer_D.zero_grad()
        fake_AB = torch.cat((self.real_A, self.fake_B), 1)
        self.loss_D_fake = self.criterionGAN(self.netD(fake_AB.detach()), False)
        self.loss_D_real = self.criterionGAN(self.netD(torch.cat((self.real_A, self.real_B), 1)), True)
        ((self.loss_D_fake + self.loss_D_real) * 0.5).backward()
        self.optimizer_D.step()
        set_requires_grad([self.netD], False)
        self.optimizer_G.zero_grad()
        self.loss_G_GAN = self.criterionGAN(self.netD(torch.cat((self.real_A, self.fake_B), 1)), True)
        self.loss_G_L1 = self.criterionL1(self.fake_B, self.real_B) * self.opt.lambda_L1
        (self.loss_G_GAN + self.loss_G_L1).backward()
        self.optimizer_G.step()

    def losses(self): return {k: float(getattr(self, 'loss_' + k).detach()) for k in ('G_GAN', 'G_L1', 'D_real', 'D_fake')}
    def nets(self): return {'G': self.netG, 'D': self.netD}


class PlainCycleGAN:
    "CycleGAN trained as the reference writes it, from options `o`, with the weights of a gan_nb `CycleGANModel`."
    def __init__(self, o, device, model):
        self.device, self.opt = device, o
        G = lambda i, n: define_G(i, n, o.ngf, o.netG, o.norm, not o.no_dropout, o.init_type, o.init_gain).to(self.device)
        D = lambda i: define_D(i, o.ndf, o.netD, o.n_layers_D, o.norm, o.init_type, o.init_gain).to(self.device)
        self.netG_A, self.netG_B, self.netD_A, self.netD_B = G(o.input_nc, o.output_nc), G(o.output_nc, o.input_nc), D(o.output_nc), D(o.input_nc)
        for name in ('G_A', 'G_B', 'D_A', 'D_B'): getattr(self, 'net' + name).load_state_dict(getattr(model, 'net' + name).state_dict())
        self.fake_A_pool, self.fake_B_pool = ImagePool(o.pool_size), ImagePool(o.pool_size)
        self.criterionGAN, self.criterionCycle, self.criterionIdt = GANLoss(o.gan_mode).to(self.device), torch.nn.L1Loss(), torch.nn.L1Loss()
        adam = lambda params: torch.optim.Adam(params, lr=o.lr, betas=(o.beta1, 0.999), foreach=False)
        self.optimizer_G = adam(list(self.netG_A.parameters()) + list(self.netG_B.parameters()))
        self.optimizer_D = adam(list(self.netD_A.parameters()) + list(self.netD_B.parameters()))

    def set_input(self, batch):
        self.real_A, self.real_B = batch['A'].to(self.device), batch['B'].to(self.device)

    def backward_D_basic(self, netD, real, fake):
        loss = (self.criterionGAN(netD(real), True) + self.criterionGAN(netD(fake.detach()), False)) * 0.5
        loss.backward()
        return loss

    def optimize_parameters(self):
        o = self.opt
        self.fake_B = self.netG_A(self.real_A); self.rec_A = self.netG_B(self.fake_B)
        self.fake_A = self.netG_B(self.real_B); self.rec_B = self.netG_A(self.fake_A)
        set_requires_grad([self.netD_A, self.netD_B], False)
        self.optimizer_G.zero_grad()
        self.loss_idt_A = self.criterionIdt(self.netG_A(self.real_B), self.real_B) * o.lambda_B * o.lambda_identity
        self.loss_idt_B = self.criterionIdt(self.netG_B(self.real_A), self.real_A) * o.lambda_A * o.lambda_identity
        self.loss_G_A = self.criterionGAN(self.netD_A(self.fake_B), True)
        self.loss_G_B = self.criterionGAN(self.netD_B(self.fake_A), True)
        self.loss_cycle_A = self.criterionCycle(self.rec_A, self.real_A) * o.lambda_A
        self.loss_cycle_B = self.criterionCycle(self.rec_B, self.real_B) * o.lambda_B
        (self.loss_G_A + self.loss_G_B + self.loss_cycle_A + self.loss_cycle_B + self.loss_idt_A + self.loss_idt_B).backward()
        self.optimizer_G.step()
        set_requires_grad([self.netD_A, self.netD_B], True)
        self.optimizer_D.zero_grad()
        self.loss_D_A = self.backward_D_basic(self.netD_A, self.real_B, self.fake_B_pool.query(self.fake_B))
        self.loss_D_B = self.backward_D_basic(self.netD_B, self.real_A, self.fake_A_pool.query(self.fake_A))
        self.optimizer_D.step()

    def losses(self):
        return {k: float(getattr(self, 'loss_' + k).detach()) for k in ('D_A', 'G_A', 'cycle_A', 'idt_A', 'D_B', 'G_B', 'cycle_B', 'idt_B')}
    def nets(self): return {n: getattr(self, 'net' + n) for n in ('G_A', 'G_B', 'D_A', 'D_B')}


# --- the process settings each contender runs under ------------------------------------------------------

def glibc():
    try:
        libc = ctypes.CDLL(None); libc.gnu_get_libc_version
        return libc
    except (OSError, AttributeError): return None


def plain_malloc():
    """glibc's malloc as it runs in a process that never tunes it, in its steady state: blocks under 32 MiB
    from the heap (its dynamic threshold has risen to its maximum), larger ones mapped and unmapped each time,
    the heap trimmed above 64 MiB. (Once a process has called `mallopt`, the dynamic threshold cannot come
    back; this is where it settles.)"""
    libc = glibc()
    if libc is None: return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4
    libc.mallopt(M_MMAP_THRESHOLD, 32 * 2**20); libc.mallopt(M_TRIM_THRESHOLD, 64 * 2**20); libc.mallopt(M_MMAP_MAX, 65536)


class Contender:
    "A training step to time and the process settings it runs under (threads, malloc)."
    def __init__(self, name, model, batch, threads, tuned_malloc, device):
        self.name, self.model, self.batch, self.threads, self.tuned_malloc, self.device = name, model, batch, threads, tuned_malloc, device
        self.times = []

    def step(self):
        if self.device.type == 'cpu':
            torch.set_num_threads(self.threads)
            reuse_freed_memory() if self.tuned_malloc else plain_malloc()
        sync(self.device)
        t = time.perf_counter()
        self.model.set_input(self.batch)
        self.model.optimize_parameters()
        sync(self.device)
        return time.perf_counter() - t


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)


def alternate(contenders, steps, warmup):
    "Each contender steps in turn: `warmup` untimed rounds, then `steps` timed ones."
    for _ in range(warmup):
        for c in contenders: c.step()
    for _ in range(steps):
        for c in contenders: c.times.append(c.step())


def report(contenders, base, what):
    "One line per contender: median and min s/step, and the speed-up over `base` (median and min)."
    for c in contenders:
        med, best = statistics.median(c.times), min(c.times)
        ratio = statistics.median(base.times) / med
        print(f'| {what} | {c.name} | {best:.3f} | {med:.3f} | **{ratio:.2f}x** | {min(base.times) / best:.2f}x | {load():.2f} |')


def table_head(title):
    print(f'\n{title}\n')
    print('| what | contender | min s/step | median s/step | speed-up over plain (median) | (min) | load |')
    print('|---|---|---|---|---|---|---|')


# --- building ----------------------------------------------------------------------------------------------

def gan_nb_opt(a, model, flags=(), device='cpu'):
    args = ['--dataroot', 'unused', '--model', model, '--device', str(device), '--batch_size', str(a.batch_size),
            '--crop_size', str(a.size), '--load_size', str(a.size), '--checkpoints_dir', tempfile.gettempdir(), *flags]
    if model == 'pix2pix': args += ['--netG', a.netG, '--ngf', str(a.ngf)]
    return TrainOptions().gather(args)


def gan_nb_model(a, model, flags=(), device='cpu', say=print):
    "A gan_nb model as a user gets it (`create_model` + `setup`: the speed settings applied), and the thread count it chose."
    opt = gan_nb_opt(a, model, flags, device)
    torch.manual_seed(0)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        hardware.apply_speed_settings(opt)  # what create_model and setup do (a no-op the second time)
        m = create_model(opt); m.setup(opt)
    for line in out.getvalue().splitlines():
        if line.startswith(('note:', '--fast', '--amp auto', 'threads:')): say('    ' + line)
    return m, torch.get_num_threads()


def random_batch(a, nc_in=3, nc_out=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = lambda nc: torch.rand(a.batch_size, nc, a.size, a.size, generator=g) * 2 - 1
    return {'A': x(nc_in), 'B': x(nc_out), 'A_paths': ['a'] * a.batch_size, 'B_paths': ['b'] * a.batch_size}


def load():
    return os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')


# --- what is compared --------------------------------------------------------------------------------------

def same_numbers(a, device, model='pix2pix', flags=(), steps=3):
    "Train the plain step and gan_nb's from the same weights for `steps` steps; the largest loss and weight differences."
    torch.set_num_threads(hardware.DEFAULT_THREADS)
    m, _ = gan_nb_model(a, model, [*flags, '--cpu_threads', str(hardware.DEFAULT_THREADS)], device, say=lambda s: None)
    plain = (PlainPix2Pix if model == 'pix2pix' else PlainCycleGAN)(m.opt, m.device, m)
    for runner in (plain, m):
        for i in range(steps):
            torch.manual_seed(100 + i); random.seed(100 + i)  # dropout masks and the image pool's draws alike
            runner.set_input(random_batch(a, seed=i)); runner.optimize_parameters()
    gan_losses = m.get_current_losses()
    loss_diff = max(abs(gan_losses[k] - v) for k, v in plain.losses().items())
    weight_diff = max((p - q).abs().max().item() for name, net in plain.nets().items()
                      for p, q in zip(net.state_dict().values(), getattr(m, 'net' + name).state_dict().values()) if p.is_floating_point())
    return loss_diff, weight_diff


def bench_identical(a, device):
    print('\nSame numbers: the plain step and gan_nb\'s, from the same weights, 3 steps on the same batches '
          f'(both on {hardware.DEFAULT_THREADS} threads)\n')
    print('| model | flags | max loss difference | max weight difference | identical to 1e-6 |')
    print('|---|---|---|---|---|')
    for model, flags in (('pix2pix', ()), ('pix2pix', ('--fused_adam',)), ('pix2pix', ('--channels_last',)),
                         ('pix2pix', ('--matmul_conv',)), ('cycle_gan', ())):
        if model == 'cycle_gan' and 'cycle_gan' not in a.what and 'identical' not in a.what: continue
        la = copy.copy(a)
        if model == 'cycle_gan': la.size = min(a.size, 64)  # the numbers, not the speed: small is enough
        loss_diff, weight_diff = same_numbers(la, device, model, flags)
        ok = loss_diff <= 1e-6 and weight_diff <= 1e-6
        print(f'| {model} ({la.size} px) | {" ".join(flags) or "default"} | {loss_diff:.2e} | {weight_diff:.2e} | {"yes" if ok else "no"} |')


def bench_adam(a, device):
    "The optimiser update alone, on pix2pix's G and D: the reference's loop, multi-tensor, `BlockedAdam`, fused."
    from gan_nb.optim import BlockedAdam
    print(f'\nAdam update of pix2pix\'s G and D ({a.netG}, ngf {a.ngf}), gradients set, optimisers in turn\n')
    print('| what | optimiser | min s/update | median s/update | speed-up over plain (median) | load |')
    print('|---|---|---|---|---|---|')
    m, _ = gan_nb_model(a, 'pix2pix', ['--cpu_threads', str(hardware.DEFAULT_THREADS)], device, say=lambda s: None)
    weights = [p.detach() for net in (m.netG, m.netD) for p in net.parameters()]
    kw = dict(lr=m.opt.lr, betas=(m.opt.beta1, 0.999))
    del m
    def params(layout=torch.contiguous_format):  # channels-last: the weights as --channels_last lays them out
        ps = [w.clone(memory_format=layout if w.dim() == 4 else torch.contiguous_format).requires_grad_() for w in weights]
        for p in ps: p.grad = torch.randn_like(p) * 1e-3
        return ps
    makers = {'plain (torch.optim.Adam, foreach=False)': lambda: torch.optim.Adam(params(), foreach=False, **kw),
              'multi-tensor (foreach=True)': lambda: torch.optim.Adam(params(), foreach=True, **kw),
              'BlockedAdam (gan_nb default on a CPU)': lambda: BlockedAdam(params(), **kw)}
    if device.type == 'cpu':
        cl = torch.channels_last
        makers['fused (--fused_adam)'] = lambda: torch.optim.Adam(params(), fused=True, **kw)
        makers['fused, channels-last weights: torch.optim.Adam (copies)'] = lambda: torch.optim.Adam(params(cl), fused=True, **kw)
        makers['fused, channels-last weights: BlockedAdam (flat views, --fast)'] = lambda: BlockedAdam(params(cl), fused=True, **kw)
    plain_malloc()  # the allocator as an untuned process has it, for all alike
    runs = {name: make() for name, make in makers.items()}
    times = {name: [] for name in runs}
    for i in range(a.steps + a.warmup):
        for name, o in runs.items():
            t = time.perf_counter(); o.step(); sync(device)
            if i >= a.warmup: times[name].append(time.perf_counter() - t)
    base = statistics.median(next(iter(times.values())))
    for name, ts in times.items():
        print(f'| adam | {name} | {min(ts):.3f} | {statistics.median(ts):.3f} | **{base / statistics.median(ts):.2f}x** | {load():.2f} |')


def bench_step(a, device, flag_sets):
    "The default step, and each flag set, against the plain step, alternating."
    table_head(f'pix2pix step ({a.netG}, ngf {a.ngf}, basic D, batch norm, {a.size} px, batch {a.batch_size}), '
               f'{a.steps} timed rounds after {a.warmup} warm-up, contenders in turn')
    batch = random_batch(a)
    base_model, _ = gan_nb_model(a, 'pix2pix', ['--cpu_threads', str(hardware.DEFAULT_THREADS)], device)
    plain = Contender('plain (reference-style: per-parameter Adam, no settings)', PlainPix2Pix(base_model.opt, device, base_model), batch,
                      hardware.DEFAULT_THREADS, False, device)
    default_all = Contender(f'gan_nb default, {hardware.DEFAULT_THREADS} threads (identical numbers)', base_model, batch,
                            hardware.DEFAULT_THREADS, True, device)
    contenders = [plain, default_all]
    if not flag_sets:  # the default as a user gets it: threads chosen by the probe
        m, threads = gan_nb_model(a, 'pix2pix', [], device)
        if threads != hardware.DEFAULT_THREADS:
            contenders.append(Contender(f'gan_nb default, threads chosen now: {threads}', m, batch, threads, True, device))
    alternate(contenders, a.steps, a.warmup)
    report(contenders, plain, 'pix2pix step')
    for flags in flag_sets:  # one at a time beside the same plain step, so at most three models are alive
        if device.type == 'cpu' and 'fp16' in flags and not hardware.native_fp16():
            print(f'| pix2pix step | {" ".join(flags)}: not timed, float16 is emulated on this CPU (no AMX_FP16): '
                  'tens of seconds a step; `check_amp` says so in one line | | | | | |'); continue
        try: m, threads = gan_nb_model(a, 'pix2pix', [*flags, '--cpu_threads', str(hardware.DEFAULT_THREADS)], device)
        except Exception as e:
            print(f'| pix2pix step | {" ".join(flags)}: cannot run here ({type(e).__name__}: {e}) | | | | | |'); continue
        resolved = ' -> ' + ' '.join(f'--{k} {getattr(m.opt, k)}' for k in hardware.SPEED_FLAGS_OFF) if (
            '--fast' in flags or 'auto' in flags) else (' -> --amp off (fallback)' if '--amp' in flags and m.opt.amp == 'off' else '')
        c = Contender(' '.join(flags) + resolved, m, batch, threads, True, device)
        plain.times, default_all.times = [], []
        alternate([plain, default_all, c], a.steps, a.warmup)
        report([c], plain, 'pix2pix step')
        print(f'|  | (same run) {" ".join(flags)} against gan_nb default | | | {statistics.median(default_all.times) / statistics.median(c.times):.2f}x | | |')
        del m, c


def bench_cycle_gan(a, device):
    ca = copy.copy(a); ca.size = a.cycle_size
    table_head(f'CycleGAN step (resnet_9blocks x2, basic D x2, instance norm, pool 50, {ca.size} px), contenders in turn')
    batch = random_batch(ca)
    m, _ = gan_nb_model(ca, 'cycle_gan', ['--cpu_threads', str(hardware.DEFAULT_THREADS)], device)
    plain = Contender('plain (reference-style)', PlainCycleGAN(m.opt, device, m), batch, hardware.DEFAULT_THREADS, False, device)
    ours = Contender('gan_nb default', m, batch, hardware.DEFAULT_THREADS, True, device)
    alternate([plain, ours], max(2, a.steps // 2), 1)
    report([plain, ours], plain, 'CycleGAN step')


def bench_data(a, device):
    "gan_nb's data loader (workers capped at the cores) against the reference's (`--num_threads` workers as given)."
    print(f'\nData loader: builtin:facades, 286 resize, 256 crop, flip, batch 1, --num_threads 4 on {hardware.usable_cores()} usable cores; epochs in turn\n')
    print('| what | contender | images/s (median of epochs) | ratio to plain | load |')
    print('|---|---|---|---|---|')
    import warnings
    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
        warnings.simplefilter('ignore')  # PyTorch warns about 4 workers on fewer cores: that is the point
        opt = TrainOptions().gather(['--dataroot', facades(d), '--model', 'pix2pix', '--device', str(device), '--num_threads', '4'])
        with contextlib.redirect_stdout(io.StringIO()): ours = gan_nb.data.create_dataset(opt)
        plain = torch.utils.data.DataLoader(ours.dataset, batch_size=1, shuffle=True, num_workers=4)  # the reference's loader
        rates = {'plain (4 workers, restarted every epoch)': [], f'gan_nb ({ours.dataloader.num_workers} persistent workers)': []}
        for epoch in range(a.data_epochs + 1):
            for (name, rs), loader in zip(rates.items(), (plain, ours)):
                t, n = time.perf_counter(), 0
                for batch in loader: n += len(batch['A'])
                if epoch: rs.append(n / (time.perf_counter() - t))  # the first epoch starts the workers: a warm-up
        del ours, plain
    base = statistics.median(next(iter(rates.values())))
    for name, rs in rates.items():
        print(f'| data loader | {name} | {statistics.median(rs):.1f} | {statistics.median(rs) / base:.2f}x | {load():.2f} |')


def spin():
    "A CPU-bound process (one busy core)."
    return subprocess.Popen([sys.executable, '-c', 'while True: pass'])


def bench_threads(a, device):
    "One competing CPU-bound process: the step with all threads (today), with fewer, and as `pick_threads` chooses."
    if device.type != 'cpu': return
    ta = copy.copy(a)
    choices = hardware.thread_choices()
    print(f'\nContention: pix2pix step ({a.netG}, ngf {a.ngf}, {a.size} px), quiet and beside one competing CPU-bound '
          f'process, each thread count in turn\n')
    print('| threads | quiet: median s/step | with one competing process: median s/step | busy / quiet default | load |')
    print('|---|---|---|---|---|')
    m, _ = gan_nb_model(ta, 'pix2pix', ['--cpu_threads', str(choices[0])], device)
    batch = random_batch(ta)
    runs = {n: Contender(f'{n} threads', m, batch, n, True, device) for n in choices}
    alternate(list(runs.values()), a.steps, a.warmup)
    quiet = {n: statistics.median(c.times) for n, c in runs.items()}
    quiet_load = load()
    other = spin()
    try:
        time.sleep(0.5)
        chosen, probe = hardware.pick_threads()
        for c in runs.values(): c.times = []
        alternate(list(runs.values()), a.steps, 1)
        busy = {n: statistics.median(c.times) for n, c in runs.items()}
        busy_load = load()
    finally:
        other.kill(); other.wait()
    for n in choices:
        print(f'| {n} (fixed) | {quiet[n]:.3f} | {busy[n]:.3f} | {busy[n] / quiet[choices[0]]:.2f}x | {quiet_load:.2f} / {busy_load:.2f} |')
    print(f'| adaptive: `pick_threads` chose {chosen} ({", ".join(f"{n}: {t * 1000:.0f} ms" for n, t in probe.items())}) '
          f'| {quiet[choices[0]]:.3f} | {busy[chosen]:.3f} | **{busy[chosen] / quiet[choices[0]]:.2f}x** (target <= 1.8x) | {busy_load:.2f} |')


def bench_busy_fast(a, device):
    "`--fast` against the plain step, quiet and beside one competing process (both on the threads `pick_threads` chooses, and on all), in turn."
    if device.type != 'cpu': return
    all_threads, batch, quiet = hardware.DEFAULT_THREADS, random_batch(a), lambda s: None
    base, _ = gan_nb_model(a, 'pix2pix', ['--cpu_threads', str(all_threads)], device, say=quiet)
    plain = Contender('plain', PlainPix2Pix(base.opt, device, base), batch, all_threads, False, device)
    del base
    fast, _ = gan_nb_model(a, 'pix2pix', ['--fast', '--cpu_threads', str(all_threads)], device, say=quiet)
    chosen = ' '.join(f'--{k} {getattr(fast.opt, k)}' for k in hardware.SPEED_FLAGS_OFF)
    ours = Contender('--fast', fast, batch, all_threads, True, device)
    def medians(threads):  # both contenders on `threads`, in turn
        for c in (plain, ours): c.threads, c.times = threads, []
        alternate([plain, ours], a.steps, 1)
        return statistics.median(plain.times), statistics.median(ours.times), load()
    rows = [('quiet', all_threads, medians(all_threads))]
    other = spin()
    try:
        time.sleep(0.5)
        picked, probe = hardware.pick_threads()
        timed = ', '.join(f'{n}: {t * 1000:.0f} ms' for n, t in probe.items())
        rows.append((f'one competing process, the threads `pick_threads` chose ({timed})', picked, medians(picked)))
        for n in (n for n in hardware.thread_choices() if n != picked): rows.append(('one competing process', n, medians(n)))
    finally:
        other.kill(); other.wait()
    print(f'\n`--fast` ({chosen}) against the plain step, quiet and beside one competing CPU-bound process, in turn\n')
    print('| machine | threads (both) | plain: median s/step | --fast: median s/step | speed-up over plain | load |')
    print('|---|---|---|---|---|---|')
    for label, threads, (p, f, busy) in rows: print(f'| {label} | {threads} | {p:.3f} | {f:.3f} | **{p / f:.2f}x** | {busy:.2f} |')


def facades(d):
    "The built-in facades generated once in `d` (not timed), as an absolute path."
    with contextlib.redirect_stdout(io.StringIO()): return str(Path(gan_nb.data.resolve_dataroot('builtin:facades', root=Path(d)/'datasets')).resolve())


def epoch_args(a, d, name):
    return ['--dataroot', facades(d), '--model', 'pix2pix', '--direction', 'BtoA', '--device', a.device,
            '--n_epochs', '1', '--n_epochs_decay', '0', '--checkpoints_dir', d, '--name', name, '--no_html',
            '--max_dataset_size', str(a.epoch_images), '--print_freq', '100', '--display_freq', '400']


def plain_epoch(argv):
    "The reference's loop, written plainly, over gan_nb's data (run in a subprocess by `bench_epoch`)."
    opt = TrainOptions().gather(argv)
    with contextlib.redirect_stdout(io.StringIO()): dataset = gan_nb.data.create_dataset(opt).dataset
    data = torch.utils.data.DataLoader(dataset, batch_size=opt.batch_size, shuffle=True, num_workers=int(opt.num_threads))
    torch.manual_seed(0)
    plain = PlainPix2Pix(opt, torch.device(opt.device))
    (Path(opt.checkpoints_dir)/opt.name).mkdir(parents=True, exist_ok=True)
    for batch in data:
        plain.set_input({'A': batch['B'], 'B': batch['A']})  # BtoA
        plain.optimize_parameters()
    for name, net in plain.nets().items(): torch.save(net.state_dict(), Path(opt.checkpoints_dir)/opt.name/f'latest_net_{name}.pth')


def bench_epoch(a, device):
    "A whole epoch through the command line (`python -m gan_nb.train`) against the plain loop, whole processes in turn."
    print(f'\nA whole epoch, whole processes (start-up, data, {a.epoch_images} images, saving), in turn; median of {a.epoch_pairs} pairs\n')
    print('| what | contender | median s | images/s | speed-up over plain | load |')
    print('|---|---|---|---|---|---|')
    times = {'plain loop (reference-style)': [], 'gan_nb_train (python -m gan_nb.train)': []}
    env = {**os.environ, 'PYTHONPATH': str(ROOT)}
    with tempfile.TemporaryDirectory() as d:
        facades(d)
        for i in range(a.epoch_pairs):
            for name in times:
                cmd = ([sys.executable, __file__, '--plain-epoch', '--'] if name.startswith('plain')
                       else [sys.executable, '-m', 'gan_nb.train']) + epoch_args(a, d, f'e{i}{len(times[name])}')
                t = time.perf_counter()
                subprocess.run(cmd, check=True, env=env, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times[name].append(time.perf_counter() - t)
    base = statistics.median(times['plain loop (reference-style)'])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f'| epoch | {name} | {med:.1f} | {a.epoch_images / med:.2f} | **{base / med:.2f}x** | {load():.2f} |')


class StepClock:
    "A `train` observer that records when each step ends: the steady-state seconds a step, without start-up and saving."
    def __init__(self): self.ends = []
    def on_iteration(self, state): self.ends.append(time.perf_counter())
    def median_step(self): return statistics.median(b - a for a, b in zip(self.ends[1:], self.ends[2:]))  # not the first


def run_clocked(where, args):
    "Train on `args` from the panel (`where='panel'`) or as the command line does; return the `StepClock` of the run."
    from gan_nb.train import train
    clock = StepClock()
    if where == 'panel':  # the panel's own training function, with the clock beside the dashboard
        from gan_nb.extras.dashboard import TrainingPanel
        panel = TrainingPanel(args, train_fn=lambda opt, cbs: train(opt, callbacks=[*cbs, clock], progress=False))
        panel.start(); panel.join()
        if panel.error: raise panel.error
    else:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            train(TrainOptions().gather(args), callbacks=[clock])  # as gan_nb_train runs it: a tqdm bar, lines printed
    return clock


def bench_panel(a, device):
    "Training from the panel (dashboard drawing) against `train` as the command line runs it: whole runs and steps, in turn."
    try:
        from gan_nb.extras.dashboard import TrainingPanel
        from gan_nb.train import train
    except Exception as e:
        print(f'\npanel: skipped ({type(e).__name__}: {e})'); return
    print(f'\nPanel against the command line\'s loop, same options, {a.epoch_images} images an epoch, in turn '
          '(whole run: building the panel, start-up, saving included; step: the median after the first)\n')
    print('| what | contender | whole run: median s | images/s | panel / command line | median s/step | panel / command line | load |')
    print('|---|---|---|---|---|---|---|---|')
    times = {'command line (train)': [], 'panel (TrainingPanel, live dashboard)': []}
    steps = {name: [] for name in times}
    with tempfile.TemporaryDirectory() as d:
        warm = epoch_args(a, d, 'warm-up') + ['--max_dataset_size', '2']  # first model, thread choice, data: not timed
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()): train(TrainOptions().gather(warm))
        for i in range(a.epoch_pairs):
            for name in times:
                args = epoch_args(a, d, f'p{i}{len(times[name])}') + ['--display_freq', '1', '--print_freq', '1']
                t = time.perf_counter()
                clock = run_clocked('panel' if name.startswith('panel') else 'cmd', args)
                times[name].append(time.perf_counter() - t); steps[name].append(clock.median_step())
    cli, cli_step = statistics.median(times['command line (train)']), statistics.median(steps['command line (train)'])
    for name, ts in times.items():
        med, step = statistics.median(ts), statistics.median(steps[name])
        print(f'| panel | {name} | {med:.1f} | {a.epoch_images / med:.2f} | {cli / med:.2f}x | {step:.3f} | **{cli_step / step:.2f}x** | {load():.2f} |')


def step_run(argv):
    "One run in this fresh process, its median step printed: `cmd` trains on the main thread, `panel` from the panel."
    which, root, images = argv[0], argv[1], int(argv[2])
    args = epoch_args(argparse.Namespace(epoch_images=images, device='cpu'), root, f'{which}{time.time_ns()}') + ['--display_freq', '1', '--print_freq', '1']
    print(f'median step {run_clocked(which, args).median_step():.4f}')


def bench_panel_fresh(a, device):
    "The panel and the command line's loop, each in a fresh process whose main thread never runs torch (a notebook that only uses the panel)."
    if device.type != 'cpu': return
    print(f'\nPanel in a fresh process (its main thread has run no torch, as in a notebook that only uses the panel) against '
          f'the command line, {a.epoch_images} images, whole processes in turn; median of {a.epoch_pairs} runs of the median step\n')
    print('| what | contender | median s/step | panel / command line | load |')
    print('|---|---|---|---|---|')
    steps = {'cmd': [], 'panel': []}
    with tempfile.TemporaryDirectory() as d:
        facades(d)
        for _ in range(a.epoch_pairs):
            for which in steps:
                out = subprocess.run([sys.executable, __file__, '--step-run', which, d, str(a.epoch_images)], check=True, cwd=d,
                                     capture_output=True, text=True).stdout
                steps[which].append(float(out.rsplit('median step', 1)[1]))
    cli = statistics.median(steps['cmd'])
    for which, name in (('cmd', 'command line (train, main thread)'), ('panel', 'panel (TrainingPanel, live dashboard)')):
        med = statistics.median(steps[which])
        print(f'| panel, fresh process | {name} | {med:.3f} | **{cli / med:.2f}x** | {load():.2f} |')


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--what', default=','.join(WHATS), help=f'comma-separated: {", ".join(WHATS)}')
    p.add_argument('--steps', type=int, default=5, help='timed rounds (each contender steps once a round)')
    p.add_argument('--warmup', type=int, default=1, help='untimed rounds first')
    p.add_argument('--size', type=int, default=256, help='pix2pix image side')
    p.add_argument('--netG', default='unet_256'); p.add_argument('--ngf', type=int, default=64)
    p.add_argument('--batch-size', type=int, default=1)
    p.add_argument('--cycle-size', type=int, default=256, help='CycleGAN image side')
    p.add_argument('--device', default='cpu', help='cpu, cuda, cuda:N or auto')
    p.add_argument('--data-epochs', type=int, default=2)
    p.add_argument('--epoch-images', type=int, default=16, help='images in the whole-epoch and panel runs')
    p.add_argument('--epoch-pairs', type=int, default=3, help='pairs of whole runs (median)')
    p.add_argument('--flags', default=None, help="flag sets for --what flags, ';'-separated, written --flags='--fast;--fused_adam' (default: each speed flag)")
    a = p.parse_args(argv)
    a.what = [w.strip() for w in a.what.split(',') if w.strip()]
    if bad := [w for w in a.what if w not in WHATS]: p.error(f'unknown --what {bad}; choose from {", ".join(WHATS)}')
    a.flag_sets = [s.split() for s in a.flags.split(';')] if a.flags else [list(f) for f in FLAG_SETS]
    return a


def header(a, device):
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else ''
    cpu = next((l.split(':', 1)[1].strip() for l in Path('/proc/cpuinfo').read_text().splitlines() if l.startswith('model name')), '?') \
        if Path('/proc/cpuinfo').exists() else '?'
    print(f'compare.py: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes")}; device {device}'
          f'{" (" + name + ")" if device.type == "cuda" else ""}; CPU {cpu}, {hardware.usable_cores()} usable cores, '
          f'flags: {hardware.describe_cpu()}; native bf16 {hardware.native_bf16()}, native fp16 {hardware.native_fp16()}; '
          f'torch {torch.__version__}, default threads {hardware.DEFAULT_THREADS}; load average {os.getloadavg()}')
    if device.type == 'cpu' and not torch.cuda.is_available():
        print('no CUDA device here: the GPU rows (`--device cuda`, `--compile` included) are not measured in this run')


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['--plain-epoch']: return plain_epoch(argv[2:])
    if argv[:1] == ['--step-run']: return step_run(argv[1:])
    a = parse(argv)
    device = resolve_device(a.device)
    header(a, device)
    if 'identical' in a.what: bench_identical(a, device)
    if 'adam' in a.what: bench_adam(a, device)
    if 'step' in a.what: bench_step(a, device, [])
    if 'flags' in a.what: bench_step(a, device, a.flag_sets + ([['--compile']] if device.type == 'cuda' else []))
    if 'cycle_gan' in a.what: bench_cycle_gan(a, device)
    if 'data' in a.what: bench_data(a, device)
    if 'threads' in a.what: bench_threads(a, device)
    if 'busy_fast' in a.what: bench_busy_fast(a, device)
    if 'epoch' in a.what: bench_epoch(a, device)
    if 'panel' in a.what: bench_panel(a, device)
    if 'panel_fresh' in a.what: bench_panel_fresh(a, device)
    print(f'\nload average at the end: {os.getloadavg()}')


if __name__ == '__main__':
    main()
