#!/usr/bin/python3
"""Checks the demo model against the requirements of issue 6 with an independent PyTorch
implementation, and measures its activation sensitivity.

    nice -n 19 /usr/bin/python3 samples/check_demo.py [--csv FILE]

Prints
  * token counts of eval.txt and calib.txt with the Python encoder (docs/formats.md §7.3);
  * perplexity of eval.txt, both protocols of docs/method.md §9 (paper: M = context = 256,
    S = 128; llama.cpp: n_ctx = 256), full precision and after HQQ quantization of all
    seven linear modules (docs/hqq.md: axis 0, optimizer on, round_zero for 4 bits, 8-bit
    metadata quantization of zero (per tensor) and scale (g128, when it divides));
  * Pearson kurtosis of every (layer, module) and the KurtBoost outliers (docs/method.md §4,
    subtract, trimmed mean/std with k = floor(0.05 n), z > 3);
  * activation sensitivity (docs/method.md §3 with the adaptations of §3.6: calib.txt, shuffle
    seed 42, [BOS] + document, at most 512 tokens, 128 documents, block = context 256,
    HQQ b4g64 axis 0 optimize, fp32) and the SensiBoost outliers (divide);
and writes the sensitivity as a toolkit CSV (docs/method.md §10.4).
"""
import argparse
import math
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import demo_lib  # noqa: E402
import gen_text  # noqa: E402

MODS = demo_lib.MODULES


# ---------------------------------------------------------------------------------------
# HQQ (docs/hqq.md §1-§4), fp32 on CPU

def _minmax_params(Wg, nbits, dim):
    mn = Wg.amin(dim=dim, keepdim=True)
    mx = Wg.amax(dim=dim, keepdim=True)
    max_v = float(2 ** nbits - 1)
    s_inv = torch.reciprocal(mx - mn) * max_v        # scalar / tensor as PyTorch does it
    s_inv = torch.clamp(s_inv, max=2e4)
    zero = -mn * s_inv
    return s_inv, zero, max_v


def _shrink(x, beta, p=0.7):
    return torch.sign(x) * F.relu(torch.abs(x) - (1.0 / beta) * torch.pow(torch.abs(x), p - 1))


def hqq_quantize(W, nbits, group, optimize=True, round_zero=False):
    """Axis-0 HQQ: returns (W_q [g, M], scale [1, M], zero [1, M])."""
    Wg = W.float().reshape(group, -1)
    s_inv, zero, max_v = _minmax_params(Wg, nbits, 0)
    if round_zero:
        zero = torch.round(zero)
    if optimize:
        best, beta = 1e4, 10.0
        for _ in range(20):
            Q = torch.clamp(torch.round(Wg * s_inv + zero), 0, max_v)
            R = (Q - zero) / s_inv
            E = _shrink(Wg - R, beta)
            zero = torch.mean(Q - (Wg - E) * s_inv, dim=0, keepdim=True)
            beta *= 1.01
            err = torch.mean(torch.abs(Wg - R)).item()
            if err < best:
                best = err
            else:
                break
    Wq = torch.clamp(torch.round(Wg * s_inv + zero), 0, max_v)
    return Wq, torch.reciprocal(s_inv), zero


def _meta_roundtrip(t, group):
    """8-bit quantize/dequantize of a metadata tensor, no optimizer; group None = one
    min/max over the whole tensor (zero), else axis-0 groups of `group` (scale)."""
    flat = t.reshape(-1)
    if group is None:
        v = flat.reshape(1, -1)
        mn, mx = v.min(), v.max()
        s_inv = torch.clamp(torch.reciprocal(mx - mn) * 255.0, max=2e4)
        z = -mn * s_inv
        q = torch.clamp(torch.round(v * s_inv + z), 0, 255)
        return ((q - z) * torch.reciprocal(s_inv)).reshape(t.shape)
    if flat.numel() % group:
        return t                                   # [ours]: scale kept unquantized
    v = flat.reshape(group, -1)
    s_inv, z, _ = _minmax_params(v, 8, 0)
    q = torch.clamp(torch.round(v * s_inv + z), 0, 255)
    return ((q - z) * torch.reciprocal(s_inv)).reshape(t.shape)


def hqq_dequant_model_weight(W, nbits, group, meta=True):
    """The paper's model quantization: optimize, round_zero for 4 bits, metadata 8-bit."""
    Wq, scale, zero = hqq_quantize(W, nbits, group, True, nbits == 4)
    if meta:
        zero = _meta_roundtrip(zero, None)
        scale = _meta_roundtrip(scale, 128)
    return ((Wq - zero) * scale).reshape(W.shape)


def hqq_dequant_sensi(W, nbits=4, group=64):
    """The quantizer of the sensitivity metric (docs/method.md §3.4)."""
    Wq, scale, zero = hqq_quantize(W, nbits, group, True, False)
    return ((Wq - zero) * scale).reshape(W.shape)


# ---------------------------------------------------------------------------------------
# Perplexity (docs/method.md §9)

@torch.no_grad()
def nll_rows(model, rows):
    """rows: list of 1-D int tensors of equal length -> [B, T-1] NLL of tokens 1..T-1."""
    x = torch.stack(rows)
    logits = model(x).double()
    lp = torch.log_softmax(logits[:, :-1], dim=-1)
    return -lp.gather(-1, x[:, 1:, None])[..., 0]


@torch.no_grad()
def ppl_paper(model, ids, M, S, batch=16):
    N = len(ids)
    t = torch.tensor(ids)
    wins = []
    i = 0
    end = 0
    while i < N:
        begin = max(i + S - M, 0)
        end = min(i + S, N)
        wins.append((begin, end, end - i))
        i += S
    total = 0.0
    # windows have equal length except possibly the first ones and the last: group by length
    for k in range(0, len(wins), batch):
        grp = wins[k:k + batch]
        for L in sorted(set(e - b for b, e, _ in grp)):
            sub = [w for w in grp if w[1] - w[0] == L]
            nll = nll_rows(model, [t[b:e] for b, e, _ in sub])
            for (b, e, trg), row in zip(sub, nll):
                first = max(L - trg, 1)
                scored = row[first - 1:]                  # targets first .. L-1
                total += scored.mean().item() * trg
    return math.exp(total / end)


@torch.no_grad()
def ppl_llamacpp(model, ids, n_ctx, batch=16):
    n_chunk = len(ids) // n_ctx
    first = n_ctx // 2
    s = s2 = 0.0
    cnt = 0
    for k in range(0, n_chunk, batch):
        rows = []
        for c in range(k, min(k + batch, n_chunk)):
            ch = torch.tensor(ids[c * n_ctx:(c + 1) * n_ctx])
            ch[0] = 1
            rows.append(ch)
        nll = nll_rows(model, rows)[:, first:n_ctx - 1]   # predictions of tokens first+1 .. n_ctx-1
        s += nll.sum().item()
        s2 += (nll ** 2).sum().item()
        cnt += nll.numel()
    mean = s / cnt
    var = s2 / cnt - mean * mean
    p = math.exp(mean)
    return p, math.sqrt(var / (cnt - 1)) * p, cnt


# ---------------------------------------------------------------------------------------
# Outlier detection (docs/method.md §4.8)

def detect(series, mode, thr=3.0, frac=0.05):
    s = np.asarray(series, dtype=np.float64)
    d = s[1:] / s[:-1] if mode == "divide" else s[1:] - s[:-1]
    n = len(d)
    k = int(math.floor(frac * n))
    core = np.sort(d)[k:n - k]
    mu = core.mean()
    sigma = math.sqrt(((core - mu) ** 2).sum() / (len(core) - 1))
    z = np.abs(d - mu) / sigma
    cand = sorted([i for i in range(n) if z[i] > thr], key=lambda i: -z[i])
    return [(i + 1, float(z[i])) for i in cand], float(z.max()), mu, sigma


def kurtosis(w):
    x = w.astype(np.float64).reshape(-1)
    m = x.mean()
    c = x - m
    m2 = (c * c).mean()
    return float((c ** 4).mean() / (m2 * m2))


# ---------------------------------------------------------------------------------------
# Activation sensitivity (docs/method.md §3)

def calib_docs(path, seed=42, shuffle=True):
    with open(path, encoding="utf-8") as f:
        docs = [ln.strip(" \t\r\n\v\f") for ln in f.read().split("\n")]
    docs = [d for d in docs if d]
    if shuffle:
        rng = gen_text.SplitMix64(seed)
        for j in range(len(docs) - 1, 0, -1):
            r = rng.next() % (j + 1)
            docs[j], docs[r] = docs[r], docs[j]
    return docs


@torch.no_grad()
def sensitivity(model, cfg, tok, calib_path, n_samples=128, block=512, max_len=512):
    block = min(block, cfg["max_position_embeddings"])
    rows = []
    for d in calib_docs(calib_path):
        ids = [tok.bos] + tok.encode(d)
        if len(ids) > max_len:
            continue
        rows.extend(ids)
        n_samples -= 1
        if n_samples == 0:
            break
    nb = len(rows) // block
    X = torch.tensor(rows[:nb * block]).view(nb, block)
    print(f"sensitivity: {nb} blocks of {block} tokens ({len(rows)} tokens)", flush=True)
    h = model.model.embed_tokens(X)
    cos, sin = model.cos[:block], model.sin[:block]
    mask = model.mask
    out = []

    def mse(a, b):
        return float(((a.double() - b.double()) ** 2).mean())

    for li, L in enumerate(model.model.layers):
        a, m = L.self_attn, L.mlp
        xin = L.input_layernorm(h)
        # attn_in: q, k, v quantized; compare the attention block output (o_proj output)
        o_in = []
        hook = a.o_proj.register_forward_hook(lambda mod, inp, outp: o_in.append(inp[0]))
        ref = a(xin, cos, sin, mask)
        hook.remove()
        saved = [a.q_proj.weight.data.clone(), a.k_proj.weight.data.clone(),
                 a.v_proj.weight.data.clone()]
        for lin in (a.q_proj, a.k_proj, a.v_proj):
            lin.weight.data = hqq_dequant_sensi(lin.weight.data)
        s_attn_in = mse(ref, a(xin, cos, sin, mask))
        a.q_proj.weight.data, a.k_proj.weight.data, a.v_proj.weight.data = saved
        # attn_out is skipped on GQA models (v_proj shape != o_proj shape)
        s_attn_out = None
        if a.v_proj.weight.shape == a.o_proj.weight.shape:
            s_attn_out = mse(ref, F.linear(o_in[0], hqq_dequant_sensi(a.o_proj.weight.data)))
        h2 = h + ref
        xm = L.post_attention_layernorm(h2)
        ref_m = m(xm)
        g0, u0 = m.gate_proj.weight.data.clone(), m.up_proj.weight.data.clone()
        m.gate_proj.weight.data = hqq_dequant_sensi(g0)
        m.up_proj.weight.data = hqq_dequant_sensi(u0)
        s_gate = mse(ref_m, m(xm))
        m.gate_proj.weight.data, m.up_proj.weight.data = g0, u0
        dn_in = F.silu(m.gate_proj(xm)) * m.up_proj(xm)
        s_down = mse(ref_m, F.linear(dn_in, hqq_dequant_sensi(m.down_proj.weight.data)))
        out.append({"attn_in": s_attn_in, "mlp_gate": s_gate, "mlp_down": s_down,
                    "attn_out": s_attn_out})
        h = h2 + ref_m
    return out, nb


# ---------------------------------------------------------------------------------------

def quantized_copy(model, nbits, group):
    import copy
    q = copy.deepcopy(model)
    for L in q.model.layers:
        for name in MODS:
            lin = L.get_submodule(name)
            lin.weight.data = hqq_dequant_model_weight(lin.weight.data, nbits, group)
    return q


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(HERE, "demo"))
    ap.add_argument("--eval", default=os.path.join(HERE, "eval.txt"))
    ap.add_argument("--calib", default=os.path.join(HERE, "calib.txt"))
    ap.add_argument("--csv", default=None, help="write the sensitivity CSV here")
    ap.add_argument("--configs", default="b2g64,b3g128,b4g64,b8g128")
    ap.add_argument("--skip-sensitivity", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    t0 = time.time()

    model, cfg = demo_lib.load_model(args.model)
    tok = demo_lib.Tokenizer.from_json(os.path.join(args.model, "tokenizer.json"))
    with open(args.eval, encoding="utf-8") as f:
        etext = f.read()
    with open(args.calib, encoding="utf-8") as f:
        ctext = f.read()
    ids = [tok.bos] + tok.encode_file(etext)
    assert ids[1:] == tok.encode_exact(etext), "word-wise encoder differs from exact BPE"
    clines = [ln for ln in ctext.split("\n") if ln.strip()]
    ccount = sum(1 + len(tok.encode(ln.strip())) for ln in clines)
    print(f"eval.txt: {len(etext.encode('utf-8'))} bytes, {len(ids)} tokens with BOS "
          f"(first 12: {' '.join(map(str, ids[:12]))})")
    print(f"calib.txt: {len(ctext.encode('utf-8'))} bytes, {len(clines)} documents, "
          f"{ccount} tokens as [BOS]+document; whole file {1 + len(tok.encode_file(ctext))} "
          f"tokens with BOS")
    ctx = cfg["max_position_embeddings"]

    # kurtosis and KurtBoost
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    L = cfg["num_hidden_layers"]
    kurt = {m: [kurtosis(sd[f"model.layers.{l}.{m}.weight"]) for l in range(L)] for m in MODS}
    print("\nPearson kurtosis (rows: module, columns: layer 0..%d)" % (L - 1))
    for m in MODS:
        print(f"  {m:18s} " + " ".join(f"{v:5.2f}" for v in kurt[m]))
    print("\nKurtBoost (kurtosis, subtract, thr 3, trim 5%):")
    nk = 0
    for m in MODS:
        fl, zmax, mu, sg = detect(kurt[m], "subtract")
        nk += len(fl)
        print(f"  {m:18s} " + (", ".join(f"{l} (z={z:.3f})" for l, z in fl) or "-")
              + f"   [max z {zmax:.3f}]")
    print(f"  matrices flagged: {nk}")

    # perplexity
    def ppls(mdl):
        p1 = ppl_paper(mdl, ids, ctx, ctx // 2)
        p2, pm, _ = ppl_llamacpp(mdl, ids, ctx)
        return p1, p2, pm
    print("\nperplexity of eval.txt (paper M=%d S=%d | llama.cpp n_ctx=%d):" % (ctx, ctx // 2, ctx))
    base = ppls(model)
    print(f"  fp (F16 weights)  {base[0]:.4f} | {base[1]:.4f} +/- {base[2]:.5f}", flush=True)
    for c in [x for x in args.configs.split(",") if x]:
        b, g = c[1:].split("g")
        q = quantized_copy(model, int(b), int(g))
        r = ppls(q)
        print(f"  {c:16s}  {r[0]:.4f} ({100 * (r[0] / base[0] - 1):+.2f} %) | {r[1]:.4f} "
              f"({100 * (r[1] / base[1] - 1):+.2f} %)", flush=True)

    if not args.skip_sensitivity:
        sens, nb = sensitivity(model, cfg, tok, args.calib)
        print("\nsensitivity (b4g64 MSE): layer attn_in mlp_gate mlp_down")
        for l, s in enumerate(sens):
            print(f"  {l:2d} {s['attn_in']:.6e} {s['mlp_gate']:.6e} {s['mlp_down']:.6e}")
        series = {
            "self_attn.q_proj": [s["attn_in"] for s in sens],
            "self_attn.o_proj": [s["attn_in"] for s in sens],
            "mlp.gate_proj": [s["mlp_gate"] for s in sens],
            "mlp.down_proj": [s["mlp_down"] for s in sens],
        }
        print("SensiBoost (sensitivity, divide, thr 3, trim 5%):")
        for m, ser in series.items():
            fl, zmax, _, _ = detect(ser, "divide")
            print(f"  {m:18s} " + (", ".join(f"{l} (z={z:.3f})" for l, z in fl) or "-")
                  + f"   [max z {zmax:.3f}]   (q/k/v/o share attn_in, gate/up share mlp_gate)")
        if args.csv:
            with open(args.csv, "w") as f:
                f.write("dataset,part,model,nbits,group_size,layer,sensitivity\n")
                for l, s in enumerate(sens):
                    for part in ("attn_in", "attn_out", "mlp_gate", "mlp_down"):
                        if s[part] is None:
                            continue
                        f.write(f"demo-calib,{part},layerscope-demo,4,64,{l},{s[part]!r}\n")
            print(f"wrote {args.csv}")
    print(f"\n(total {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
