#!/usr/bin/env python3
"""PyTorch (CPU, float32) forward of the same model and tokens as tests/bench_infer.c:
the llama.cpp protocol (chunks of ctx tokens, BOS first, second half scored).

usage: bench_infer_torch.py MODEL_DIR TOKENS.bin CTX CHUNKS [f32|bf16]
prints: TORCH <tokens per second> <ppl> <threads>
bf16: weights and activations in torch.bfloat16, as a user who loads a bf16 model gets
(Debian's build sends those products to oneDNN); the NLL is taken in float32.
Reads model.safetensors itself (no safetensors package needed); q/k rows are in the HF
(rotate-half) layout."""
import json
import math
import os
import struct
import sys
import time

import torch


def load_safetensors(path, dtype):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    dt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        buf = bytearray(data[base + b:base + e])
        t = torch.frombuffer(buf, dtype=dt[info["dtype"]]) if e > b else torch.zeros(0)
        out[name] = t.reshape(info["shape"]).to(dtype)
    return out


def rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def main():
    # Debian's build starts with one intra-op thread here; give it every CPU, as we use.
    torch.set_num_threads(os.cpu_count() or 1)
    mdir, tpath, ctx, chunks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    dtype = torch.bfloat16 if len(sys.argv) > 5 and sys.argv[5] == "bf16" else torch.float32
    cfg = json.load(open(mdir + "/config.json"))
    W = load_safetensors(mdir + "/model.safetensors", dtype)
    dim, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim", dim // nh)
    eps = cfg.get("rms_norm_eps", 1e-6)
    theta = cfg.get("rope_theta", 10000.0)
    L = cfg["num_hidden_layers"]
    raw = open(tpath, "rb").read()
    toks = torch.tensor(struct.unpack("<%di" % (len(raw) // 4), raw), dtype=torch.long)
    x_ids = toks[: chunks * ctx].reshape(chunks, ctx).clone()
    x_ids[:, 0] = 1
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    ang = torch.arange(ctx, dtype=torch.float64)[:, None] * inv[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], -1).to(dtype)
    sin = torch.cat([ang.sin(), ang.sin()], -1).to(dtype)

    def rope(t):  # t [B, H, T, hd], halves layout
        h = hd // 2
        rot = torch.cat([-t[..., h:], t[..., :h]], -1)
        return t * cos + rot * sin

    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    mask = torch.full((ctx, ctx), float("-inf")).triu(1).to(dtype)

    def forward(ids):
        B, T = ids.shape
        x = W["model.embed_tokens.weight"][ids]
        for l in range(L):
            p = "model.layers.%d." % l
            xn = rms(x, W[p + "input_layernorm.weight"], eps)
            q = (xn @ W[p + "self_attn.q_proj.weight"].T).view(B, T, nh, hd).transpose(1, 2)
            k = (xn @ W[p + "self_attn.k_proj.weight"].T).view(B, T, nkv, hd).transpose(1, 2)
            v = (xn @ W[p + "self_attn.v_proj.weight"].T).view(B, T, nkv, hd).transpose(1, 2)
            q, k = rope(q), rope(k)
            if nkv != nh:
                k = k.repeat_interleave(nh // nkv, dim=1)
                v = v.repeat_interleave(nh // nkv, dim=1)
            s = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
            a = torch.softmax(s, -1) @ v
            a = a.transpose(1, 2).reshape(B, T, nh * hd)
            x = x + a @ W[p + "self_attn.o_proj.weight"].T
            xn = rms(x, W[p + "post_attention_layernorm.weight"], eps)
            g = xn @ W[p + "mlp.gate_proj.weight"].T
            u = xn @ W[p + "mlp.up_proj.weight"].T
            x = x + (torch.nn.functional.silu(g) * u) @ W[p + "mlp.down_proj.weight"].T
        x = rms(x, W["model.norm.weight"], eps)
        first = ctx // 2
        lg = (x[:, first:ctx - 1] @ head.T).float()  # only the scored rows, as llama.cpp
        nll = torch.logsumexp(lg, -1) - lg.gather(-1, ids[:, first + 1:, None])[..., 0]
        return nll

    best = 1e30
    with torch.no_grad():
        for _ in range(3):
            t0 = time.time()
            nll = torch.cat([forward(x_ids[c:c + 1]) for c in range(chunks)], 0)
            best = min(best, time.time() - t0)
    ppl = math.exp(nll.double().mean().item())
    print("TORCH %.1f %.4f %d" % (chunks * ctx / best, ppl, torch.get_num_threads()))


if __name__ == "__main__":
    main()
