"""Start and stop a JupyterLab server for a browser check: `tests/test_browser.py` and `tools/dashboard_picture.py`.

    with jupyter_lab(root, env, log) as base: page.goto(f'{base}/lab/tree/x.ipynb?token=...')

The server serves `root` (kernels start there), on a free port of 127.0.0.1, with a random token, and is stopped
with its kernels (its process group, by id) on the way out.
"""
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request


def free_port():
    "A TCP port of 127.0.0.1 that nothing listens on now."
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for_server(url, proc, log, timeout=90):
    "Wait until `url` answers 200; fail with the end of `log` if the server exits or stays silent."
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f'jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}')
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200: return
        except OSError: time.sleep(0.5)
    raise RuntimeError(f'jupyter lab did not answer within {timeout}s:\n{log.read_text()[-3000:]}')


def stop_server(proc):
    "Stop the server we started, and its kernels (same process group), by id."
    if proc.poll() is not None: return
    try: os.killpg(proc.pid, 15)
    except ProcessLookupError: return
    try: proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9); proc.wait(10)


@contextlib.contextmanager
def jupyter_lab(root, env, log):
    "Run JupyterLab on `root` with environment `env`, its output in the file `log`; yield (base URL, token)."
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, '-m', 'jupyterlab', '--allow-root', '--no-browser', '--ip', '127.0.0.1', f'--port={port}',
           '--ServerApp.port_retries=0', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}',
           '--LabApp.extension_manager=readonly', '--LabApp.news_url=']
    with open(log, 'w') as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f'http://127.0.0.1:{port}'
        wait_for_server(f'{base}/api/status?token={token}', proc, log)
        yield base, token
    finally:
        stop_server(proc)
