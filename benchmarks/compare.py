"""gan_nb against a plain PyTorch step written the way the reference writes it, side by side in one process:
the project's one benchmark harness.

The plain step (`PlainPix2Pix`, `PlainCycleGAN` below) is built from gan_nb's own networks and losses with the
same initial weights, and trained as the reference's `train.py` trains: `torch.optim.Adam(params, lr, betas)`
with PyTorch's own defaults. Every figure comes from `time_alternately` (gan_nb.extras.speed): the contenders
run in turn, one unit of work each, so that the load of a shared machine hits all of them alike, and the
fastest time of each counts. Each is printed as a ratio to the plain step (> 1: faster than plain). Batches
are made on the device before timing, so no step copies a pageable batch. Each run prints the date, the CPU
and its flags (AVX2, AVX-512, AVX512_BF16, AMX) or the GPU, and the load average.

    python benchmarks/compare.py                                  # everything, CPU, 256 px
    python benchmarks/compare.py --what step,flags --steps 4      # the pix2pix step: default and each speed flag
    python benchmarks/compare.py --what identical                 # same losses and weights after 3 steps?
    python benchmarks/compare.py --what adam                      # the optimiser update alone: plain, foreach, fused
    python benchmarks/compare.py --what flops                     # the step against the machine's matmul rate
    python benchmarks/compare.py --what epoch,panel --epoch-images 16
    python benchmarks/compare.py --what panel_fresh    # the panel in a fresh process, its main thread never running torch
    python benchmarks/compare.py --device cuda                    # the same on a GPU (compile included)
"""
from __future__ import annotations
import argparse
import contextlib
import copy
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
from gan_nb.base_model import create_model
from gan_nb.networks import define_G, define_D
from gan_nb.losses import GANLoss
from gan_nb.cycle_gan import ImagePool
from gan_nb.extras.speed import time_alternately, describe_cpu, native_bf16, native_fp16  # the hook: --amp, --fast

WHATS = ('identical', 'adam', 'step', 'flags', 'cycle_gan', 'data', 'flops', 'epoch', 'panel', 'panel_fresh')
FLAG_SETS = (['--fused_adam'], ['--channels_last'], ['--channels_last', '--fused_adam'], ['--amp', 'bf16'], ['--amp', 'fp16'],
             ['--amp', 'bf16', '--channels_last', '--fused_adam'], ['--fast'])


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
        adam = lambda net: torch.optim.Adam(net.parameters(), lr=o.lr, betas=(o.beta1, 0.999))
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
        adam = lambda params: torch.optim.Adam(params, lr=o.lr, betas=(o.beta1, 0.999))
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


# --- timing and building -----------------------------------------------------------------------------------

def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)


def stepper(model, batch, device):
    "One training step of `model` on `batch` (already on the device), finished before it returns."
    def step():
        model.set_input(batch); model.optimize_parameters(); sync(device)
    return step


def load():
    return os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')


def report(times, base, what):
    "One line per contender: its fastest s/step and the speed-up over `base`."
    for name, t in times.items():
        print(f'| {what} | {name} | {t:.3f} | **{times[base] / t:.2f}x** | {load():.2f} |')


def table_head(title):
    print(f'\n{title}\n')
    print('| what | contender | fastest s/step | speed-up over plain | load |')
    print('|---|---|---|---|---|')


def gan_nb_opt(a, model, flags=(), device='cpu'):
    args = ['--dataroot', 'unused', '--model', model, '--device', str(device), '--batch_size', str(a.batch_size),
            '--crop_size', str(a.size), '--load_size', str(a.size), '--ngf', str(a.ngf), '--checkpoints_dir', tempfile.gettempdir(), *flags]
    if model == 'pix2pix': args += ['--netG', a.netG]
    return TrainOptions().gather(args)


def gan_nb_model(a, model, flags=(), device='cpu', say=print):
    "A gan_nb model as a user gets it (`create_model`, whose build hooks check --amp and resolve --fast, then `setup`)."
    opt = gan_nb_opt(a, model, flags, device)
    torch.manual_seed(0)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        m = create_model(opt); m.setup(opt)
    for line in out.getvalue().splitlines():
        if line.startswith(('note:', '--fast')): say('    ' + line)
    return m


def random_batch(a, nc_in=3, nc_out=3, seed=0, device='cpu'):
    "Random images made on `device`: no timed step copies them there."
    g = torch.Generator().manual_seed(seed)
    x = lambda nc: (torch.rand(a.batch_size, nc, a.size, a.size, generator=g) * 2 - 1).to(device)
    return {'A': x(nc_in), 'B': x(nc_out), 'A_paths': ['a'] * a.batch_size, 'B_paths': ['b'] * a.batch_size}


# --- what is compared --------------------------------------------------------------------------------------

def same_numbers(a, device, model='pix2pix', flags=(), steps=3):
    "Train the plain step and gan_nb's from the same weights for `steps` steps; the largest loss and weight differences."
    m = gan_nb_model(a, model, flags, device, say=lambda s: None)
    plain = (PlainPix2Pix if model == 'pix2pix' else PlainCycleGAN)(m.opt, m.device, m)
    for runner in (plain, m):
        for i in range(steps):
            torch.manual_seed(100 + i); random.seed(100 + i)  # dropout masks and the image pool's draws alike
            runner.set_input(random_batch(a, seed=i, device=device)); runner.optimize_parameters()
    gan_losses = m.get_current_losses()
    loss_diff = max(abs(gan_losses[k] - v) for k, v in plain.losses().items())
    weight_diff = max((p - q).abs().max().item() for name, net in plain.nets().items()
                      for p, q in zip(net.state_dict().values(), getattr(m, 'net' + name).state_dict().values()) if p.is_floating_point())
    return loss_diff, weight_diff


def bench_identical(a, device):
    print(f'\nSame numbers: the plain step and gan_nb\'s, from the same weights, 3 steps on the same batches '
          f'({torch.get_num_threads()} threads)\n')
    print('| model | flags | max loss difference | max weight difference | identical to 1e-6 |')
    print('|---|---|---|---|---|')
    for model, flags in (('pix2pix', ()), ('pix2pix', ('--fused_adam',)), ('pix2pix', ('--channels_last',)), ('cycle_gan', ())):
        la = copy.copy(a)
        if model == 'cycle_gan': la.size = min(a.size, 64)  # the numbers, not the speed: small is enough
        loss_diff, weight_diff = same_numbers(la, device, model, flags)
        ok = loss_diff <= 1e-6 and weight_diff <= 1e-6
        print(f'| {model} ({la.size} px) | {" ".join(flags) or "default"} | {loss_diff:.2e} | {weight_diff:.2e} | {"yes" if ok else "no"} |')


def bench_adam(a, device):
    "The optimiser update alone, on pix2pix's G and D: the reference's default, multi-tensor, fused, fused on channels-last weights."
    table_head(f'Adam update of pix2pix\'s G and D ({a.netG}, ngf {a.ngf}), gradients set, optimisers in turn')
    m = gan_nb_model(a, 'pix2pix', (), device, say=lambda s: None)
    weights = [p.detach() for net in (m.netG, m.netD) for p in net.parameters()]
    kw = dict(lr=m.opt.lr, betas=(m.opt.beta1, 0.999))
    del m
    def params(layout=torch.contiguous_format):  # channels-last: the weights as --channels_last lays them out
        ps = [w.clone(memory_format=layout if w.dim() == 4 else torch.contiguous_format).requires_grad_() for w in weights]
        for p in ps: p.grad = torch.randn_like(p) * 1e-3
        return ps
    makers = {'plain (torch.optim.Adam, its defaults)': lambda: torch.optim.Adam(params(), **kw),
              'multi-tensor (foreach=True)': lambda: torch.optim.Adam(params(), foreach=True, **kw),
              'fused (--fused_adam)': lambda: torch.optim.Adam(params(), fused=True, **kw),
              'fused, channels-last weights': lambda: torch.optim.Adam(params(torch.channels_last), fused=True, **kw)}
    updates = {name: make() for name, make in makers.items()}
    runs = {name: (lambda o=o: (o.step(), sync(device))) for name, o in updates.items()}
    report(time_alternately(runs, rounds=a.steps, warmup=a.warmup), next(iter(runs)), 'adam')


def bench_step(a, device, flag_sets):
    "The default step, and each flag set, against the plain step, in turn."
    table_head(f'pix2pix step ({a.netG}, ngf {a.ngf}, basic D, batch norm, {a.size} px, batch {a.batch_size}), '
               f'fastest of {a.steps} rounds after {a.warmup} warm-up, contenders in turn')
    batch = random_batch(a, device=device)
    base = gan_nb_model(a, 'pix2pix', (), device)
    runs = {'plain (reference-style)': stepper(PlainPix2Pix(base.opt, device, base), batch, device),
            'gan_nb default (identical numbers)': stepper(base, batch, device)}
    if not flag_sets: report(time_alternately(runs, rounds=a.steps, warmup=a.warmup), 'plain (reference-style)', 'pix2pix step')
    for flags in flag_sets:  # one at a time beside the same plain and default steps, so at most three models are alive
        if device.type == 'cpu' and 'fp16' in flags and not native_fp16():
            print(f'| pix2pix step | {" ".join(flags)}: not timed, float16 is emulated on this CPU (no AMX_FP16): '
                  'tens of seconds a step; `check_amp` says so in one line | | | |'); continue
        try: m = gan_nb_model(a, 'pix2pix', flags, device)
        except Exception as e:
            print(f'| pix2pix step | {" ".join(flags)}: cannot run here ({type(e).__name__}: {e}) | | | |'); continue
        name = ' '.join(flags) + (' -> ' + ' '.join(f'--{k} {v}' for k, v in m.opt.speed_settings.items()) if (
            '--fast' in flags) else (' -> --amp off (fallback)' if '--amp' in flags and m.opt.amp == 'off' else ''))
        times = time_alternately({**runs, name: stepper(m, batch, device)}, rounds=a.steps, warmup=a.warmup)
        print(f'| pix2pix step | {name} | {times[name]:.3f} | **{times["plain (reference-style)"] / times[name]:.2f}x** '
              f'({times["gan_nb default (identical numbers)"] / times[name]:.2f}x the default) | {load():.2f} |')
        del m


def bench_cycle_gan(a, device):
    ca = copy.copy(a); ca.size = a.cycle_size
    table_head(f'CycleGAN step (resnet_9blocks x2, basic D x2, instance norm, pool 50, {ca.size} px), contenders in turn')
    batch = random_batch(ca, device=device)
    m = gan_nb_model(ca, 'cycle_gan', (), device)
    runs = {'plain (reference-style)': stepper(PlainCycleGAN(m.opt, device, m), batch, device), 'gan_nb default': stepper(m, batch, device)}
    report(time_alternately(runs, rounds=max(2, a.steps // 2), warmup=1), 'plain (reference-style)', 'CycleGAN step')


def bench_data(a, device):
    "gan_nb's data loader (workers capped at the cores, persistent) against the reference's (`--num_threads` workers as given)."
    print(f'\nData loader: builtin:facades, 286 resize, 256 crop, flip, batch 1, --num_threads 4 on {os.cpu_count()} cores; epochs in turn\n')
    print('| what | contender | images/s (fastest epoch) | ratio to plain | load |')
    print('|---|---|---|---|---|')
    import warnings
    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
        warnings.simplefilter('ignore')  # PyTorch warns about 4 workers on fewer cores: that is the point
        opt = TrainOptions().gather(['--dataroot', facades(d), '--model', 'pix2pix', '--device', str(device), '--num_threads', '4'])
        with contextlib.redirect_stdout(io.StringIO()): ours = gan_nb.data.create_dataset(opt)
        plain = torch.utils.data.DataLoader(ours.dataset, batch_size=1, shuffle=True, num_workers=4)  # the reference's loader
        loaders = {'plain (4 workers, restarted every epoch)': plain, f'gan_nb ({ours.dataloader.num_workers} persistent workers)': ours}
        n = len(ours.dataset)
        times = time_alternately({name: (lambda l=l: sum(1 for _ in l)) for name, l in loaders.items()}, rounds=a.data_epochs, warmup=1)
        del ours, plain
    base = n / next(iter(times.values()))
    for name, t in times.items(): print(f'| data loader | {name} | {n / t:.1f} | {n / t / base:.2f}x | {load():.2f} |')


def bench_flops(a, device):
    "The default step against the machine's float32 matrix-product rate: how far it is from the FLOP limit."
    from torch.utils.flop_counter import FlopCounterMode
    n = 2048
    x, y = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    rate = 2 * n ** 3 / time_alternately({'mm': lambda: (torch.mm(x, y), sync(device))}, rounds=5)['mm']
    m, batch = gan_nb_model(a, 'pix2pix', (), device, say=lambda s: None), random_batch(a, device=device)
    m.set_input(batch)
    counter = FlopCounterMode(display=False)
    with counter: m.optimize_parameters()
    flops, step = counter.get_total_flops(), time_alternately({'step': stepper(m, batch, device)}, rounds=a.steps)['step']
    print(f'\nFLOP limit: pix2pix default step ({a.netG}, ngf {a.ngf}, {a.size} px)\n')
    print(f'| fp32 matmul rate ({n}x{n} torch.mm, fastest of 5) | {rate / 1e9:.0f} GFLOP/s |')
    print(f'| step: {flops / 1e9:.1f} GFLOP (convolutions, matmuls; not Adam, norms) | floor {flops / rate:.3f} s; '
          f'measured {step:.3f} s = {step * rate / flops:.2f}x the floor |')


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
    print(f'\nA whole epoch, whole processes (start-up, data, {a.epoch_images} images, saving), in turn; fastest of {a.epoch_pairs}\n')
    print('| what | contender | fastest s | images/s | speed-up over plain | load |')
    print('|---|---|---|---|---|---|')
    env = {**os.environ, 'PYTHONPATH': str(ROOT)}
    with tempfile.TemporaryDirectory() as d:
        facades(d)
        def process(cmd):
            return lambda: subprocess.run(cmd + epoch_args(a, d, f'e{time.time_ns()}'), check=True, env=env, cwd=d,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times = time_alternately({'plain loop (reference-style)': process([sys.executable, __file__, '--plain-epoch', '--']),
                                  'gan_nb_train (python -m gan_nb.train)': process([sys.executable, '-m', 'gan_nb.train'])},
                                 rounds=a.epoch_pairs, warmup=0)
    base = times['plain loop (reference-style)']
    for name, t in times.items():
        print(f'| epoch | {name} | {t:.1f} | {a.epoch_images / t:.2f} | **{base / t:.2f}x** | {load():.2f} |')


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
        import gan_nb.extras.dashboard  # noqa: F401 (the panel can be built here)
        from gan_nb.train import train
    except Exception as e:
        print(f'\npanel: skipped ({type(e).__name__}: {e})'); return
    print(f'\nPanel against the command line\'s loop, same options, {a.epoch_images} images an epoch, in turn '
          '(whole run: building the panel, start-up, saving included; step: the median after the first, fastest run)\n')
    print('| what | contender | whole run: fastest s | images/s | panel / command line | s/step | panel / command line | load |')
    print('|---|---|---|---|---|---|---|---|')
    names = {'cmd': 'command line (train)', 'panel': 'panel (TrainingPanel, live dashboard)'}
    steps = {name: [] for name in names.values()}
    with tempfile.TemporaryDirectory() as d:
        warm = epoch_args(a, d, 'warm-up') + ['--max_dataset_size', '2']  # first model, data: not timed
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()): train(TrainOptions().gather(warm))
        def run(where):
            args = epoch_args(a, d, f'p{time.time_ns()}') + ['--display_freq', '1', '--print_freq', '1']
            return lambda: steps[names[where]].append(run_clocked(where, args).median_step())
        times = time_alternately({names[w]: run(w) for w in names}, rounds=a.epoch_pairs, warmup=0)
    cli, cli_step = times[names['cmd']], min(steps[names['cmd']])
    for name, t in times.items():
        step = min(steps[name])
        print(f'| panel | {name} | {t:.1f} | {a.epoch_images / t:.2f} | {cli / t:.2f}x | {step:.3f} | **{cli_step / step:.2f}x** | {load():.2f} |')


def step_run(argv):
    "One run in this fresh process, its median step printed: `cmd` trains on the main thread, `panel` from the panel."
    which, root, images = argv[0], argv[1], int(argv[2])
    args = epoch_args(argparse.Namespace(epoch_images=images, device='cpu'), root, f'{which}{time.time_ns()}') + ['--display_freq', '1', '--print_freq', '1']
    print(f'median step {run_clocked(which, args).median_step():.4f}')


def bench_panel_fresh(a, device):
    "The panel and the command line's loop, each in a fresh process whose main thread never runs torch (a notebook that only uses the panel)."
    if device.type != 'cpu': return
    print(f'\nPanel in a fresh process (its main thread has run no torch, as in a notebook that only uses the panel) against '
          f'the command line, {a.epoch_images} images, whole processes in turn; fastest of {a.epoch_pairs} runs of the median step\n')
    print('| what | contender | s/step | panel / command line | load |')
    print('|---|---|---|---|---|')
    steps = {'cmd': [], 'panel': []}
    with tempfile.TemporaryDirectory() as d:
        facades(d)
        def run(which):
            def fresh():
                out = subprocess.run([sys.executable, __file__, '--step-run', which, d, str(a.epoch_images)], check=True, cwd=d,
                                     capture_output=True, text=True).stdout
                steps[which].append(float(out.rsplit('median step', 1)[1]))
            return fresh
        time_alternately({which: run(which) for which in steps}, rounds=a.epoch_pairs, warmup=0)  # in turn; the step is the figure
    cli = min(steps['cmd'])
    for which, name in (('cmd', 'command line (train, main thread)'), ('panel', 'panel (TrainingPanel, live dashboard)')):
        print(f'| panel, fresh process | {name} | {min(steps[which]):.3f} | **{cli / min(steps[which]):.2f}x** | {load():.2f} |')


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
    p.add_argument('--epoch-pairs', type=int, default=3, help='rounds of whole runs (the fastest counts)')
    p.add_argument('--flags', default=None, help="flag sets for --what flags, ';'-separated, written --flags='--fast;--fused_adam' (default: each speed flag)")
    a = p.parse_args(argv)
    a.what = [w.strip() for w in a.what.split(',') if w.strip()]
    if bad := [w for w in a.what if w not in WHATS]: p.error(f'unknown --what {bad}; choose from {", ".join(WHATS)}')
    if a.epoch_images < 3: p.error('--epoch-images must be at least 3 (a step time needs two steps after the first)')
    a.flag_sets = [s.split() for s in a.flags.split(';')] if a.flags else [list(f) for f in FLAG_SETS]
    return a


def device_name(device):
    "The GPU's name, or the CPU's model name."
    if device.type == 'cuda': return torch.cuda.get_device_name(device)
    info = Path('/proc/cpuinfo').read_text().splitlines() if Path('/proc/cpuinfo').exists() else []
    return next((l.split(':', 1)[1].strip() for l in info if l.startswith('model name')), '?')


def header(a, device):
    name, cpu = device_name(device), device_name(torch.device('cpu'))
    print(f'compare.py: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes")}; device {device}'
          f'{" (" + name + ")" if device.type == "cuda" else ""}; CPU {cpu}, {os.cpu_count()} cores, '
          f'flags: {describe_cpu()}; native bf16 {native_bf16()}, native fp16 {native_fp16()}; '
          f'torch {torch.__version__}, {torch.get_num_threads()} threads; load average {os.getloadavg()}')
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
    if 'flops' in a.what: bench_flops(a, device)
    if 'epoch' in a.what: bench_epoch(a, device)
    if 'panel' in a.what: bench_panel(a, device)
    if 'panel_fresh' in a.what: bench_panel_fresh(a, device)
    print(f'\nload average at the end: {os.getloadavg()}')


if __name__ == '__main__':
    main()
