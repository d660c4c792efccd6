"""The same engine under torchrun: 2 CPU processes (gloo) end with identical weights, learning rates and validation
scores, compare stop requests every few steps only, and each resumes its own random state; one process works too."""
import json
import os
import subprocess
import sys
from pathlib import Path

from gan_nb.extras.distributed import STOP_CHECK_STEPS
from gan_nb.extras.facades import make_facades
from tiny_engine import read_loss_log_lines, tiny_facades

WORKER = Path(__file__).with_name('ddp_worker.py')


def torchrun(nproc, tmp_path, root, *extra, out='out'):
    "Run the worker on `nproc` processes; each rank's record."
    out = tmp_path/out; out.mkdir()
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}',
           str(WORKER), str(root), str(tmp_path/'checkpoints'), str(out), *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return [json.loads((out/f'rank{i}.json').read_text()) for i in range(nproc)]


def same(r0, r1, *keys): return all(r0[k] == r1[k] for k in keys)


def test_two_processes_plateau_validation_and_resume(tmp_path):
    root = make_facades(tmp_path/'data'/'facades', n_train=22, n_val=2, n_test=0, size=32)
    plateau = ['--lr_policy', 'plateau', '--val_freq', '1', '--print_freq', '1000', '--n_epochs_decay', '0']
    r0, r1 = torchrun(2, tmp_path, root, *plateau, '--n_epochs', '1')
    assert (r0['world_size'], r0['wrapped'], r1['wrapped']) == (2, 'DistributedDataParallel', 'DistributedDataParallel')
    assert r0['total_iters'] == 11  # 22 images over 2 processes: 11 steps of 1 image per process in the epoch
    # each process scores the whole validation split and takes rank 0's score: the same plateau state and learning rates
    assert same(r0, r1, 'hash', 'lr', 'metric', 'best', 'schedulers') and r0['best']['metric'] == 'l1'
    # the stop check: one all_reduce every STOP_CHECK_STEPS steps (and at the epoch's last), none between
    steps = r0['all_reduce_at_step']
    assert len(steps) == 11 and [b - a for a, b in zip(steps, steps[1:])] == [int(k % STOP_CHECK_STEPS == 0) for k in range(1, 11)]
    save_dir = tmp_path/'checkpoints'/'tiny'
    assert (save_dir/'latest_net_G.pth').is_file() and (save_dir/'best_net_G.pth').is_file()
    log = read_loss_log_lines(save_dir/'loss_log.txt')
    assert log[0].startswith('================ Training Loss') and sum(line.startswith('====') for line in log) == 1  # rank 0 writes
    assert r0['saved_rng'] != r1['saved_rng']  # seeded per rank: different crops and flips

    s0, s1 = torchrun(2, tmp_path, root, *plateau, '--n_epochs', '2', '--continue_train', out='resumed')
    assert (s0['restored_rng'], s1['restored_rng']) == (r0['saved_rng'], r1['saved_rng'])  # each rank its own generators
    assert same(s0, s1, 'hash', 'lr', 'metric', 'best', 'schedulers') and s0['total_iters'] == 22


def test_one_process_torchrun(tmp_path):
    root = tiny_facades(tmp_path/'data')
    [r0] = torchrun(1, tmp_path, root)
    assert (r0['world_size'], r0['total_iters'], r0['wrapped']) == (1, 8, 'DistributedDataParallel')
