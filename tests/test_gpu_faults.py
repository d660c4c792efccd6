"""The single-GPU faults of issue 28, tested on a CPU with the GPU's answers mocked."""
import argparse
import os
import time
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
import torch

import gan_nb.extras.speed as speed
from gan_nb.base_model import BaseModel
from gan_nb.callbacks import TrainState
from gan_nb.extras.checkpoints import restore_train_state
from gan_nb.extras.speed import DataWait, check_amp, choose_speed_flags, probe_batch, probe_speed, speed_candidates, step_runner
from gan_nb.train import train
from tiny_engine import one_thread, tiny_opt  # noqa: F401 (a fixture)


def gpu(capability):
    "A CUDA GPU of `capability` as torch describes it (`is_bf16_supported` says True on a T4 too)."
    return mock.patch.multiple(torch.cuda, is_bf16_supported=mock.Mock(return_value=True),
                               get_device_capability=mock.Mock(return_value=capability))


@pytest.mark.parametrize('capability, amp', [((7, 5), 'fp16'), ((7, 0), 'fp16'), ((8, 0), 'bf16'), ((9, 0), 'bf16')])
def test_amp_bf16_on_gpu_without_bfloat16_units_trains_in_fp16(capability, amp):
    notes = []
    with gpu(capability):
        assert check_amp('bf16', 'cuda:0', say=notes.append) == amp
        assert [f['amp'] for f in speed_candidates('cuda').values() if 'amp' in f] == (['fp16', 'bf16'] if amp == 'bf16' else ['fp16'])
        with mock.patch.object(speed, 'resolve_device', return_value=torch.device('cuda')):  # through the build hook
            opt = argparse.Namespace(device='cuda', amp='bf16', fast=False, channels_last=False, fused_adam=False)
            assert speed.apply_speed_settings(opt, say=notes.append)['amp'] == amp
    if amp == 'fp16':
        assert len(notes) == 2 and '%d.%d' % capability in notes[0] and 'float16 with a gradient scaler' in notes[0]
    else: assert notes == []


class Clock:
    "A clock that moves only when a fake step says how long it took."
    def __init__(self): self.now = 0.0
    def __call__(self): return self.now


def test_probe_warms_each_candidate_before_timing():
    clock, calls = Clock(), []
    def runner(opt, flags):  # a GPU: each new precision's first step autotunes (10 s), then 0.5 s against the default's 1 s
        n = []
        def step():
            n.append(1); calls.append(flags)
            clock.now += 10.0 if len(n) == 1 else 0.5 if flags else 1.0
        return step
    times = probe_speed(None, {'default': {}, 'fp16': {'amp': 'fp16'}}, runner=runner, timer=clock)
    assert times == {'default': 1.0, 'fp16': 0.5} and len(calls) == 6  # 1 untimed + 2 timed each


def test_probe_batch_lives_on_the_models_device():
    opt = argparse.Namespace(batch_size=2, crop_size=8, input_nc=3, output_nc=1, device='cpu', fast=True)
    seen = []
    model = SimpleNamespace(device=torch.device('meta'), set_input=seen.append, optimize_parameters=lambda: None)
    with mock.patch.object(speed, 'create_model', return_value=model): step_runner(opt, {})()
    assert {seen[0]['A'].device.type, seen[0]['B'].device.type} == {'meta'}
    assert probe_batch(opt, 'meta')['B'].shape == (2, 1, 8, 8)


def choose(times=None, world_size='1'):
    "What `--fast` chooses on a mocked A100 from fake step times (or under torchrun, without timing)."
    clock = Clock()
    def runner(opt, flags):
        def step(): clock.now += times[flags.get('amp', 'off')]
        return step
    opt = argparse.Namespace(device='cuda', fast=True, amp='off', channels_last=False, fused_adam=False)
    with gpu((8, 0)), mock.patch.object(speed, 'resolve_device', return_value=torch.device('cuda')), \
         mock.patch.dict(os.environ, {'WORLD_SIZE': world_size}):
        return choose_speed_flags(opt, say=lambda line: None, runner=runner, timer=clock)['amp']


def test_fast_prefers_native_bf16_unless_measured_slower():
    assert choose(world_size='2') == 'bf16'  # under torchrun: no timing, bf16 by name, not by its place in the list
    assert choose({'off': 1.0, 'fp16': 0.50, 'bf16': 0.51}) == 'bf16'  # as fast within 5%: no gradient scaler needed
    assert choose({'off': 1.0, 'fp16': 0.40, 'bf16': 0.60}) == 'fp16'  # clearly slower: the measurement decides


@pytest.mark.parametrize('device, index', [('cuda:1', 1), ('cuda', None), ('cpu', None)])
def test_a_gpu_named_by_index_becomes_the_current_device(device, index):
    opt = argparse.Namespace(isTrain=False, device=device, checkpoints_dir='unused', name='x', preprocess='scale_width',
                             amp='off', channels_last=False, compile=False)
    with mock.patch('gan_nb.base_model.resolve_device', return_value=torch.device(device)), \
         mock.patch('torch.cuda.set_device') as set_device:
        BaseModel(opt)
    assert [c.args[0] for c in set_device.call_args_list] == ([torch.device('cuda', 1)] if index else [])


@pytest.mark.parametrize('saved_fused', [True, None])
@pytest.mark.parametrize('fused_now', [True, False])
def test_resume_puts_adams_step_counts_where_todays_kernel_wants_them(saved_fused, fused_now):
    """torch places a loaded `step` by the *saved* groups' `fused` flag (on the parameter's device if fused, else
    as saved, on the CPU); the resume sets today's `--fused_adam` first. A parameter on the meta device stands in
    for a GPU: a step count there is one on the parameter's device."""
    w = torch.nn.Parameter(torch.ones(3))
    old = torch.optim.Adam([w], fused=saved_fused)
    w.grad = torch.ones(3); old.step()
    on_gpu = torch.nn.Parameter(torch.ones(3, device='meta'))
    new = torch.optim.Adam([on_gpu], fused=fused_now or None)
    saved = dict(optimizers=[old.state_dict()], scaler=None, schedulers=[], pools={}, metric=0, best=None, path=Path('x'),
                 epoch_count=1, total_iters=1, epoch=1, epoch_done=False, epoch_iter=1, rng=None, epoch_rng=None, batch_size=1)
    opt = argparse.Namespace(fused_adam=fused_now, lr_policy='step', n_epochs=1, n_epochs_decay=0)
    model = SimpleNamespace(optimizers=[new], scaler=None, schedulers=[], device=torch.device('meta'))
    restore_train_state(model, opt, TrainState(opt=opt, n_epochs_total=1), saved)
    state = new.state[on_gpu]
    assert state['step'].device.type == ('meta' if fused_now else 'cpu')
    assert state['exp_avg'].device.type == 'meta' and new.param_groups[0]['fused'] == (fused_now or None)


class SlowBatches:
    "A data loader whose batches take `wait` seconds each (a decoder that cannot keep up)."
    def __init__(self, opt, n, wait): self.batch, self.n, self.wait = probe_batch(opt), n, wait
    def __len__(self): return self.n
    def __iter__(self):
        for _ in range(self.n):
            time.sleep(self.wait)
            yield self.batch


@pytest.mark.parametrize('wait, said', [(0.3, True), (0.0, False)])
def test_a_starved_run_says_so_once(tmp_path, one_thread, wait, said):  # noqa: F811
    opt = tiny_opt('unused', tmp_path, epochs=(2, 0), print_freq=100, display_freq=100)
    notes = []
    watcher = DataWait(say=notes.append)  # the speed extra attaches one on a GPU only
    train(opt, callbacks=[watcher], dataset=SlowBatches(opt, 4, wait), progress=False)
    assert len(notes) == int(said)
    if said: assert 'the data loader is the bottleneck' in notes[0] and '--num_threads, now 0' in notes[0]


def test_the_data_wait_note_is_attached_on_a_gpu_only():
    from gan_nb.callbacks import RUN_HOOKS
    run = SimpleNamespace(opt=SimpleNamespace(device='cuda:0'))
    with mock.patch.object(speed, 'resolve_device', return_value=torch.device('cuda', 0)):
        assert isinstance(RUN_HOOKS['data_wait'](run), DataWait)
    assert RUN_HOOKS['data_wait'](SimpleNamespace(opt=SimpleNamespace(device='cpu'))) is None
