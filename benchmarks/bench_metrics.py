"""Benchmark for gan_nb.extras.metrics: FID and KID on 100 generated 256x256 images, and what --val_freq 1 adds to an epoch.

`--what fid`: times `evaluate(fake=..., real=..., metrics=['fid', 'kid'])` from PNG files on disk, after the
Inception weights are present (loading them is timed apart), and the Frechet-distance step alone: gan_nb's
(singular values of an N1 x N2 matrix) against torch-fidelity's (eigenvalues of the 2048 x 2048 product),
with their values side by side.

`--what validation`: the default pix2pix training (unet_256, ngf 64, 256x256, batch 1) on the built-in
facades: seconds per training step against seconds per validation image (`validation_score`, L1), and so
the share `--val_freq 1` adds to an epoch when the val split is a tenth of train.

    python benchmarks/bench_metrics.py                                   # stored weights, else a stand-in
    python benchmarks/bench_metrics.py --inception_weights weights-inception-2015-12-05-6726825d.pth
    python benchmarks/bench_metrics.py --what validation --steps 5

Without the real weights (no internet) the network is Inception v3 with random weights: the same
architecture and sizes, so the same time; the scores are then meaningless, and the output says so.
"""
from __future__ import annotations
import argparse
import contextlib
import io
import itertools
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the repository

import numpy as np
import torch
from PIL import Image

from gan_nb.extras.facades import make_facade
from gan_nb.extras.metrics import (InceptionFeatures, evaluate, frechet_distance, image_features, stored_inception_path)
from gan_nb.extras.speed import time_alternately


def write_images(folder: Path, n: int, size: int, noise: float, seed: int):
    "`n` procedural facades as PNG files; with `noise`, a noisy copy stands in for generated images."
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        photo = np.asarray(make_facade(seed=(seed, i), size=size)[0]).astype(np.float32)
        Image.fromarray(np.clip(photo + rng.normal(0, noise, photo.shape), 0, 255).astype(np.uint8)).save(folder/f'{i:04d}.png')


def network(weights_path):
    "(network, description): the real Inception weights if at hand, else random weights in the same architecture."
    path = weights_path or (stored_inception_path() if stored_inception_path().is_file() else None)
    if path: return InceptionFeatures(path), f'Inception weights from {path}'
    import torchvision
    standin = Path(tempfile.mkdtemp())/'standin_inception.pth'
    torch.save(torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008).state_dict(), standin)
    return InceptionFeatures(standin), ('STAND-IN: Inception v3 with random weights (the real weights are not '
                                                     'here and this machine cannot download them); same architecture, same '
                                                     'time, meaningless scores')


def library_fid(f1, f2):
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    stats = [fid_features_to_statistics(f) for f in (f1, f2)]
    return fid_statistics_to_metric(*stats, verbose=False)['frechet_inception_distance']


def timed(fn):
    "`fn()` and the seconds it took, timed once by the project's one harness."
    out = []
    seconds = time_alternately({'run': lambda: out.append(fn())}, rounds=1, warmup=0)['run']
    return out[0], seconds


def bench_validation(steps: int, threads: int):
    "Seconds per default pix2pix training step and per validation image; the overhead of --val_freq 1 at val = train / 10."
    from gan_nb.base_model import create_model
    from gan_nb.extras.metrics import validation_data, validation_score
    from gan_nb.options import TrainOptions
    import gan_nb.pix2pix  # registers the model
    with tempfile.TemporaryDirectory() as d, contextlib.redirect_stdout(io.StringIO()):
        opt = TrainOptions().gather(['--dataroot', 'builtin:facades', '--model', 'pix2pix', '--direction', 'BtoA', '--device', 'cpu',
                                     '--checkpoints_dir', str(Path(d)/'checkpoints'), '--num_threads', '0'])
        from gan_nb.data import create_dataset, resolve_dataroot
        opt.dataroot = resolve_dataroot(opt.dataroot, root=Path(d)/'datasets')
        dataset, model = create_dataset(opt), create_model(opt)
        model.setup(opt)
        batches = iter(dataset)
        def one_step(): model.set_input(next(batches)); model.optimize_parameters()
        step = time_alternately({'step': one_step}, rounds=steps, warmup=1)['step']  # the fastest of `steps`
        val = validation_data(opt)
        validation_score(model, itertools.islice(val, 1))  # warm-up
        n = min(8, len(val))
        _, t_val = timed(lambda: validation_score(model, itertools.islice(val, n)))  # batches of one image
    per_image = t_val / n
    print(f'machine: {os.cpu_count()} CPU cores, torch {torch.__version__}, {threads} torch threads')
    print(f'default pix2pix training step (unet_256, ngf 64, 256x256, batch 1): {step:.2f} s (fastest of {steps})')
    print(f'validation, per image (eval-mode forward of G, L1; {n} images): {per_image:.3f} s')
    print(f'--val_freq 1 with a val split a tenth of train adds {100 * per_image / (10 * step):.1f}% to an epoch')


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--what', choices=('fid', 'validation'), default='fid', help='what to time (see above)')
    p.add_argument('--steps', type=int, default=3, help='training steps timed for --what validation')
    p.add_argument('--images', type=int, default=100, help='generated images (and as many real ones)')
    p.add_argument('--size', type=int, default=256, help='side of each image')
    p.add_argument('--threads', type=int, default=2, help='torch CPU threads (the target machine has 2 cores)')
    p.add_argument('--inception_weights', help='the real weights file (default: the stored copy, else a stand-in)')
    p.add_argument('--skip-library', action='store_true', help="skip timing torch-fidelity's own Frechet distance")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.what == 'validation': return bench_validation(args.steps, args.threads)
    with tempfile.TemporaryDirectory() as d:
        fake, real = Path(d)/'fake', Path(d)/'real'
        write_images(fake, args.images, args.size, noise=12, seed=1)
        write_images(real, args.images, args.size, noise=0, seed=2)
        (net, what), t_load = timed(lambda: network(args.inception_weights))
        with contextlib.redirect_stdout(io.StringIO()):  # evaluate prints its table; we print ours
            report, t_eval = timed(lambda: evaluate(fake=fake, real=real, metrics=['fid', 'kid'], network=net, device='cpu'))
        f_fake = image_features(sorted(fake.glob('*.png')), net)  # evaluate wrote metrics.json beside them
        f_real = image_features(sorted(real.glob('*.png')), net)
        ours, t_ours = timed(lambda: frechet_distance(f_fake, f_real))
        if not args.skip_library: theirs, t_theirs = timed(lambda: library_fid(f_fake, f_real))
    print(f'network: {what}')
    print(f'machine: {os.cpu_count()} CPU cores, torch {torch.__version__}, {args.threads} torch threads')
    print(f'loading the weights into the network: {t_load:.1f} s (once per run)')
    print(f'FID + KID on {args.images} generated {args.size}x{args.size} images against {args.images} real ones, from PNG files: '
          f'{t_eval:.1f} s  (FID {report["scores"]["fid"]:.3f}, KID {report["scores"]["kid"]:.5f})')
    print(f'Frechet distance step alone: gan_nb {t_ours * 1000:.1f} ms', end='')
    if not args.skip_library:
        print(f", torch-fidelity's eigenvalues {t_theirs:.1f} s ({t_theirs / t_ours:.0f}x); "
              f'values {ours:.6f} and {theirs:.6f} (difference {abs(ours - theirs):.1e})')
    else: print()


if __name__ == '__main__': main()
