#!/usr/bin/env python3
"""A straightforward numpy implementation of the reference HQQ algorithm (HQQ 0.1.7.post2,
docs/hqq.md sections 1, 2, 6: axis 0, fp32, legacy proximal optimizer, bit packing), used
by tests/bench_hqq.c as the speed baseline on the same matrix.

usage: bench_hqq_ref.py FILE ROWS COLS NBITS GROUP ROUND_ZERO
FILE holds ROWS*COLS float32 values (native byte order). Prints one line:
    seconds S iters N fro F
(S: quantization time; F: Frobenius norm of W - dequantized W, weights only)."""
import sys
import time

import numpy as np


def optimize_weights_proximal_legacy(W, scale, zero, max_v, axis,
                                     lp_norm=0.7, beta=10.0, kappa=1.01, iters=20):
    best_error = 1e4
    n_run = 0
    for _ in range(iters):
        W_q = np.clip(np.round(W * scale + zero), 0, max_v)
        W_r = (W_q - zero) / scale
        d = W - W_r
        ad = np.abs(d)
        shrink = ad - np.float32(1.0 / beta) * np.power(ad, np.float32(lp_norm - 1))
        W_e = np.sign(d) * np.maximum(shrink, 0)
        zero = np.mean(W_q - (W - W_e) * scale, axis=axis, keepdims=True)
        beta *= kappa
        n_run += 1
        current_error = float(np.abs(W - W_r).mean())
        if current_error < best_error:
            best_error = current_error
        else:
            break
    return zero, n_run


def pack(W_q, nbits):
    R = W_q.shape[0]
    q = W_q.astype(np.uint8)
    if nbits == 8:
        return q
    if nbits == 4:
        h = R // 2
        return (q[:h] << 4) | q[h:]
    if nbits == 2:
        t = R // 4
        return (q[:t] << 6) | (q[t:2 * t] << 4) | (q[2 * t:3 * t] << 2) | q[3 * t:]
    if nbits == 3:
        Rp = 10 * ((R + 9) // 10)
        qp = np.zeros((Rp, q.shape[1]), dtype=np.int32)
        qp[:R] = q
        t = Rp // 10
        out = np.zeros((t, q.shape[1]), dtype=np.int32)
        for m in range(10):
            out |= qp[m * t:(m + 1) * t] << (27 - 3 * m)
        return out
    raise ValueError("nbits")


def quantize(W, nbits, group_size, round_zero, axis=0):
    shape = W.shape
    W = W.reshape(group_size, -1) if axis == 0 else W.reshape(-1, group_size)
    mn = W.min(axis=axis, keepdims=True)
    mx = W.max(axis=axis, keepdims=True)
    max_v = np.float32(2 ** nbits - 1)
    scale = (np.float32(1.0) / (mx - mn)) * max_v
    scale = np.minimum(scale, np.float32(2e4))
    zero = -mn * scale
    if round_zero:
        zero = np.round(zero)
    zero, iters = optimize_weights_proximal_legacy(W, scale, zero, max_v, axis)
    W_q = np.clip(np.round(W * scale + zero), 0, max_v)
    packed = pack(W_q, nbits)
    return W_q, packed, np.float32(1.0) / scale, zero, iters, shape


def main():
    if len(sys.argv) != 7:
        sys.stderr.write(__doc__)
        return 2
    path, rows, cols, nbits, group, round_zero = sys.argv[1:]
    rows, cols, nbits, group = int(rows), int(cols), int(nbits), int(group)
    W = np.fromfile(path, dtype=np.float32, count=rows * cols).reshape(rows, cols)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t0 = time.perf_counter()
        W_q, _, scale, zero, iters, shape = quantize(W, nbits, group, round_zero == "1")
        secs = time.perf_counter() - t0
        W_hat = ((W_q - zero) * scale).reshape(shape)
    fro = float(np.linalg.norm((W.astype(np.float64) - W_hat.astype(np.float64)).ravel()))
    print("seconds %.6f iters %d fro %.7g" % (secs, iters, fro))
    return 0


if __name__ == "__main__":
    sys.exit(main())
