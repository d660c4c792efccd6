"""Nothing lost: exact resume, interruption, NaN stop, atomic checkpoints, unwritable folders, SIGTERM."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from gan_nb.options import atomic_write
from gan_nb.train import train, NonFiniteLossError
from gan_nb.extras.checkpoints import train_state_path
from gan_nb.extras.plots import read_loss_log
from tiny_engine import tiny_cycle_gan_opt, one_thread, tiny_facades, tiny_opt, tiny_train_args, saved_weights, assert_same_weights

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return tiny_facades(tmp_path_factory.mktemp('data'))


@pytest.fixture(scope='module')
def uninterrupted(root, tmp_path_factory):
    "Weights after 2 epochs x 4 images (8 iterations) in one go."
    n = torch.get_num_threads(); torch.set_num_threads(1)  # (module-scoped: the function fixture is not active yet)
    ck = tmp_path_factory.mktemp('full')
    summary = train(tiny_opt(root, ck), progress=False)
    torch.set_num_threads(n)
    assert (summary['total_iters'], summary['epoch'], summary['stop_reason']) == (8, 2, None)
    return saved_weights(ck/'tiny')


class StopAt:
    "Ask the loop to stop after iteration `n` (as a dashboard's Stop button would)."
    def __init__(self, n): self.n = n
    def on_iteration(self, state):
        if state.total_iters == self.n: state.request_stop('test')


class InterruptAt:
    "Raise KeyboardInterrupt after iteration `n` (as Ctrl-C would)."
    def __init__(self, n): self.n = n
    def on_iteration(self, state):
        if state.total_iters == self.n: raise KeyboardInterrupt


@pytest.mark.parametrize('stop_at', [3, 4], ids=['mid_epoch', 'epoch_end'])
def test_stop_then_resume_equals_uninterrupted(root, tmp_path, uninterrupted, stop_at):
    first = train(tiny_opt(root, tmp_path), callbacks=[StopAt(stop_at)], progress=False)
    assert (first['total_iters'], first['stop_reason']) == (stop_at, 'test')
    assert train_state_path(tmp_path/'tiny', 'latest').is_file()
    second = train(tiny_opt(root, tmp_path, continue_train=True), progress=False)
    assert (second['total_iters'], second['epoch'], second['stop_reason']) == (8, 2, None)
    assert_same_weights(saved_weights(tmp_path/'tiny'), uninterrupted)
    # the loss log holds every iteration once (plus a header per run)
    assert [r['iters'] for r in read_loss_log(tmp_path/'tiny'/'loss_log.txt')] == [1, 2, 3, 4] * 2


def test_keyboard_interrupt_saves_and_resume_finishes(root, tmp_path, uninterrupted):
    first = train(tiny_opt(root, tmp_path), callbacks=[InterruptAt(5)], progress=False)
    assert (first['interrupted'], first['total_iters'], first['epoch']) == ('KeyboardInterrupt', 5, 2)
    for f in ('latest_net_G.pth', 'latest_net_D.pth', 'latest_train_state.pth'): assert (tmp_path/'tiny'/f).is_file()
    second = train(tiny_opt(root, tmp_path, continue_train=True), progress=False)
    assert second['total_iters'] == 8
    assert_same_weights(saved_weights(tmp_path/'tiny'), uninterrupted)


def test_weights_only_checkpoint_still_resumes(root, tmp_path, capsys):
    train(tiny_opt(root, tmp_path), callbacks=[StopAt(4)], progress=False)
    train_state_path(tmp_path/'tiny', 'latest').unlink()  # what the reference leaves: weights only
    summary = train(tiny_opt(root, tmp_path, continue_train=True, epoch_count=2), progress=False)
    assert 'resuming from the weights only at epoch 2' in capsys.readouterr().out
    assert (summary['epoch'], summary['total_iters']) == (2, 4)  # counters restart: the reference's behaviour


def test_nan_loss_stops_and_keeps_last_good_checkpoint(root, tmp_path):
    saved = {}
    class Poison:
        def on_checkpoint(self, state, path): saved['G'] = (state.save_dir/'latest_net_G.pth').read_bytes()
        def on_iteration(self, state):
            if state.total_iters == 3:  # after step 3 (its losses were fine): step 4's losses are NaN
                with torch.no_grad():
                    for p in state.model.netG.parameters(): p.fill_(float('nan'))
    opt = tiny_opt(root, tmp_path, save_latest_freq=2)
    with pytest.raises(NonFiniteLossError) as e: train(opt, callbacks=[Poison()], progress=False)
    message = str(e.value)
    assert 'became nan at epoch 1, iteration 4' in message and 'try a lower --lr' in message
    assert f"the last good checkpoint is {tmp_path/'tiny'/'latest_train_state.pth'}" in message
    assert (tmp_path/'tiny'/'latest_net_G.pth').read_bytes() == saved['G']  # not overwritten with NaN weights
    assert all(torch.isfinite(v).all() for v in saved_weights(tmp_path/'tiny', nets=('G',)).values())


def test_failed_write_leaves_previous_file(tmp_path):
    path = tmp_path/'latest_net_G.pth'
    torch.save({'w': torch.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(OSError):
        with atomic_write(path, 'wb') as f:
            f.write(b'half a checkpoint')
            raise OSError('No space left on device')
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ['latest_net_G.pth']  # no temporary file left behind


def test_failed_checkpoint_save_keeps_previous_weights(root, tmp_path, monkeypatch):
    model = {}
    class Grab:
        def on_train_begin(self, state): model['m'] = state.model
    train(tiny_opt(root, tmp_path, n_epochs_decay=0), callbacks=[Grab()], progress=False)
    before = (tmp_path/'tiny'/'latest_net_G.pth').read_bytes()
    def broken_save(obj, f, *args, **kwargs):
        f.write(b'partial'); raise OSError('No space left on device')
    monkeypatch.setattr(torch, 'save', broken_save)
    with torch.no_grad():
        for p in model['m'].netG.parameters(): p.add_(1)
    with pytest.raises(OSError): model['m'].save_networks('latest')
    assert (tmp_path/'tiny'/'latest_net_G.pth').read_bytes() == before
    assert not [f for f in os.listdir(tmp_path/'tiny') if f.endswith('.tmp')]


def test_unwritable_checkpoints_dir_fails_before_training(root, tmp_path):
    (tmp_path/'a_file').write_text('not a folder')
    began = []
    class Began:
        def on_train_begin(self, state): began.append(True)
    opt = tiny_opt(root, tmp_path/'a_file'/'checkpoints')
    with pytest.raises(OSError, match='choose a writable --checkpoints_dir'): train(opt, callbacks=[Began()], progress=False)
    assert began == []


def test_sigterm_saves_and_exits(root, tmp_path):
    args = tiny_train_args(root, tmp_path, epochs=(50, 0))
    args[args.index('--print_freq') + 1] = '4'
    proc = subprocess.Popen([sys.executable, '-m', 'gan_nb.train'] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    log = tmp_path/'tiny'/'loss_log.txt'
    deadline = time.time() + 60
    while time.time() < deadline and not (log.is_file() and read_loss_log(log)): time.sleep(0.1)
    assert proc.poll() is None, proc.stdout.read()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    assert 'SIGTERM received' in out and 'resume with --continue_train' in out
    state = torch.load(tmp_path/'tiny'/'latest_train_state.pth', weights_only=True)
    assert state['total_iters'] > 0 and (tmp_path/'tiny'/'latest_net_G.pth').is_file()


def test_cycle_gan_resume_equals_uninterrupted(tmp_path):
    "CycleGAN draws from Python's random for unaligned pairs and its image pools: those are restored too."
    import gan_nb.cycle_gan  # noqa: F401 (registers the model)
    from gan_nb.extras.facades import make_facades
    root = make_facades(tmp_path/'unaligned', n_train=4, n_val=0, n_test=0, size=32, unaligned=True)
    def opt(ck, **kw):
        return tiny_cycle_gan_opt(root, tmp_path/ck, freq=4, pool_size=3, **kw)
    train(opt('full'), progress=False)
    train(opt('split'), callbacks=[StopAt(5)], progress=False)
    train(opt('split', continue_train=True), progress=False)
    nets = ('G_A', 'G_B', 'D_A', 'D_B')
    assert_same_weights(saved_weights(tmp_path/'split'/'cg', nets=nets), saved_weights(tmp_path/'full'/'cg', nets=nets))


def test_crash_saves_before_the_error_propagates(root, tmp_path):
    class Crash:
        def on_iteration(self, state):
            if state.total_iters == 3: raise RuntimeError('a bug in an observer')
    with pytest.raises(RuntimeError, match='a bug in an observer'):
        train(tiny_opt(root, tmp_path), callbacks=[Crash()], progress=False)
    state = torch.load(train_state_path(tmp_path/'tiny', 'latest'), weights_only=True)
    assert (state['epoch'], state['epoch_iter'], state['total_iters']) == (1, 3, 3)
    assert train(tiny_opt(root, tmp_path, continue_train=True), progress=False)['total_iters'] == 8


def test_resume_keeps_fp16_scale_and_takes_todays_adam_kernel(root, tmp_path):
    "The fp16 gradient scaler's factor survives a resume; the optimiser kernel follows the resumed run's flags."
    train(tiny_opt(root, tmp_path, amp='fp16'), callbacks=[StopAt(3)], progress=False)
    saved = torch.load(train_state_path(tmp_path/'tiny', 'latest'), weights_only=True)
    assert saved['scaler'] is not None and saved['scaler']['scale'] > 0
    seen = {}

    class Peek:
        def on_train_begin(self, state):
            seen['scale'] = state.model.scaler.get_scale()
            seen['fused'] = {g['fused'] for o in state.model.optimizers for g in o.param_groups}
    train(tiny_opt(root, tmp_path, amp='fp16', continue_train=True, fused_adam=True), callbacks=[Peek()], progress=False)
    assert seen['scale'] == saved['scaler']['scale']
    assert seen['fused'] == {True}
