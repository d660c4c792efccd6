"""Hostile cases (issue 15): a crafted state file runs no code; checkpoints commit as one; one run per folder; a kill
at any point resumes to the same weights as an uninterrupted run."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gan_nb.train import train
from gan_nb.extras.checkpoints import train_state_path
from tiny_engine import tiny_cycle_gan_opt, one_thread, tiny_facades, tiny_opt, tiny_train_args, saved_weights, assert_same_weights

pytestmark = pytest.mark.usefixtures('one_thread')
TESTS = Path(__file__).parent
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': os.pathsep.join([str(TESTS.parent), os.environ.get('PYTHONPATH', '')])}
SAVES = dict(save_latest_freq=3, save_epoch_freq=1)  # mid-epoch saves at 3 and 6, epoch saves at 4 and 8


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return tiny_facades(tmp_path_factory.mktemp('data'))


@pytest.fixture(scope='module')
def uninterrupted(root, tmp_path_factory):
    "Weights after 2 epochs x 4 images in one go."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    ck = tmp_path_factory.mktemp('full')
    train(tiny_opt(root, ck, **SAVES), progress=False)
    torch.set_num_threads(n)
    return saved_weights(ck/'tiny')


# A training process killed (os._exit: no cleanup, as SIGKILL) at a chosen point:
#   iter N: right after iteration N (before its saves); epoch_end E: after epoch E's saves;
#   replace N K: at the K-th .pth file moved into place after iteration N (between the files of a checkpoint)
KILLED = r'''
import os, sys
import torch
torch.set_num_threads(1)
from tiny_engine import tiny_opt
from gan_nb.train import train
root, ck, point, n, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
moves = []
class Kill:
    def on_iteration(self, state):
        if point == 'iter' and state.total_iters == n: os._exit(9)
        if point == 'replace' and state.total_iters == n: moves.append('armed')
    def on_epoch_end(self, state):
        if point == 'epoch_end' and state.epoch == n: os._exit(9)
real_replace = os.replace
def replace(src, dst):
    real_replace(src, dst)
    if moves and str(dst).endswith('.pth'):
        moves.append(dst)
        if len(moves) - 1 == k: os._exit(9)
os.replace = replace
train(tiny_opt(root, ck, save_latest_freq=3, save_epoch_freq=1), callbacks=[Kill()], progress=False)
os._exit(0)
'''


@pytest.mark.parametrize('point', ['iter 4 0', 'iter 5 0', 'iter 7 0', 'iter 8 0', 'epoch_end 1 0',
                                   'replace 4 2', 'replace 4 4', 'replace 8 5'])
def test_killed_anywhere_resumes_to_the_same_weights(root, tmp_path, uninterrupted, point):
    r = subprocess.run([sys.executable, '-c', KILLED, str(root), str(tmp_path)] + point.split(), cwd=TESTS, env=ENV,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 9, r.stderr[-3000:]
    try:
        summary = train(tiny_opt(root, tmp_path, continue_train=True, **SAVES), progress=False)
        assert (summary['epoch'], summary['total_iters']) == (2, 8)
    except ValueError as e:  # killed once the final checkpoint was committed: the run is complete, nothing to resume
        assert 'finished epoch 2 of 2' in str(e), e
    assert_same_weights(saved_weights(tmp_path/'tiny'), uninterrupted)
    assert [p.name for p in (tmp_path/'tiny').iterdir() if p.name.startswith('.')] == []  # no staging folder, no temporary file


class StopAt:
    def __init__(self, n): self.n = n
    def on_iteration(self, state):
        if state.total_iters == self.n: state.request_stop('test')


def test_stop_in_an_epochs_last_iteration_resumes(root, tmp_path, uninterrupted):
    "Issue 15.5: a stop in the last iteration of an epoch wedged every later resume (AttributeError loss_G_GAN)."
    first = train(tiny_opt(root, tmp_path, **SAVES), callbacks=[StopAt(4)], progress=False)
    assert (first['total_iters'], first['stop_reason']) == (4, 'test')
    second = train(tiny_opt(root, tmp_path, continue_train=True, **SAVES), progress=False)
    assert (second['epoch'], second['total_iters']) == (2, 8)
    assert_same_weights(saved_weights(tmp_path/'tiny'), uninterrupted)


def test_cycle_gan_resumes_exactly_at_an_epoch_boundary(tmp_path):
    "The image pools and every generator come back: bit-identical weights to an uninterrupted run."
    import gan_nb.cycle_gan  # noqa: F401 (registers the model)
    from gan_nb.extras.facades import make_facades
    data = make_facades(tmp_path/'unaligned', n_train=3, n_val=0, n_test=0, size=32, unaligned=True)
    def opt(ck, **kw):
        return tiny_cycle_gan_opt(data, tmp_path/ck, freq=3, pool_size=2, extra=('--save_epoch_freq', '1'), **kw)
    train(opt('full'), progress=False)
    train(opt('split'), callbacks=[StopAt(3)], progress=False)  # the first epoch's last iteration
    train(opt('split', continue_train=True), progress=False)
    nets = ('G_A', 'G_B', 'D_A', 'D_B')
    assert_same_weights(saved_weights(tmp_path/'split'/'cg', nets=nets), saved_weights(tmp_path/'full'/'cg', nets=nets))


def train_command(args, cwd, timeout=240):
    return subprocess.run([sys.executable, '-m', 'gan_nb.train'] + args, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def one_error_line(r):
    "Exit status 1 and exactly one `error:` line, at the start of its line (not glued to a progress bar), no traceback."
    errors = [line for line in r.stderr.splitlines() if 'error:' in line]
    assert r.returncode == 1 and len(errors) == 1 and 'Traceback' not in r.stderr, r.stderr[-3000:]
    assert errors[0].split(': error: ')[0] in ('train.py', 'gan_nb_train'), errors[0]
    return errors[0]


def test_a_crafted_training_state_runs_no_code(root, tmp_path):
    "Issue 15.1: a state file whose pickle would run code is refused before anything in it runs."
    train(tiny_opt(root, tmp_path), callbacks=[StopAt(2)], progress=False)
    marker = tmp_path/'marker'
    class Hostile:
        def __reduce__(self): return (os.mkdir, (str(marker),))  # unpickling would create this folder
    torch.save({'version': 2, 'epoch': 1, 'payload': Hostile()}, train_state_path(tmp_path/'tiny', 'latest'))
    line = one_error_line(train_command(tiny_train_args(root, tmp_path) + ['--continue_train'], tmp_path))
    assert 'cannot load the training state' in line and 'it holds pickled Python objects, which would run code' in line
    assert not marker.exists()


def test_a_second_run_with_the_same_name_is_refused(root, tmp_path):
    args = tiny_train_args(root, tmp_path, epochs=(1000, 0))  # still training when the second run starts
    first = subprocess.Popen([sys.executable, '-m', 'gan_nb.train'] + args, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=ENV, cwd=tmp_path)
    try:
        log, deadline = tmp_path/'tiny'/'loss_log.txt', time.time() + 120
        while time.time() < deadline and not (log.is_file() and '(epoch:' in log.read_text()): time.sleep(0.2)
        line = one_error_line(train_command(args, tmp_path))
        assert f'is in use by another training run (pid {first.pid} on ' in line and 'choose another --name' in line
    finally:
        first.kill(); first.wait()  # SIGKILL: the lock goes with the process, its file stays
    third = train_command(tiny_train_args(root, tmp_path, epochs=(1, 0)), tmp_path)
    assert third.returncode == 0, third.stderr[-2000:]
    assert f'took over {tmp_path/"tiny"} from a run that ended without releasing it (pid {first.pid}' in third.stderr


def test_resume_takes_the_newest_complete_checkpoint(root, tmp_path, capsys):
    train(tiny_opt(root, tmp_path, epochs=(2, 0), save_epoch_freq=1), progress=False)  # sets latest, 1 and 2
    (tmp_path/'tiny'/'latest_net_D.pth').write_bytes(b'overwritten by something else')
    summary = train(tiny_opt(root, tmp_path, epochs=(3, 0), save_epoch_freq=1, continue_train=True), progress=False)
    out = capsys.readouterr().out
    assert ("checkpoint 'latest' is incomplete (latest_net_D.pth is not the file saved with latest_train_state.pth): "
            "resuming from '2', the newest complete one") in out
    assert (summary['epoch'], summary['total_iters']) == (3, 12)


def test_a_nan_stop_is_a_line_of_its_own_in_a_log(root, tmp_path):
    "The progress bar writes to the log too (no terminal): the error starts a new line."
    args = tiny_train_args(root, tmp_path, epochs=(3, 0))
    args[args.index('--seed'):args.index('--seed') + 2] = ['--lr', '1e30']  # diverges at once
    line = one_error_line(train_command(args, tmp_path))
    assert 'became nan' in line or 'became inf' in line


def test_an_unwritable_folder_mid_run_names_the_folder(root, tmp_path, monkeypatch):
    "A checkpoint that cannot be written: one line naming the run folder (no staging or temporary file), the old set kept."
    real_mkdir = Path.mkdir
    def mkdir(self, *args, **kwargs):  # the folder turns read-only after the first checkpoint (as root, chmod would not)
        if self.name == '.latest_checkpoint' and (self.parent/'latest_train_state.pth').exists():
            raise PermissionError(13, 'Permission denied', str(self))
        return real_mkdir(self, *args, **kwargs)
    monkeypatch.setattr(Path, 'mkdir', mkdir)
    with pytest.raises(OSError) as e: train(tiny_opt(root, tmp_path, **SAVES), progress=False)
    assert str(e.value).startswith(f"cannot save checkpoint 'latest' in {tmp_path/'tiny'} (Permission denied); "
                                   'the previous checkpoint is kept'), e.value
    assert 'resume with --continue_train' in str(e.value) and '_checkpoint' not in str(e.value)
    assert torch.load(train_state_path(tmp_path/'tiny', 'latest'), weights_only=True)['total_iters'] == 3


@pytest.mark.skipif(not hasattr(os, 'geteuid') or os.geteuid() == 0, reason='root writes into read-only folders')
def test_a_read_only_folder_mid_run_is_named(root, tmp_path):
    class ReadOnly:
        def on_iteration(self, state):
            if state.total_iters == 2: os.chmod(state.save_dir, 0o555)
    try:
        with pytest.raises(OSError) as e: train(tiny_opt(root, tmp_path, **SAVES), callbacks=[ReadOnly()], progress=False)
    finally: os.chmod(tmp_path/'tiny', 0o755)
    assert f'in {tmp_path/"tiny"}' in str(e.value) and '.tmp' not in str(e.value), e.value


def test_exact_at_an_epoch_boundary_with_loader_workers(root, tmp_path):
    "With --seed, worker processes start afresh each epoch from the restored random state: the same crops."
    full = train(tiny_opt(root, tmp_path/'full', num_threads=1, **SAVES), progress=False)
    train(tiny_opt(root, tmp_path/'split', num_threads=1, **SAVES), callbacks=[StopAt(4)], progress=False)
    train(tiny_opt(root, tmp_path/'split', num_threads=1, continue_train=True, **SAVES), progress=False)
    assert full['total_iters'] == 8
    assert_same_weights(saved_weights(tmp_path/'split'/'tiny'), saved_weights(tmp_path/'full'/'tiny'))
