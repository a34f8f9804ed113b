"""Timing shared by bench/'s PyTorch scripts (they run as `python3 bench/X_torch.py`, so this imports)."""
import time


def median_ms(f, warmup, iters):
    """Median wall time of f() in ms over `iters` runs after `warmup` runs."""
    for _ in range(warmup):
        f()
    ts = []
    for _ in range(iters):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2] * 1000
