"""A trial of Winograd's algorithm for pix2pix's 4x4 convolutions, timed against PyTorch's own (oneDNN).

    python benchmarks/winograd_trial.py
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 python benchmarks/winograd_trial.py

Winograd's F(2x2, 2x2) computes a 2x2 tile of a 2x2 convolution with 9 multiplications instead of 16. A 4x4
convolution of stride 2 is a 2x2 convolution of stride 1 over the input's four phases (space to depth), and
one of stride 1 is four shifted 2x2 convolutions: both do 9/16 of the multiplications this way, with other
round-off (fine for `--fast`, never for the default). Written in PyTorch operations (each transform one
small matrix product over `F.unfold`'s tiles, the products nine batched matrix products), it is timed
forward and backward against `F.conv2d` on the layers of a pix2pix step (in turn, the fastest of
`--repeats` calls of each, with gan_nb's `time_alternately`), and its result compared with `F.conv2d`'s.
(A first version built the transforms from slices: autograd's backward of each slice filled a zero tensor
the size of its source, and the weights' transform alone cost more than the convolution.)
"""
from __future__ import annotations
import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the repository
from gan_nb.hardware import time_alternately  # noqa: E402

LAYERS = ((64, 128, 128, 2), (128, 256, 64, 2), (256, 512, 32, 2), (256, 512, 32, 1), (512, 512, 16, 2))  # C_in, C_out, side, stride


# F(2, 2) in one dimension: d = (d0, d1, d2) -> Bᵀd, g = (g0, g1) -> Gg, their product m -> Aᵀm = (y0, y1)
B_T = torch.tensor([[1., -1., 0.], [0., 1., 0.], [0., -1., 1.]])
G = torch.tensor([[1., 0.], [1., 1.], [0., 1.]])
A_T = torch.tensor([[1., 1., 0.], [0., 1., 1.]])


def two_d(m):
    "The 2-D transform of a 1-D one (`m` ⊗ `m`): rows (i, j) act on tiles flattened row by row."
    return torch.kron(m, m)


def input_transform(x):
    "Bᵀ d B of every 3x3 tile (tiles start every 2 pixels) of `x` (N, C, 2T+1, 2T+1): `(9, C, N·T·T)`, and T."
    n, c, side, _ = x.shape
    tiles = (side - 1) // 2
    patches = F.unfold(x, 3, stride=2).view(n, c, 9, tiles * tiles)  # one matrix product per transform, no slices
    v = torch.matmul(two_d(B_T), patches)  # (N, C, 9, T·T)
    return v.permute(2, 1, 0, 3).reshape(9, c, n * tiles * tiles), tiles


def filter_transform(w):
    "G g Gᵀ of 2x2 filters `w` (O, C, 2, 2): `(9, O, C)`."
    o, c = w.shape[:2]
    return (two_d(G) @ w.reshape(o * c, 4).t()).view(9, o, c)


def output_transform(m, n, tiles):
    "Aᵀ m A: the products `(9, O, N·T·T)` back to the output `(N, O, 2T, 2T)`."
    o = m.shape[1]
    y = (two_d(A_T) @ m.reshape(9, -1)).view(2, 2, o, n, tiles, tiles)  # (row, column in the tile, ...)
    return y.permute(3, 2, 4, 0, 5, 1).reshape(n, o, 2 * tiles, 2 * tiles)


def winograd_conv2x2(x, w):
    "A valid 2x2 convolution of stride 1 of `x` (N, C, 2T+1, 2T+1) by `w` (O, C, 2, 2), as F(2x2, 2x2)."
    v, tiles = input_transform(x)
    return output_transform(torch.matmul(filter_transform(w), v), x.shape[0], tiles)


def conv4x4_stride2(x, w):
    "`F.conv2d(x, w, stride=2, padding=1)` for 4x4 `w`: one 2x2 convolution over the padded input's four phases."
    o, c = w.shape[:2]
    phases = F.pixel_unshuffle(F.pad(x, (1, 1, 1, 1)), 2)  # channel c·4 + 2r + s holds pixels (2i + r, 2j + s)
    w_phases = w.view(o, c, 2, 2, 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(o, 4 * c, 2, 2)  # w[2q + r, 2p + s]
    return winograd_conv2x2(phases, w_phases)


def conv4x4_stride1(x, w):
    "`F.conv2d(x, w, stride=1, padding=1)` for 4x4 `w`: four shifted 2x2 convolutions, stacked as channels."
    out = x.shape[-1] - 1
    tiles = (out + 1) // 2
    extra = 2 * tiles - out  # Winograd's tiles cover an even number of outputs: pad, then crop
    padded = F.pad(x, (1, 1 + extra, 1, 1 + extra))
    shifts = [(a, b) for a in (0, 2) for b in (0, 2)]
    stacked = torch.cat([padded[:, :, a:a + 2 * tiles + 1, b:b + 2 * tiles + 1] for a, b in shifts], 1)
    return winograd_conv2x2(stacked, torch.cat([w[:, :, a:a + 2, b:b + 2] for a, b in shifts], 1))[:, :, :out, :out]


def forward_backward(conv, x, w):
    "A function that runs `conv(x, w)` forward and backward (both gradients)."
    def run():
        y = conv(x.detach().requires_grad_(), w.detach().requires_grad_())
        y.backward(torch.ones_like(y))
    return run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeats', type=int, default=5, help='timed calls of each, in turn, after one untimed')
    a = p.parse_args(argv)
    print('| layer (batch 1) | largest difference from F.conv2d | F.conv2d s | Winograd s | Winograd speed-up |')
    print('|---|---|---|---|---|')
    for c_in, c_out, side, stride in LAYERS:
        x, w = torch.randn(1, c_in, side, side), torch.randn(c_out, c_in, 4, 4) * 0.02
        plain = lambda x, w, stride=stride: F.conv2d(x, w, stride=stride, padding=1)
        trial = conv4x4_stride2 if stride == 2 else conv4x4_stride1
        difference = (trial(x, w) - plain(x, w)).abs().max().item()
        times = time_alternately({'plain': forward_backward(plain, x, w), 'trial': forward_backward(trial, x, w)}, rounds=a.repeats)
        t_plain, t_trial = times['plain'], times['trial']
        print(f'| {c_in}->{c_out}, {side}x{side}, stride {stride} | {difference:.1e} | {t_plain:.4f} | {t_trial:.4f} | **{t_plain / t_trial:.2f}x** |')


if __name__ == '__main__': main()
