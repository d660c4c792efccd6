"""The script shown in the README runs as printed, in a fresh folder."""
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent/'README.md'


def readme_script():
    blocks = re.findall(r'```python\n(.*?)```', README.read_text(encoding='utf-8'), flags=re.S)
    return next(b for b in blocks if 'optimize_parameters()' in b)


def test_readme_training_script_runs(tmp_path):
    run = subprocess.run([sys.executable, '-c', readme_script()], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "'G_GAN'" in run.stdout and "'D_fake'" in run.stdout
    assert (tmp_path/'checkpoints'/'script_pix2pix'/'latest_net_G.pth').is_file()
    assert (tmp_path/'checkpoints'/'script_pix2pix'/'train_opt.txt').is_file()
