#!/usr/bin/python3
"""Trains layerscope's demo model from scratch and writes samples/demo/ plus the evaluation
and calibration texts.  Everything is seeded; see samples/README.md.

    nice -n 19 /usr/bin/python3 samples/train_demo.py

Steps:
  1. text: gen_text.py seed 1 (training, not shipped), seed 2 (eval.txt), seed 3 (calib.txt,
     stories that fit the context as calibration documents)
  2. tokenizer: greedy BPE on the training text (demo_lib.train_bpe), written as a Llama-2
     style SentencePiece-converted tokenizer.json (docs/formats.md §7.3)
  3. model: HF LlamaForCausalLM architecture in plain PyTorch (demo_lib.build_model),
     AdamW, cosine schedule, trained on random windows of the tokenised training text
  4. export: config.json, model.safetensors (F16), tokenizer.json, tokenizer_config.json,
     generation_config.json

Training checkpoints go to samples/.train_ckpt/ (not shipped); an interrupted run resumes
from the last one with the same result.
"""
import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # no spinning on a shared machine
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")  # fixed thread count: same sums
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import demo_lib  # noqa: E402
import gen_text  # noqa: E402

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 96,
    "intermediate_size": 256,
    "num_hidden_layers": 24,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 24,
    "vocab_size": 1024,
    "max_position_embeddings": 256,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "rope_scaling": None,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "mlp_bias": False,
    "hidden_act": "silu",
    "initializer_range": 0.02,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float16",
}

HP = {
    "train_seed": 1,          # gen_text seed of the training stories
    "train_stories": 30000,
    "eval_seed": 2,
    "eval_stories": 80,
    "calib_seed": 3,
    "calib_stories": 1000,
    "torch_seed": 1234,
    "steps": 1200,
    "batch": 8,
    "seq": 256,
    "lr": 2e-3,
    "lr_min": 1e-4,
    "warmup": 60,
    "weight_decay": 0.1,
    "betas": (0.9, 0.95),
    "grad_clip": 1.0,
    "p_doc_style": 50,        # % of stories laid out as "<s> story" (calibration style)
    "p_bos_first": 25,        # % of windows whose first token is replaced by <s>
    "threads": 2,
}


def build_stream(tok, stories, seed, p_doc):
    """Token stream of the training stories.  Each story appears either as a line of a text
    file (no dummy prefix, then the newline byte piece <0x0A>) or as a document of its own
    ("<s>" + story with the dummy prefix), so both layouts the tools use are seen."""
    rng = gen_text.SplitMix64(seed)
    nl = demo_lib.BYTE_BASE + 0x0A
    out = []
    for s in stories:
        if rng.chance(p_doc):
            out.append(tok.bos)
            out.extend(tok.encode(s, prefix=True))
        else:
            out.extend(tok.encode(s, prefix=False))
            out.append(nl)
    return np.asarray(out, dtype=np.int64)


def lr_at(step):
    if step < HP["warmup"]:
        return HP["lr"] * (step + 1) / HP["warmup"]
    t = (step - HP["warmup"]) / max(1, HP["steps"] - HP["warmup"])
    return HP["lr_min"] + 0.5 * (HP["lr"] - HP["lr_min"]) * (1 + math.cos(math.pi * t))


def f16_bits(a):
    return a.astype(np.float16)


def export(model, tok, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    sd = demo_lib.state_to_numpy(model)
    order = ["model.embed_tokens.weight"]
    for l in range(CONFIG["num_hidden_layers"]):
        p = f"model.layers.{l}."
        order += [p + "input_layernorm.weight"]
        order += [p + m + ".weight" for m in demo_lib.MODULES[:4]]
        order += [p + "post_attention_layernorm.weight"]
        order += [p + m + ".weight" for m in demo_lib.MODULES[4:]]
    order += ["model.norm.weight", "lm_head.weight"]
    assert sorted(order) == sorted(sd.keys()), set(sd.keys()) ^ set(order)
    tensors = [(n, ("F16", f16_bits(sd[n]))) for n in order]
    demo_lib.write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors,
                               {"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok.to_json(), f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "LlamaTokenizer", "add_bos_token": True,
                   "add_eos_token": False, "legacy": True, "bos_token": "<s>",
                   "eos_token": "</s>", "unk_token": "<unk>",
                   "model_max_length": CONFIG["max_position_embeddings"]}, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": 2,
                   "max_length": CONFIG["max_position_embeddings"]}, f, indent=2)
        f.write("\n")


def write_texts(tok):
    """eval.txt: the first eval_stories stories of seed 2.  calib.txt: the first
    calib_stories stories of seed 3 that fit the model's context as calibration documents
    ([BOS] + story <= max_position_embeddings tokens), so that no calibration document is
    skipped whether the tool's longest-document limit is 512 or the context."""
    text = "".join(s + "\n" for s in gen_text.stories(HP["eval_seed"], HP["eval_stories"]))
    with open(os.path.join(HERE, "eval.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    rng = gen_text.SplitMix64(HP["calib_seed"])
    keep = []
    while len(keep) < HP["calib_stories"]:
        s = gen_text.story(rng)
        if 1 + len(tok.encode(s)) <= CONFIG["max_position_embeddings"]:
            keep.append(s)
    with open(os.path.join(HERE, "calib.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(s + "\n" for s in keep))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "demo"))
    ap.add_argument("--ckpt", default=os.path.join(HERE, ".train_ckpt"))
    ap.add_argument("--steps", type=int, default=HP["steps"])
    ap.add_argument("--fresh", action="store_true", help="ignore existing checkpoints")
    args = ap.parse_args()
    HP["steps"] = args.steps
    torch.set_num_threads(HP["threads"])
    t_start = time.time()
    c_start = time.process_time()

    stories = gen_text.stories(HP["train_seed"], HP["train_stories"])
    text = "\n".join(stories)
    pieces, merges = demo_lib.train_bpe(text, CONFIG["vocab_size"])
    assert len(pieces) == CONFIG["vocab_size"], len(pieces)
    tok = demo_lib.Tokenizer(pieces, merges)
    write_texts(tok)
    stream = build_stream(tok, stories, HP["train_seed"] + 100, HP["p_doc_style"])
    print(f"tokenizer: {len(pieces)} pieces, {len(merges)} merges; training stream "
          f"{len(stream)} tokens ({time.time() - t_start:.1f} s)", flush=True)

    torch.manual_seed(HP["torch_seed"])
    model = demo_lib.build_model(CONFIG)
    demo_lib.init_weights(model, CONFIG["initializer_range"])
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": HP["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=HP["lr"], betas=HP["betas"], eps=1e-8)
    gen = torch.Generator().manual_seed(HP["torch_seed"] + 1)
    step0 = 0
    os.makedirs(args.ckpt, exist_ok=True)
    ck = os.path.join(args.ckpt, "last.pt")
    if os.path.exists(ck) and not args.fresh:
        st = torch.load(ck)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        gen.set_state(st["gen"])
        step0 = st["step"]
        print(f"resumed at step {step0}", flush=True)

    data = torch.from_numpy(stream)
    S, B = HP["seq"], HP["batch"]
    model.train()
    t_loop = time.time()
    ema = None
    for step in range(step0, HP["steps"]):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        starts = torch.randint(0, len(stream) - S - 1, (B,), generator=gen)
        bos_first = torch.randint(0, 100, (B,), generator=gen) < HP["p_bos_first"]
        x = torch.stack([data[s:s + S + 1] for s in starts.tolist()])
        x[bos_first, 0] = tok.bos
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, CONFIG["vocab_size"]), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), HP["grad_clip"])
        opt.step()
        lv = loss.item()
        ema = lv if ema is None else 0.98 * ema + 0.02 * lv
        if (step + 1) % 50 == 0 or step == step0:
            el = time.time() - t_loop
            print(f"step {step + 1}/{HP['steps']} loss {lv:.4f} (avg {ema:.4f}) "
                  f"lr {lr_at(step):.2e} {el:.0f} s", flush=True)
        if (step + 1) % 100 == 0 and step + 1 < HP["steps"]:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                        "gen": gen.get_state(), "step": step + 1}, ck + ".tmp")
            os.replace(ck + ".tmp", ck)
    model.eval()
    export(model, tok, args.out)
    print(f"done: wall {time.time() - t_start:.0f} s, cpu {time.process_time() - c_start:.0f} s"
          f" (this run, from step {step0})", flush=True)


if __name__ == "__main__":
    main()
