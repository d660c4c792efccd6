"""Translating a large image in tiles (`translate(image, Tiled(G, tile=512, overlap=64))`): time and peak memory, against a whole-image pass.

    python benchmarks/bench_tiles.py                   # 3000x2000 through unet_256 (ngf 64), tiles of 512, overlap 64, on the CPU
    python benchmarks/bench_tiles.py --whole           # also run the whole-image pass at full size (several GB)
    python benchmarks/bench_tiles.py --device cuda     # GPU: peak CUDA memory as well

Each pass runs in a subprocess of its own, so its peak resident memory (`getrusage`'s `ru_maxrss`, which
counts what torch allocates outside Python's heap; `tracemalloc` does not) belongs to it alone; a baseline
subprocess that sets up the same network and image without running it is subtracted. The whole-image pass
is measured at a quarter and at half the pixels and extrapolated (activation memory grows with the pixel
count the network sees, padded to its size multiple), or run at full size with --whole.
"""
from __future__ import annotations
import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the repository


def child(args):
    "One measurement in this process: print JSON with seconds and peak memory."
    import numpy as np
    import torch
    from PIL import Image
    from gan_nb.networks import define_G
    from gan_nb.inference import translate
    from gan_nb.extras.speed import time_alternately
    from gan_nb.extras.tiles import Tiled
    torch.manual_seed(0)
    device = torch.device(args.device)
    net = define_G(3, 3, args.ngf, args.netG, 'batch', True).eval().to(device)
    w, h = (round(s * args.scale) for s in (args.width, args.height))
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.dstack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1), (xx ^ yy) & 255]).astype(np.uint8)
    image = Image.fromarray(rgb)
    if device.type == 'cuda': torch.cuda.reset_peak_memory_stats(device)
    def one_pass():
        if args.child == 'baseline': return
        out = translate(image, Tiled(net, args.tile, args.overlap) if args.child == 'tiled' else net)
        assert out.size == (w, h)
    seconds = time_alternately({'pass': one_pass}, rounds=1, warmup=0)['pass']  # once: the peak memory is of one pass
    print(json.dumps(dict(seconds=seconds, maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          cuda_peak_mb=torch.cuda.max_memory_allocated(device) / 2 ** 20 if device.type == 'cuda' else None)))


def padded_pixels(args, scale):
    "Pixels the network sees for the image at `scale` of the pixels: each side padded up to the U-Net's multiple."
    from gan_nb.core import UNET_DEPTHS
    m = 2 ** UNET_DEPTHS[args.netG] if args.netG in UNET_DEPTHS else 4
    w, h = (round(s * scale ** 0.5) for s in (args.width, args.height))
    return -(-w // m) * m * (-(-h // m) * m)


def measure(args, kind, scale=1.0):
    "Run one measurement in a fresh interpreter."
    cmd = [sys.executable, __file__, '--child', kind, '--scale', str(scale)] + \
          [f'--{k}={v}' for k, v in vars(args).items() if k not in ('child', 'scale', 'whole') and v is not None]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode: raise SystemExit(f'{kind} pass failed:\n{r.stderr[-2000:]}')
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--width', type=int, default=3000); p.add_argument('--height', type=int, default=2000)
    p.add_argument('--netG', default='unet_256'); p.add_argument('--ngf', type=int, default=64)
    p.add_argument('--tile', type=int, default=512); p.add_argument('--overlap', type=int, default=64)
    p.add_argument('--device', default='cpu'); p.add_argument('--threads', type=int, default=None)
    p.add_argument('--whole', action='store_true', help='run the whole-image pass at full size too')
    p.add_argument('--child', default=None, help=argparse.SUPPRESS); p.add_argument('--scale', type=float, default=1.0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads:
        import torch; torch.set_num_threads(args.threads)
    if args.child: return child(args)
    import torch
    print(f'{args.width}x{args.height} through {args.netG} (ngf {args.ngf}, batch norm, eval) on {args.device}, '
          f'torch {torch.__version__}, {torch.get_num_threads()} threads')
    base = measure(args, 'baseline')
    rows = [('tiles', f'tile {args.tile}, overlap {args.overlap}', measure(args, 'tiled'))]
    parts = [(s, measure(args, 'whole', s ** 0.5)) for s in (0.25, 0.5)]
    (s1, a), (s2, b) = parts
    p1, p2, p = (padded_pixels(args, s) for s in (s1, s2, 1.0))  # the network sees the image padded to its multiple
    slope = (b['maxrss_mb'] - a['maxrss_mb']) / (p2 - p1)  # MB per padded pixel
    estimate = a['maxrss_mb'] - base['maxrss_mb'] + slope * (p - p1)
    for s, r in parts: rows.append(('whole image', f'{s:.0%} of the pixels', r))
    whole = measure(args, 'whole') if args.whole else None
    if whole: rows.append(('whole image', 'full size', whole))
    print(f"\n| pass | size | seconds | peak memory above baseline (MB) |{' peak CUDA (MB) |' if args.device != 'cpu' else ''}")
    print(f"|---|---|---|---|{'---|' if args.device != 'cpu' else ''}")
    for name, what, r in rows:
        cuda = f" {r['cuda_peak_mb']:.0f} |" if r['cuda_peak_mb'] is not None else ''
        print(f"| {name} | {what} | {r['seconds']:.1f} | {r['maxrss_mb'] - base['maxrss_mb']:.0f} |{cuda}")
    print(f"\nbaseline (interpreter, torch, network, image): {base['maxrss_mb']:.0f} MB")
    print(f"whole image at full size, extrapolated from the two smaller passes: {estimate:.0f} MB above baseline")
    need = whole['maxrss_mb'] - base['maxrss_mb'] if whole else estimate
    tiles = rows[0][2]['maxrss_mb'] - base['maxrss_mb']
    print(f"tiles need {tiles:.0f} MB above baseline: {tiles / need:.0%} of the whole-image pass "
          f"({'measured' if whole else 'extrapolated'}: {need:.0f} MB)")


if __name__ == '__main__':
    main()
