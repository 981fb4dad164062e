"""Shared code of the demo scripts: the BPE tokenizer (trainer, exact encoder, tokenizer.json
writer), the LLaMA model in plain PyTorch (Hugging Face LlamaForCausalLM math), and a small
safetensors reader/writer.  Used by train_demo.py and check_demo.py."""
import json
import math
import os
import struct
from collections import Counter

SP = "\u2581"  # "▁"
N_SPECIAL = 3  # <unk>, <s>, </s>
BYTE_BASE = 3  # <0x00> is id 3 ... <0xFF> is id 258
FIRST_FREE = BYTE_BASE + 256


# ---------------------------------------------------------------------------------------
# Tokenizer (docs/formats.md §7.3, Llama-2 "legacy" SentencePiece-converted layout)

def normalize(text):
    """Prepend("▁") then Replace(" " -> "▁"); Prepend only touches non-empty text."""
    if not text:
        return ""
    return SP + text.replace(" ", SP)


def split_words(norm):
    """Cuts a normalised string into runs that BPE merges can never cross: every '▁' starts
    a new run (no merge has a right-hand side that starts with '▁', see train_bpe), and a
    character outside the base alphabet is a run of its own (it becomes byte pieces, which
    take part in no merge)."""
    words = []
    cur = []
    for ch in norm:
        if ch == SP and cur:
            words.append("".join(cur))
            cur = []
        cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


def base_alphabet(text):
    """The characters that get a vocabulary entry of their own: printable ASCII that occurs
    in the text, plus '▁'.  Everything else (newline, non-ASCII letters) is byte-fallback."""
    chars = set(ch for ch in text if 33 <= ord(ch) <= 126)
    return [SP] + sorted(chars)


def train_bpe(text, vocab_size):
    """Greedy BPE on word counts (words = '▁'-initial runs of the normalised lines).
    Each step merges the most frequent allowed adjacent pair (ties: the pair whose merged
    string is smallest in code-point order, then the smaller left piece); allowed results
    are '▁' + letters, '▁' + punctuation, letters or punctuation (never an inner '▁', never
    a digit, never a byte-fallback character).  Returns (pieces in id order, merges in rank order)."""
    alphabet = base_alphabet(text)

    def allowed(a, b):
        # SentencePiece-like piece classes (split_by_unicode_script, split_digits): a piece
        # is '▁' optionally followed by letters only or by punctuation only; digits never
        # merge with anything.
        body = (a + b)[1:] if a.startswith(SP) else a + b
        if SP in body or not body:
            return False
        return body.isalpha() or all(not ch.isalnum() for ch in body)

    in_alpha = set(alphabet)
    counts = Counter()
    for line in text.split("\n"):
        # Two forms occur in the data: a line encoded on its own (with the dummy prefix)
        # and a line that follows a newline in a file (no prefix).
        for norm in (normalize(line), line.replace(" ", SP)):
            for w in split_words(norm):
                counts[w] += 1
    # Each word as a list of symbols; characters outside the alphabet cut words.
    words = []
    for w, c in counts.items():
        segs, cur = [], []
        for ch in w:
            if ch in in_alpha:
                cur.append(ch)
            else:
                if cur:
                    segs.append(cur)
                cur = []
        if cur:
            segs.append(cur)
        for s in segs:
            if len(s) > 1:
                words.append([s, c])
    pieces = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + alphabet
    have = set(pieces)
    merges = []
    pair_counts = Counter()
    for sym, c in words:
        for a, b in zip(sym, sym[1:]):
            pair_counts[(a, b)] += c
    while len(pieces) < vocab_size:
        best = None
        for (a, b), c in pair_counts.items():
            if c <= 0 or not allowed(a, b):
                continue
            key = (-c, a + b, a)
            if best is None or key < best[0]:
                best = (key, a, b)
        if best is None:
            break
        _, a, b = best
        new = a + b
        merges.append((a, b))
        if new not in have:
            pieces.append(new)
            have.add(new)
        # Apply the merge to every word (left to right, non-overlapping) and update counts.
        for entry in words:
            sym, c = entry
            if len(sym) < 2:
                continue
            i = 0
            changed = False
            out = []
            while i < len(sym):
                if i + 1 < len(sym) and sym[i] == a and sym[i + 1] == b:
                    out.append(new)
                    i += 2
                    changed = True
                else:
                    out.append(sym[i])
                    i += 1
            if changed:
                for x, y in zip(sym, sym[1:]):
                    pair_counts[(x, y)] -= c
                for x, y in zip(out, out[1:]):
                    pair_counts[(x, y)] += c
                entry[0] = out
        pair_counts[(a, b)] = 0
    return pieces, merges


class Tokenizer:
    """Encoder with the semantics of docs/formats.md §7.3: normalise, characters not in the
    vocabulary become their UTF-8 bytes as <0xXX> pieces, then repeatedly merge the adjacent
    pair of lowest merge rank (leftmost among equal ranks)."""

    def __init__(self, pieces, merges):
        self.pieces = pieces
        self.vocab = {p: i for i, p in enumerate(pieces)}
        self.rank = {}
        for r, (a, b) in enumerate(merges):
            self.rank.setdefault((self.vocab[a], self.vocab[b]), (r, self.vocab[a + b]))
        self.merges = merges
        self.cache = {}
        self.bos, self.eos, self.unk = 1, 2, 0

    def _symbols(self, norm):
        ids = []
        for ch in norm:
            i = self.vocab.get(ch)
            if i is not None:
                ids.append(i)
            else:
                ids.extend(BYTE_BASE + b for b in ch.encode("utf-8"))
        return ids

    def _merge(self, ids):
        ids = list(ids)
        while len(ids) > 1:
            best = None
            for k in range(len(ids) - 1):
                m = self.rank.get((ids[k], ids[k + 1]))
                if m is not None and (best is None or m[0] < best[0]):
                    best = (m[0], k, m[1])
            if best is None:
                break
            _, k, new = best
            ids[k:k + 2] = [new]
        return ids

    def encode_exact(self, text):
        """Straight implementation over the whole normalised text (slow; used as a check)."""
        return self._merge(self._symbols(normalize(text)))

    def encode(self, text, prefix=True):
        """Same result as encode_exact, computed word by word with a cache.  prefix=False
        encodes text that follows a newline inside a file (no dummy prefix)."""
        norm = normalize(text) if prefix else text.replace(" ", SP)
        out = []
        for w in split_words(norm):
            r = self.cache.get(w)
            if r is None:
                r = self._merge(self._symbols(w))
                self.cache[w] = r
            out.extend(r)
        return out

    def encode_file(self, text):
        """Ids of a whole file as the perplexity protocols see it (without BOS): one
        normalisation of the whole text; newlines are byte pieces that no merge touches,
        so the lines can be encoded separately."""
        out = []
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if i > 0:
                out.append(BYTE_BASE + 0x0A)
            out.extend(self.encode(line, prefix=(i == 0)))
        return out

    def decode(self, ids):
        bs = bytearray()
        for i in ids:
            p = self.pieces[i]
            if BYTE_BASE <= i < FIRST_FREE:
                bs.append(i - BYTE_BASE)
            elif i < N_SPECIAL:
                continue
            else:
                bs.extend(p.replace(SP, " ").encode("utf-8"))
        s = bs.decode("utf-8", errors="replace")
        return s[1:] if s.startswith(" ") else s

    def to_json(self):
        added = [{"id": i, "content": c, "single_word": False, "lstrip": False,
                  "rstrip": False, "normalized": False, "special": True}
                 for i, c in enumerate(["<unk>", "<s>", "</s>"])]
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Prepend", "prepend": SP},
                {"type": "Replace", "pattern": {"String": " "}, "content": SP}]},
            "pre_tokenizer": None,
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                           {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                         {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": "<s>", "type_id": 1}},
                         {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
            "decoder": {"type": "Sequence", "decoders": [
                {"type": "Replace", "pattern": {"String": SP}, "content": " "},
                {"type": "ByteFallback"}, {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
            "model": {
                "type": "BPE", "dropout": None, "unk_token": "<unk>",
                "continuing_subword_prefix": None, "end_of_word_suffix": None,
                "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                "vocab": self.vocab,
                "merges": [a + " " + b for a, b in self.merges]},
        }

    @classmethod
    def from_json(cls, path):
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        vocab = j["model"]["vocab"]
        pieces = [None] * len(vocab)
        for p, i in vocab.items():
            pieces[i] = p
        merges = []
        for m in j["model"]["merges"]:
            a, b = m.split(" ") if isinstance(m, str) else m
            merges.append((a, b))
        return cls(pieces, merges)


# ---------------------------------------------------------------------------------------
# safetensors (docs/formats.md §3.1)

def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, numpy array); F16/BF16 given as ('F16', uint16 array) too."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    blobs = []
    for name, (dtype, arr) in tensors:
        b = arr.tobytes(order="C")
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((8 - len(hj) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    dt = {"F32": np.float32, "F16": np.float16}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        b, e = h["data_offsets"]
        out[name] = np.frombuffer(data[base + b:base + e], dtype=dt[h["dtype"]]).reshape(
            h["shape"]).astype(np.float32)
    return out


# ---------------------------------------------------------------------------------------
# The model: Hugging Face LlamaForCausalLM math in plain PyTorch

MODULES = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


def build_model(cfg):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class RMSNorm(nn.Module):
        def __init__(self, dim, eps):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(dim))
            self.eps = eps

        def forward(self, x):
            var = x.pow(2).mean(-1, keepdim=True)
            return self.weight * (x * torch.rsqrt(var + self.eps))

    def rotate_half(x):
        h = x.shape[-1] // 2
        return torch.cat((-x[..., h:], x[..., :h]), dim=-1)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            d, hd = cfg["hidden_size"], cfg["head_dim"]
            self.nh, self.nkv, self.hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], hd
            self.q_proj = nn.Linear(d, self.nh * hd, bias=False)
            self.k_proj = nn.Linear(d, self.nkv * hd, bias=False)
            self.v_proj = nn.Linear(d, self.nkv * hd, bias=False)
            self.o_proj = nn.Linear(self.nh * hd, d, bias=False)

        def forward(self, x, cos, sin, mask):
            B, T, _ = x.shape
            q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)
            k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
            v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            # GQA as HF's repeat_kv (query head h uses KV head h // rep), computed without
            # copying K and V: the rep query heads of one KV head are stacked along time.
            rep = self.nh // self.nkv
            qg = q.reshape(B, self.nkv, rep * T, self.hd)
            att = (qg @ k.transpose(-2, -1)) / math.sqrt(self.hd)
            att = att + mask[:T, :T].repeat(rep, 1)
            att = torch.softmax(att, dim=-1)
            y = (att @ v).view(B, self.nh, T, self.hd).transpose(1, 2).reshape(B, T, -1)
            return self.o_proj(y)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            d, h = cfg["hidden_size"], cfg["intermediate_size"]
            self.gate_proj = nn.Linear(d, h, bias=False)
            self.up_proj = nn.Linear(d, h, bias=False)
            self.down_proj = nn.Linear(h, d, bias=False)

        def forward(self, x):
            return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            eps = cfg["rms_norm_eps"]
            self.input_layernorm = RMSNorm(cfg["hidden_size"], eps)
            self.self_attn = Attention()
            self.post_attention_layernorm = RMSNorm(cfg["hidden_size"], eps)
            self.mlp = MLP()

        def forward(self, x, cos, sin, mask):
            h = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
            return h + self.mlp(self.post_attention_layernorm(h))

    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
            self.layers = nn.ModuleList([Layer() for _ in range(cfg["num_hidden_layers"])])
            self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = Inner()
            self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
            hd, n = cfg["head_dim"], cfg["max_position_embeddings"]
            inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
            ang = torch.outer(torch.arange(n, dtype=torch.float64), inv)
            emb = torch.cat((ang, ang), dim=-1)
            self.register_buffer("cos", emb.cos().float(), persistent=False)
            self.register_buffer("sin", emb.sin().float(), persistent=False)
            m = torch.full((n, n), float("-inf")).triu(1)
            self.register_buffer("mask", m, persistent=False)

        def forward(self, ids):
            T = ids.shape[1]
            x = self.model.embed_tokens(ids)
            cos, sin = self.cos[:T], self.sin[:T]
            for layer in self.model.layers:
                x = layer(x, cos, sin, self.mask)
            return self.lm_head(self.model.norm(x))

    return Llama()


def init_weights(model, std):
    import torch
    for name, p in model.named_parameters():
        if name.endswith("layernorm.weight") or name == "model.norm.weight":
            torch.nn.init.ones_(p)
        else:
            torch.nn.init.normal_(p, mean=0.0, std=std)


def state_to_numpy(model):
    return {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()}


def load_model(model_dir):
    import torch
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    model = build_model(cfg)
    w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    sd = {k: torch.from_numpy(v.copy()) for k, v in w.items()}
    if "lm_head.weight" not in sd:
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model, cfg
