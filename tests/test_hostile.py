"""Hostile input, one class at a time: crafted files run no code, user paths stay inside their folders, wrong
outputs are refused before any work, results are scored on their true scale, and nothing is written before an error."""
import argparse
import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from gan_nb.extras import metrics
from gan_nb.extras.export import export, read_export_metadata, run_exported
from gan_nb.images import save_array
from gan_nb.networks import define_G
from gan_nb.options import OptionError, TestOptions, TrainOptions
from gan_nb.train import NonFiniteLossError
from gan_nb import inference
from gan_nb.extras import export as export_module


def cli(main, args, capsys):
    "Run a tool's `main` in this process (a start-up of the script costs seconds): (exit status, stderr)."
    capsys.readouterr()
    with pytest.raises(SystemExit) as e: main(args)
    return e.value.code, capsys.readouterr().err


class Payload:  # unpickling it creates `marker`: code ran
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return exec, (f'open({self.marker!r}, "w").close()',)


def rewritten(pt2, out, **members):
    "A copy of the archive `pt2` with `members` (name ending -> bytes) replacing or adding files."
    with zipfile.ZipFile(pt2) as src, zipfile.ZipFile(out, 'w') as dst:
        names = src.namelist()
        for name in names:
            new = next((v for k, v in members.items() if name.endswith(k)), None)
            dst.writestr(name, src.read(name) if new is None else new)
        for k, v in members.items():
            if not any(n.endswith(k) for n in names): dst.writestr(names[0].split('/')[0] + '/' + k, v)
    return out


@pytest.fixture(scope='module')
def pt2(tmp_path_factory):
    "A real `.pt2` of a one-convolution network, with gan_nb's metadata."
    path = tmp_path_factory.mktemp('pt2')/'conv.pt2'
    program = torch.export.export(nn.Conv2d(3, 3, 1), (torch.rand(2, 3, 8, 8),))
    torch.export.save(program, path, extra_files={'gan_nb': json.dumps({'netG': 'conv'})})
    return path


def test_crafted_pt2_runs_no_code(pt2, tmp_path):
    marker = tmp_path/'ran'
    assert read_export_metadata(pt2) == {'netG': 'conv'} and run_exported(pt2, torch.rand(2, 3, 8, 8)).shape == (2, 3, 8, 8)
    sample = rewritten(pt2, tmp_path/'sample.pt2', **{'sample_inputs/model.pt': pickle.dumps(Payload(marker))})
    with pytest.raises(RuntimeError): torch.export.load(sample)  # the crafted file is real: torch alone runs its code, then fails
    assert marker.exists()
    marker.unlink()
    weights = json.loads(zipfile.ZipFile(pt2).read(next(n for n in zipfile.ZipFile(pt2).namelist() if n.endswith('weights_config.json'))))
    for entry in weights['config'].values(): entry['use_pickle'] = True
    pickled = rewritten(pt2, tmp_path/'pickled.pt2', **{'weights_config.json': json.dumps(weights)})
    formula = rewritten(pt2, tmp_path/'formula.pt2', **{'models/model.json': json.dumps(
        {'graph': {'sym_int_values': {'s0': {'as_expr': {'expr_str': f'exec("open({str(marker)!r}, \'w\')")'}}}}})})
    for crafted, message in ((sample, 'holds a pickle of more than tensors'), (pickled, 'could run code when loaded'),
                             (formula, 'could run code when loaded')):
        for read in (read_export_metadata, lambda p: run_exported(p, torch.rand(2, 3, 8, 8))):
            with pytest.raises(ValueError, match=message): read(crafted)
            assert not marker.exists()


def test_user_paths_are_plain_names(tmp_path, capsys):
    base = ['--dataroot', str(tmp_path), '--checkpoints_dir', str(tmp_path/'ck'), '--name', 'run-1_x']
    for flag, value in (('--name', '../x'), ('--name', str(tmp_path/'abs')), ('--epoch', '../../x'), ('--phase', 'a/b'), ('--phase', '..')):
        with pytest.raises(OptionError, match=f'{flag} .* must be one plain name'): TestOptions().gather(base + [flag, value])
    with pytest.raises(OptionError, match='--val_phase'): TrainOptions().gather(base + ['--val_phase', '../v'])
    assert TestOptions().gather(base + ['--suffix', '{model}'], model='test').name == 'run-1_x_test'
    status, err = cli(inference.main, base + ['--phase', '../../out'], capsys)
    assert status == 2 and "error: --phase '../../out': a part of a file or folder name must be one plain name" in err and err.count('\n') <= 3, err
    assert not list(tmp_path.rglob('*_opt.txt'))
    for args in (['--name', '../x'], ['--name', str(tmp_path)], ['--name', 'x', '--epoch', '../y'], ['--name', 'x', '--network', 'G/..']):
        status, err = cli(export_module.main, args + ['--format', 'pt2', '--checkpoints_dir', str(tmp_path)], capsys)
        assert status == 1 and 'must be one plain name' in err and len(err.splitlines()) == 1, err


def test_export_output_is_checked_before_exporting(tmp_path):
    (tmp_path/'g').mkdir()
    torch.save(define_G(3, 3, 4, 'resnet_6blocks', 'instance').state_dict(), tmp_path/'g'/'latest_net_G.pth')
    for output in ('model.onnx', 'model.pt', 'model'):
        with pytest.raises(ValueError, match=r'a torchscript file ends in \.torchscript\.pt'):
            export('g', 'torchscript', checkpoints_dir=tmp_path, output=tmp_path/output, verbose=False)
    assert sorted(p.name for p in tmp_path.rglob('*') if p.is_file()) == ['latest_net_G.pth']
    (tmp_path/'out').mkdir()
    r = export('g', 'torchscript', checkpoints_dir=tmp_path, output=tmp_path/'out', verbose=False)
    assert r['path'] == str(tmp_path/'out'/'latest_net_G.torchscript.pt') and r['max_difference'] < 1e-4


def results_folder(folder, fakes, reals, suffix):
    "A gan_nb_test results folder of lossless results (`save_array` picks PNG or .npy; `suffix` .tif writes TIFF)."
    (folder/'images').mkdir(parents=True)
    for i, (f, r) in enumerate(zip(fakes, reals)):
        for label, a in (('fake_B', f), ('real_B', r)):
            stem = folder/'images'/f'{i}_{label}'
            if suffix == '.tif': pytest.importorskip('tifffile').imwrite(f'{stem}.tif', a)
            else: save_array(a, stem)
    (folder/'index.html').write_text('<html><body>\n<h1>results</h1>\n</body></html>\n')
    return folder


@pytest.mark.parametrize('channels,suffix', [(1, '.png'), (3, '.npy'), (3, '.tif')])
def test_eval_scores_16_bit_results_on_their_scale(tmp_path, channels, suffix):
    rng = np.random.default_rng(0)
    reals = [rng.integers(0, 65536, (16, 16, channels), dtype=np.uint16) for _ in range(2)]
    fakes = [rng.integers(0, 65536, (16, 16, channels), dtype=np.uint16) for _ in range(2)]
    folder = results_folder(tmp_path/'r', fakes, reals, suffix)
    assert {p.suffix for p in (folder/'images').iterdir()} == {suffix}
    got = metrics.evaluate(folder, metrics=['l1', 'psnr'], verbose=False)['scores']
    true_l1 = np.mean([np.abs(f / 65535. - r / 65535.).mean() * 255 for f, r in zip(fakes, reals)])
    assert got['l1'] == pytest.approx(true_l1) and got['l1'] > 50  # clipped to 255 it would be near 0


def test_unreadable_result_and_damaged_page_write_nothing(tmp_path):
    a = np.zeros((16, 16, 3), np.uint16)
    folder = results_folder(tmp_path/'r', [a], [a], '.npy')
    (folder/'images'/'0_fake_B.npy').write_bytes(b'not an array')
    with pytest.raises(OSError, match='could not read .*0_fake_B.npy'): metrics.evaluate(folder, metrics=['l1'], verbose=False)
    save_array(a, folder/'images'/'0_fake_B')
    for damaged in (b'<html><p>no body here</p></html>', b'\xff\xfe\x00garbage'):
        (folder/'index.html').write_bytes(damaged)
        with pytest.raises(ValueError, match='run gan_nb_test again, or remove it'): metrics.evaluate(folder, metrics=['l1'], verbose=False)
        assert not (folder/'metrics.json').exists() and (folder/'index.html').read_bytes() == damaged
    (folder/'index.html').write_text('<html><BODY class="x"><h1>r</h1></BODY></html>')
    for _ in range(2): metrics.evaluate(folder, metrics=['l1'], verbose=False)
    page = (folder/'index.html').read_text()
    assert page.count('<h3>Scores') == 1 and page.index('<BODY class="x">') < page.index('<h3>Scores') < page.index('<h1>r')


def test_eval_bad_flags_are_one_line(tmp_path, capsys):
    for args in (['--results', str(tmp_path), '--metrics', 'nope'], ['--fake', str(tmp_path)], ['--bogus']):
        status, err = cli(metrics.main, args, capsys)
        assert status in (1, 2) and len([line for line in err.splitlines() if 'error:' in line]) == 1, err


@pytest.mark.parametrize('score,weights', [(float('nan'), 1.0), (0.5, float('nan'))])
def test_diverged_validation_keeps_the_best(monkeypatch, score, weights):
    net = nn.Conv2d(1, 1, 1)
    nn.init.constant_(net.weight, weights)
    saved = []
    model = argparse.Namespace(model_names=['G', 'D'], netG=net, save_networks=lambda *a, **k: saved.append(a))
    state = argparse.Namespace(epoch=3, epoch_iter=8, dataset_size=8, total_iters=24, model=model, opt=argparse.Namespace(val_freq=1),
                               best=dict(epoch=2, score=0.25, metric='l1'))
    monkeypatch.setattr(metrics, 'validation_score', lambda *a, **k: score)
    v = metrics.Validation(run=None)
    v.metric, v.data, v.inception = 'l1', [], None
    with pytest.raises(NonFiniteLossError, match=r'diverged at epoch 3 .*iteration 8, total 24\); the best generator \(epoch 2\) kept'):
        v.on_batches_end(state)
    assert state.best == dict(epoch=2, score=0.25, metric='l1') and not saved
