"""Hostile cases (issue 27, nothing lost): kills between an epoch's checkpoints, repeated signals, a full disk,
tampered state files, a half-moved set read by test/export, a run folder reached through a link, a NaN pixel."""
import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gan_nb.core
from gan_nb.base_model import create_model
from gan_nb.data import AlignedDataset
from gan_nb.options import TestOptions
from gan_nb.train import train, NonFiniteLossError
from gan_nb.extras.checkpoints import RunLock, RunLockedError, checkpoint_problem, train_state_path
from gan_nb.extras.loading import load_generator
from tiny_engine import one_thread, tiny_facades, tiny_opt, tiny_train_args, saved_weights, assert_same_weights  # noqa: F401

pytestmark = pytest.mark.usefixtures('one_thread')
TESTS = Path(__file__).parent
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': os.pathsep.join([str(TESTS.parent), os.environ.get('PYTHONPATH', '')])}
SAVES = dict(save_latest_freq=3, save_epoch_freq=1)  # mid-epoch saves at 3 and 6, epoch saves at 4 and 8
LABELS = ('latest', '1', '2')


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return tiny_facades(tmp_path_factory.mktemp('data'))


@pytest.fixture(scope='module')
def uninterrupted(root, tmp_path_factory):
    "Every checkpoint (latest, 1, 2) of 2 epochs x 4 images in one go."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    ck = tmp_path_factory.mktemp('full')
    train(tiny_opt(root, ck, **SAVES), progress=False)
    torch.set_num_threads(n)
    return {label: saved_weights(ck/'tiny', label) for label in LABELS}


def assert_whole_and_exact(folder, uninterrupted):
    "Every checkpoint the uninterrupted run wrote, whole and bit-identical; no staging folder or temporary file."
    for label in LABELS:
        assert checkpoint_problem(folder, label) is None, label
        assert_same_weights(saved_weights(folder, label), uninterrupted[label])
    assert [p.name for p in folder.iterdir() if p.name.startswith('.')] == []


def resume(root, ck):
    try: train(tiny_opt(root, ck, continue_train=True, **SAVES), progress=False)
    except ValueError as e: assert 'finished epoch 2 of 2' in str(e), e  # the run was complete: nothing to train


# `replace N K`: killed (os._exit, as SIGKILL) at the K-th .pth file replaced after iteration N (atomic writes into the
# staging folder count, then the moves): at the end of epoch 1 (N=4) `latest` takes replaces 1-6, epoch `1` 7-12.
# `sigint_save N`: two SIGINTs a moment apart while torch.save writes the checkpoint after iteration N.
# `sigint_startup 0`: a SIGINT while the dataset is built.
SCRIPT = r'''
import os, signal, sys
import torch
torch.set_num_threads(1)
import gan_nb.train as T
from tiny_engine import tiny_train_args
root, ck, point, n, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
moves, real_replace, real_save, real_dataset = [], os.replace, torch.save, T.create_dataset
class Arm:
    def on_iteration(self, state):
        if state.total_iters == n: moves.append('armed')
T.RUN_HOOKS['zz_test'] = lambda run: Arm()
def replace(src, dst):
    real_replace(src, dst)
    if point == 'replace' and moves and str(dst).endswith('.pth'):
        moves.append(dst)
        if len(moves) - 1 == k: os._exit(9)
def save(*args, **kwargs):
    if point == 'sigint_save' and moves == ['armed']:
        moves.append('sent'); os.kill(os.getpid(), signal.SIGINT); os.kill(os.getpid(), signal.SIGINT)
    return real_save(*args, **kwargs)
def dataset(opt):
    if point == 'sigint_startup': os.kill(os.getpid(), signal.SIGINT)
    return real_dataset(opt)
os.replace, torch.save, T.create_dataset = replace, save, dataset
T.main(tiny_train_args(root, ck) + ['--save_latest_freq', '3', '--save_epoch_freq', '1'])
'''


def run_script(root, ck, point):
    return subprocess.run([sys.executable, '-c', SCRIPT, str(root), str(ck)] + point.split(), cwd=TESTS, env=ENV,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize('point', ['replace 4 6', 'replace 4 10', 'replace 8 6'],
                         ids=['between_latest_and_epoch_1', 'moving_epoch_1', 'between_latest_and_epoch_2'])
def test_a_kill_at_an_epochs_end_loses_no_epoch_checkpoint(root, tmp_path, uninterrupted, point):
    r = run_script(root, tmp_path, point)
    assert r.returncode == 9, r.stderr[-3000:]
    resume(root, tmp_path)
    assert_whole_and_exact(tmp_path/'tiny', uninterrupted)


def test_two_sigints_during_a_save_exit_130_and_resume_exactly(root, tmp_path, uninterrupted):
    r = run_script(root, tmp_path, 'sigint_save 6 0')
    assert r.returncode == 130 and 'Traceback' not in r.stderr, r.stderr[-3000:]
    assert 'already stopping' in r.stderr
    assert torch.load(train_state_path(tmp_path/'tiny', 'latest'), weights_only=True)['total_iters'] == 6
    resume(root, tmp_path)
    assert_whole_and_exact(tmp_path/'tiny', uninterrupted)


def test_a_sigint_in_start_up_is_one_line_and_130(root, tmp_path):
    r = run_script(root, tmp_path, 'sigint_startup 0 0')
    assert r.returncode == 130 and 'Traceback' not in r.stderr, r.stderr[-3000:]
    assert 'before its first step; nothing saved' in r.stdout and not list((tmp_path/'tiny').glob('*.pth'))


def test_two_sigints_while_the_loader_draws_resume_exactly(root, tmp_path, uninterrupted, monkeypatch):
    "The second Ctrl-C used to raise mid-draw: the saved random state was one the loader had used."
    calls, real = [], AlignedDataset.__getitem__
    def getitem(self, index):
        calls.append(index)
        if len(calls) == 6: os.kill(os.getpid(), signal.SIGINT); os.kill(os.getpid(), signal.SIGINT)
        return real(self, index)
    monkeypatch.setattr(AlignedDataset, '__getitem__', getitem)
    first = train(tiny_opt(root, tmp_path, **SAVES), progress=False)
    assert (first['stop_reason'], first['total_iters'], first['interrupted']) == ('SIGINT', 6, None)
    monkeypatch.undo()
    resume(root, tmp_path)
    assert_whole_and_exact(tmp_path/'tiny', uninterrupted)


@pytest.mark.parametrize('error', [OSError(errno.ENOSPC, 'No space left on device'),
                                   RuntimeError('[enforce fail at inline_container.cc:672] . unexpected pos 4416 vs 4309')])
def test_a_full_disk_is_one_line_and_the_data_stays_whole(root, tmp_path, uninterrupted, monkeypatch, error):
    "A writer that fails part-way through the checkpoint after iteration 6; resumed on a disk with room: exact."
    written = []
    class Filling:  # a file on a disk that fills up once iteration 6 is done
        def __init__(self, f): self.f = f
        def __getattr__(self, name): return getattr(self.f, name)
        def __enter__(self): return self
        def __exit__(self, *exc): return self.f.__exit__(*exc)
        def write(self, data):
            written.append(len(data))
            if armed and sum(written) > 5000: raise error
            return self.f.write(data)
    armed = False
    class Arm:  # the training page's images at iteration 6 are written first
        def before_checkpoint(self, state):
            nonlocal armed
            if state.total_iters == 6: armed, written[:] = True, []
    monkeypatch.setattr(gan_nb.core, 'open', lambda *a, **k: Filling(open(*a, **k)), raising=False)
    with pytest.raises(OSError) as e: train(tiny_opt(root, tmp_path, **SAVES), callbacks=[Arm()], progress=False)
    assert str(e.value) == (f"cannot save checkpoint 'latest' in {tmp_path/'tiny'} (the disk is full); the previous checkpoint "
                            'is kept: free space on that disk, then resume with --continue_train')
    assert torch.load(train_state_path(tmp_path/'tiny', 'latest'), weights_only=True)['total_iters'] == 4  # epoch 1's end
    monkeypatch.undo()
    resume(root, tmp_path)
    assert_whole_and_exact(tmp_path/'tiny', uninterrupted)


@pytest.mark.parametrize('tamper, says', [(lambda s: s.pop('epoch_iter'), "'epoch_iter' is missing"),
                                          (lambda s: s.update(total_iters='2'), "'total_iters' is str, not int"),
                                          (lambda s: s.update(epoch=-3), "'epoch' is negative (-3)"),
                                          (lambda s: s.update(optimizers=[5, 6]), 'is damaged (')])
def test_a_tampered_state_file_is_one_line(root, tmp_path, tamper, says):
    train(tiny_opt(root, tmp_path), callbacks=[StopAt(2)], progress=False)
    path = train_state_path(tmp_path/'tiny', 'latest')
    state = torch.load(path, weights_only=True)
    tamper(state)
    torch.save(state, path)
    with pytest.raises(ValueError) as e: train(tiny_opt(root, tmp_path, continue_train=True), progress=False)
    assert says in str(e.value) and str(e.value).startswith(str(path)) and '\n' not in str(e.value), e.value
    assert 'delete it to start over' in str(e.value)


class StopAt:
    def __init__(self, n): self.n = n
    def on_iteration(self, state):
        if state.total_iters == self.n: state.request_stop('test')


def test_another_batch_size_on_resume_is_a_note(root, tmp_path, capsys):
    train(tiny_opt(root, tmp_path), callbacks=[StopAt(2)], progress=False)
    summary = train(tiny_opt(root, tmp_path, continue_train=True, batch_size=2), progress=False)
    assert 'note: the run was saved with --batch_size 1, this one has 2' in capsys.readouterr().out
    assert summary['total_iters'] == 8


def test_test_and_export_never_read_a_half_moved_set(root, tmp_path, capsys):
    r = run_script(root, tmp_path, 'replace 6 4')  # latest_net_G of iteration 6 in place, latest_net_D of iteration 3
    assert r.returncode == 9, r.stderr[-3000:]
    folder = tmp_path/'tiny'
    assert checkpoint_problem(folder, 'latest') is not None
    live = RunLock(folder).acquire()  # a training run still saving: say to wait
    with pytest.raises(RunLockedError, match='try again in a moment'): load_generator(folder/'latest_net_G.pth')
    live.release()
    load_generator(folder/'latest_net_G.pth')  # gan_nb_export's loader: completes the set first
    assert checkpoint_problem(folder, 'latest') is None and torch.load(
        train_state_path(folder, 'latest'), weights_only=True)['total_iters'] == 6
    assert "completed checkpoint 'latest'" in capsys.readouterr().out
    r = run_script(root, tmp_path/'again', 'replace 6 4')
    opt = TestOptions().gather(['--dataroot', str(root), '--name', 'tiny', '--checkpoints_dir', str(tmp_path/'again'),
                                '--model', 'pix2pix', '--direction', 'BtoA', '--netG', 'resnet_6blocks', '--ngf', '8',
                                '--ndf', '8', '--device', 'cpu'])
    create_model(opt).setup(opt)  # gan_nb_test's path
    assert checkpoint_problem(tmp_path/'again'/'tiny', 'latest') is None


def test_the_lock_guards_the_real_folder(tmp_path):
    (tmp_path/'real').mkdir()
    (tmp_path/'link').symlink_to(tmp_path/'real')
    first = RunLock(tmp_path/'real').acquire()
    try:
        with pytest.raises(RunLockedError, match='is in use by another training run'): RunLock(tmp_path/'link').acquire()
    finally: first.release()
    (tmp_path/'.other.lock').symlink_to(tmp_path/'victim')  # a lock file that is a link: never written through
    (tmp_path/'other').mkdir()
    with pytest.raises(RunLockedError, match='is a link gan_nb did not make'): RunLock(tmp_path/'other').acquire()
    assert not (tmp_path/'victim').exists()


def test_a_nan_pixel_is_blamed_on_its_file(root, tmp_path, monkeypatch):
    real = AlignedDataset.__getitem__
    def getitem(self, index):
        item = real(self, index)
        if index == 2: item['A'][0, 0, 0] = float('nan')
        return item
    monkeypatch.setattr(AlignedDataset, '__getitem__', getitem)
    with pytest.raises(NonFiniteLossError) as e: train(tiny_opt(root, tmp_path), progress=False)
    bad = sorted((root/'train').iterdir())[2]
    assert f"the batch's images hold NaN or infinite values ({bad}): fix or remove them" in str(e.value), e.value
    assert 'lower --lr' not in str(e.value)


def test_a_ctrl_c_while_parsing_is_one_line_and_130(monkeypatch, capsys):
    "Ctrl-C before the run exists (imports, options): no traceback, exit status 130."
    import gan_nb.train as train_module
    def interrupted(args): raise KeyboardInterrupt
    monkeypatch.setattr(train_module, 'train_from_args', interrupted)
    with pytest.raises(SystemExit) as e: train_module.main([])
    assert e.value.code == 130
    assert capsys.readouterr().err.strip().endswith('stopped (Ctrl-C) before training began; nothing saved')


def test_the_loss_log_is_never_written_through_a_link(root, tmp_path):
    "A loss_log.txt planted as a link to a file elsewhere: refused in one line, the file it points to untouched."
    target = tmp_path/'elsewhere.txt'; target.write_text('keep me\n')
    run = tmp_path/'ck'/'tiny'; run.mkdir(parents=True); (run/'loss_log.txt').symlink_to(target)
    r = subprocess.run([sys.executable, '-c', 'from gan_nb.train import main; main()', *tiny_train_args(root, tmp_path/'ck')], env=ENV,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and 'loss_log.txt' in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert target.read_text() == 'keep me\n'
