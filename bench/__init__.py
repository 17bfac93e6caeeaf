"""Benchmarks on the shared datasets: encoder comparison, threads, drift (read data in place)."""
