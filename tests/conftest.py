"""Test-session settings shared by every test."""
import os

# One BLAS/OpenMP thread per test process: pytest-xdist runs a process per core, and torch's default of
# one thread per core in each of them makes the tiny test workloads many times slower.
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', '1')
