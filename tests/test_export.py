"""gan_nb_export: TorchScript, ONNX and torch.export files of U-Net and ResNet generators agree with PyTorch."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gan_nb.extras.export import EXPORT_FORMATS, export, export_ready, read_export_metadata, run_exported
from gan_nb.networks import define_G

ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}
HAS_ONNX = all(importlib.util.find_spec(m) for m in ('onnx', 'onnxscript'))
HAS_ORT = importlib.util.find_spec('onnxruntime') is not None
GENERATORS = {'unet': ('unet_128', 'batch', (2, 3, 128, 384)), 'resnet': ('resnet_6blocks', 'instance', (2, 3, 40, 72))}


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp('checkpoints')
    torch.manual_seed(0)
    nets = {}
    for name, (netG, norm, _) in GENERATORS.items():
        nets[name] = define_G(3, 3, 4, netG, norm, True)
        (root/name).mkdir()
        torch.save(nets[name].state_dict(), root/name/'latest_net_G.pth')
    return root, nets


@pytest.mark.parametrize('fmt', list(EXPORT_FORMATS))
@pytest.mark.parametrize('name', list(GENERATORS))
@pytest.mark.parametrize('eval', [False, True])
def test_each_format_matches_pytorch(checkpoints, name, fmt, eval):
    if fmt == 'onnx' and not HAS_ONNX: pytest.skip("ONNX export needs the export extra (onnx, onnxscript)")
    root, nets = checkpoints
    out = root/f'{name}_{eval}{EXPORT_FORMATS[fmt][0]}'
    r = export(name, fmt, eval=eval, checkpoints_dir=root, output=out, verbose=False)
    meta = read_export_metadata(out)
    assert str(meta['size_multiple']) == str({'unet': 128, 'resnet': 4}[name])
    assert meta['mode'].startswith('eval' if eval else 'train')
    x = torch.rand(GENERATORS[name][2]) * 2 - 1  # another size and batch than the sample's: dynamic height and width
    got = run_exported(out, x)
    if fmt == 'onnx' and not HAS_ORT:
        assert got is None and r['max_difference'] is None
        pytest.skip('onnxruntime is not installed: the ONNX file was written, not run')
    with torch.no_grad(): want = export_ready(nets[name], eval)(x)
    assert r['max_difference'] < 1e-4
    assert (got - want).abs().max().item() < 1e-4


def test_train_mode_export_is_the_networks_training_mode_without_dropout(checkpoints):
    _, nets = checkpoints
    net = nets['unet']
    x = torch.rand(2, 3, 128, 128) * 2 - 1
    reference = type(net)(3, 3, 7, 4, norm_layer=type(net.model.model[1].model[2]), use_dropout=False)
    reference.load_state_dict(net.state_dict())
    with torch.no_grad(): assert (export_ready(net)(x) - reference.train()(x)).abs().max().item() < 1e-5


def run(args, tmp_path, code=None):
    command = [sys.executable, '-c', code] if code else [sys.executable, '-m', 'gan_nb.extras.export']
    return subprocess.run(command + args, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=ENV)


def test_command_line_prints_size_rule_and_parity(checkpoints, tmp_path):
    root, _ = checkpoints
    r = run(['--name', 'resnet', '--format', 'torchscript', '--eval', '--checkpoints_dir', str(root),
             '--output', str(tmp_path/'g.torchscript.pt')], tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'height and width: multiples of 4, at least 8' in r.stdout
    assert 'x = pixel / 127.5 - 1' in r.stdout
    line = next(l for l in r.stdout.splitlines() if 'max difference' in l)
    assert float(line.rsplit(' ', 1)[1]) < 1e-4, line


def test_command_line_errors_are_one_line(checkpoints, tmp_path):
    root, _ = checkpoints
    r = run(['--name', 'resnet', '--format', 'tflite'], tmp_path)
    assert r.returncode == 2 and "invalid choice: 'tflite'" in r.stderr.splitlines()[-1]
    r = run(['--name', 'nobody', '--format', 'pt2', '--checkpoints_dir', str(root)], tmp_path)
    assert r.returncode == 1 and 'Traceback' not in r.stderr
    assert 'check --name and --checkpoints_dir' in r.stderr.strip().splitlines()[-1]


def test_missing_onnx_names_the_extra(checkpoints, tmp_path):
    root, _ = checkpoints
    hide = 'import sys; sys.modules["onnxscript"] = None; from gan_nb.extras.export import main; main()'
    r = run(['--name', 'resnet', '--format', 'onnx', '--checkpoints_dir', str(root), '--output', str(tmp_path/'g.onnx')],
            tmp_path, code=hide)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'gan_nb[export]'" in lines[0], r.stderr
    assert not (tmp_path/'g.onnx').exists() and not list(tmp_path.glob('.g.onnx*'))  # nothing half-written
