"""Test-session settings shared by every test."""
import os

# One BLAS/OpenMP thread per test process: pytest-xdist runs a process per core, and torch's default of
# one thread per core in each of them makes the tiny test workloads many times slower.
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', '1')


def pytest_configure(config):
    "The controller names one folder for the fresh environment of tests/test_run_alone.py; xdist's workers inherit it."
    if hasattr(config, 'workerinput') or os.environ.get('GAN_NB_FRESH_ENV'): return
    import tempfile
    os.environ['GAN_NB_FRESH_ENV'] = tempfile.mkdtemp(prefix='gan_nb_fresh_env_')
    config._gan_nb_fresh_env_made = True


def pytest_unconfigure(config):
    "Remove the fresh environment (several GB) at the end of the run, unless GAN_NB_FRESH_ENV was given to keep it."
    if getattr(config, '_gan_nb_fresh_env_made', False):
        import shutil
        shutil.rmtree(os.environ.pop('GAN_NB_FRESH_ENV'), ignore_errors=True)
