"""The same engine under torchrun: 2 CPU processes (gloo) end with identical weights; one process works too."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tiny_engine import tiny_facades, read_loss_log_lines

WORKER = Path(__file__).with_name('ddp_worker.py')


def torchrun(nproc, tmp_path, root):
    out = tmp_path/'out'; out.mkdir()
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}',
           str(WORKER), str(root), str(tmp_path/'checkpoints'), str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return [(out/f'rank{i}.txt').read_text().split() for i in range(nproc)]


def test_two_processes_end_identical(tmp_path):
    root = tiny_facades(tmp_path/'data')
    (h0, w0, n0, wrapped0), (h1, w1, n1, wrapped1) = torchrun(2, tmp_path, root)
    assert (w0, w1, wrapped0, wrapped1) == ('2', '2', 'DistributedDataParallel', 'DistributedDataParallel')
    assert n0 == n1 == '4'  # 4 images over 2 processes, 2 epochs: 2 steps of 1 image per process per epoch
    assert h0 == h1  # gradients averaged, buffers synchronised: the same weights on both ranks
    save_dir = tmp_path/'checkpoints'/'tiny'
    assert (save_dir/'latest_net_G.pth').is_file() and (save_dir/'latest_train_state.pth').is_file()
    assert read_loss_log_lines(save_dir/'loss_log.txt')[0].startswith('================ Training Loss')
    assert sum(line.startswith('====') for line in read_loss_log_lines(save_dir/'loss_log.txt')) == 1  # rank 0 alone writes


def test_one_process_torchrun(tmp_path):
    root = tiny_facades(tmp_path/'data')
    [(h0, w0, n0, wrapped0)] = torchrun(1, tmp_path, root)
    assert (w0, n0, wrapped0) == ('1', '8', 'DistributedDataParallel')
