"""Llama-family decoder used by both bundled models, its GGUF export, and a numpy
reference forward pass that reads the exported file back.

Architecture (Touvron et al. 2023, "LLaMA"; the same as llama2.c):
    h = tok_embeddings[ids]
    for each layer:
        h = h + Wo . Attn(RoPE(Wq . rms(h)), RoPE(Wk . rms(h)), Wv . rms(h))
        h = h + W2 . (silu(W1 . rms(h)) * (W3 . rms(h)))          (SwiGLU, Shazeer 2020)
    logits = Wout . rms(h)          (Wout = tok_embeddings when tied)
    rms(x) = x / sqrt(mean(x^2) + eps) * g                          (Zhang & Sennrich 2019)
RoPE (Su et al. 2021) in the interleaved-pair form of Meta's llama and llama2.c:
    (x[2i], x[2i+1]) is rotated by angle pos * base^(-2i/head_dim).
This is what llama.cpp's LLAMA architecture (rope type NORM) applies to GGUF
weights, so Q/K are exported without any permutation.
GQA (Ainslie et al. 2023): query head h uses kv head h // (n_heads / n_kv_heads).
No biases anywhere. Attention scale 1/sqrt(head_dim), causal.
"""

import json
import math
from dataclasses import dataclass, asdict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from gguf_writer import GGUFWriter, read_gguf, FLOAT32, INT32, STRING

# llama.cpp token types
TOKEN_NORMAL, TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_USER, TOKEN_UNUSED, TOKEN_BYTE = 1, 2, 3, 4, 5, 6


@dataclass
class Config:
    vocab_size: int
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    hidden_dim: int
    context_length: int
    norm_eps: float = 1e-5
    rope_base: float = 10000.0
    tied: bool = True

    @property
    def head_dim(self):
        return self.dim // self.n_heads


def rope_tables(head_dim, n_pos, base):
    """cos/sin of shape [n_pos, head_dim/2] for the interleaved-pair rotation."""
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    ang = torch.arange(n_pos, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    """x [B, T, H, D]; rotates pairs (x[..., 2i], x[..., 2i+1])."""
    xr = x.float().reshape(*x.shape[:-1], -1, 2)
    x0, x1 = xr[..., 0], xr[..., 1]
    c = cos[None, :, None, :]
    s = sin[None, :, None, :]
    out = torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1)
    return out.reshape(x.shape).type_as(x)


_CAUSAL = {}


def causal_bias(T):
    """Additive causal mask [T, T]: 0 on and below the diagonal, -inf above (cached)."""
    if T not in _CAUSAL:
        _CAUSAL[T] = torch.full((T, T), float("-inf")).triu(1)
    return _CAUSAL[T]


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Block(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        hd = c.head_dim
        self.attn_norm = RMSNorm(c.dim, c.norm_eps)
        self.wq = nn.Linear(c.dim, c.n_heads * hd, bias=False)
        self.wk = nn.Linear(c.dim, c.n_kv_heads * hd, bias=False)
        self.wv = nn.Linear(c.dim, c.n_kv_heads * hd, bias=False)
        self.wo = nn.Linear(c.n_heads * hd, c.dim, bias=False)
        self.ffn_norm = RMSNorm(c.dim, c.norm_eps)
        self.w1 = nn.Linear(c.dim, c.hidden_dim, bias=False)
        self.w2 = nn.Linear(c.hidden_dim, c.dim, bias=False)
        self.w3 = nn.Linear(c.dim, c.hidden_dim, bias=False)

    def attention(self, x, cos, sin, attn_bias=None):
        """attn_bias: optional additive [B, H, T, T] bias (used for steering experiments)."""
        c = self.c
        B, T, _ = x.shape
        hd = c.head_dim
        q = apply_rope(self.wq(x).view(B, T, c.n_heads, hd), cos, sin)
        k = apply_rope(self.wk(x).view(B, T, c.n_kv_heads, hd), cos, sin)
        v = self.wv(x).view(B, T, c.n_kv_heads, hd)
        rep = c.n_heads // c.n_kv_heads
        # query head h reads kv head h // rep
        k = k.repeat_interleave(rep, dim=2)
        v = v.repeat_interleave(rep, dim=2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, T, hd]
        scores = (q * (1.0 / math.sqrt(hd))) @ k.transpose(-1, -2) + causal_bias(T)
        if attn_bias is not None:
            scores = scores + attn_bias
        p = torch.softmax(scores, dim=-1)
        o = (p @ v).transpose(1, 2).reshape(B, T, c.n_heads * hd)
        return self.wo(o)

    def forward(self, x, cos, sin, attn_bias=None):
        x = x + self.attention(self.attn_norm(x), cos, sin, attn_bias)
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Llama(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.tok_embeddings = nn.Embedding(c.vocab_size, c.dim)
        self.layers = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.norm = RMSNorm(c.dim, c.norm_eps)
        self.output = None if c.tied else nn.Linear(c.dim, c.vocab_size, bias=False)
        cos, sin = rope_tables(c.head_dim, c.context_length, c.rope_base)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init)
        # GPT-2 style scaled init of residual projections keeps early training stable
        for n, p in self.named_parameters():
            if n.endswith("wo.weight") or n.endswith("w2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * c.n_layers))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, ids, attn_bias_per_layer=None):
        T = ids.shape[1]
        if T > self.c.context_length:
            raise ValueError(f"sequence length {T} > context_length {self.c.context_length}")
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]
        h = self.tok_embeddings(ids)
        for i, layer in enumerate(self.layers):
            bias = None if attn_bias_per_layer is None else attn_bias_per_layer.get(i)
            h = layer(h, cos, sin, bias)
        h = self.norm(h)
        w = self.tok_embeddings.weight if self.output is None else self.output.weight
        return h @ w.t()

    def n_params(self):
        return sum(p.numel() for p in self.parameters())


# ---------------------------------------------------------------- GGUF export

def tensor_map(model: Llama):
    """llama.cpp tensor names -> numpy arrays in PyTorch [out, in] layout (= ggml [in, out])."""
    t = {"token_embd.weight": model.tok_embeddings.weight}
    for i, L in enumerate(model.layers):
        p = f"blk.{i}."
        t[p + "attn_norm.weight"] = L.attn_norm.weight
        t[p + "attn_q.weight"] = L.wq.weight
        t[p + "attn_k.weight"] = L.wk.weight
        t[p + "attn_v.weight"] = L.wv.weight
        t[p + "attn_output.weight"] = L.wo.weight
        t[p + "ffn_norm.weight"] = L.ffn_norm.weight
        t[p + "ffn_gate.weight"] = L.w1.weight
        t[p + "ffn_up.weight"] = L.w3.weight
        t[p + "ffn_down.weight"] = L.w2.weight
    t["output_norm.weight"] = model.norm.weight
    if model.output is not None:
        t["output.weight"] = model.output.weight
    return {k: v.detach().float().cpu().numpy() for k, v in t.items()}


def export_gguf(model: Llama, path, name, vocab, extra_kv=None):
    """vocab: dict with tokens (list[str]), scores (list[float]), types (list[int]),
    bos, eos, unk (ids), add_space_prefix (bool)."""
    c = model.c
    w = GGUFWriter()
    w.add_string("general.architecture", "llama")
    w.add_string("general.name", name)
    w.add_u32("general.file_type", 0)  # all F32
    w.add_u32("llama.context_length", c.context_length)
    w.add_u32("llama.embedding_length", c.dim)
    w.add_u32("llama.block_count", c.n_layers)
    w.add_u32("llama.feed_forward_length", c.hidden_dim)
    w.add_u32("llama.attention.head_count", c.n_heads)
    w.add_u32("llama.attention.head_count_kv", c.n_kv_heads)
    w.add_u32("llama.rope.dimension_count", c.head_dim)
    w.add_f32("llama.rope.freq_base", c.rope_base)
    w.add_f32("llama.attention.layer_norm_rms_epsilon", c.norm_eps)
    w.add_u32("llama.vocab_size", c.vocab_size)
    w.add_string("tokenizer.ggml.model", "llama")
    assert len(vocab["tokens"]) == c.vocab_size
    w.add_array("tokenizer.ggml.tokens", STRING, vocab["tokens"])
    w.add_array("tokenizer.ggml.scores", FLOAT32, vocab["scores"])
    w.add_array("tokenizer.ggml.token_type", INT32, vocab["types"])
    w.add_u32("tokenizer.ggml.bos_token_id", vocab["bos"])
    w.add_u32("tokenizer.ggml.eos_token_id", vocab["eos"])
    w.add_u32("tokenizer.ggml.unknown_token_id", vocab["unk"])
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    w.add_bool("tokenizer.ggml.add_eos_token", False)
    w.add_bool("tokenizer.ggml.add_space_prefix", vocab["add_space_prefix"])
    for k, (typ, v) in (extra_kv or {}).items():
        w.add(k, typ, v)
    for k, a in tensor_map(model).items():
        w.add_tensor(k, a)
    return w.write(path)


def load_from_gguf(path):
    """Rebuilds a torch Llama from an exported file (round trip of every weight)."""
    meta, t = read_gguf(path)
    c = Config(
        vocab_size=meta["llama.vocab_size"], dim=meta["llama.embedding_length"],
        n_layers=meta["llama.block_count"], n_heads=meta["llama.attention.head_count"],
        n_kv_heads=meta["llama.attention.head_count_kv"],
        hidden_dim=meta["llama.feed_forward_length"],
        context_length=meta["llama.context_length"],
        norm_eps=meta["llama.attention.layer_norm_rms_epsilon"],
        rope_base=meta["llama.rope.freq_base"], tied="output.weight" not in t)
    m = Llama(c)
    sd = {}
    for k, a in tensor_map(m).items():
        sd[k] = torch.from_numpy(t[k])
    with torch.no_grad():
        for k, p in tensor_map_params(m).items():
            if tuple(p.shape) != tuple(sd[k].shape):
                raise ValueError(f"{k}: file shape {tuple(sd[k].shape)} != model {tuple(p.shape)}")
            p.copy_(sd[k])
    return m.eval(), meta


def tensor_map_params(model):
    out = {"token_embd.weight": model.tok_embeddings.weight}
    for i, L in enumerate(model.layers):
        p = f"blk.{i}."
        out.update({p + "attn_norm.weight": L.attn_norm.weight, p + "attn_q.weight": L.wq.weight,
                    p + "attn_k.weight": L.wk.weight, p + "attn_v.weight": L.wv.weight,
                    p + "attn_output.weight": L.wo.weight, p + "ffn_norm.weight": L.ffn_norm.weight,
                    p + "ffn_gate.weight": L.w1.weight, p + "ffn_up.weight": L.w3.weight,
                    p + "ffn_down.weight": L.w2.weight})
    out["output_norm.weight"] = model.norm.weight
    if model.output is not None:
        out["output.weight"] = model.output.weight
    return out


# ------------------------------------------------- independent numpy reference

def numpy_forward(meta, t, ids):
    """float64 forward pass straight from the GGUF tensors, written without the torch
    model so that export mistakes (names, layouts, RoPE form) show up as a mismatch."""
    D = meta["llama.embedding_length"]
    H = meta["llama.attention.head_count"]
    Hkv = meta["llama.attention.head_count_kv"]
    eps = meta["llama.attention.layer_norm_rms_epsilon"]
    base = meta["llama.rope.freq_base"]
    hd = D // H
    T = len(ids)
    g = {k: v.astype(np.float64) for k, v in t.items()}

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def rope(x):  # x [T, nh, hd]
        out = x.copy()
        for p in range(T):
            for i in range(hd // 2):
                th = p * base ** (-2.0 * i / hd)
                a, b = x[p, :, 2 * i], x[p, :, 2 * i + 1]
                out[p, :, 2 * i] = a * math.cos(th) - b * math.sin(th)
                out[p, :, 2 * i + 1] = a * math.sin(th) + b * math.cos(th)
        return out

    x = g["token_embd.weight"][ids]
    for l in range(meta["llama.block_count"]):
        p = f"blk.{l}."
        h = rms(x, g[p + "attn_norm.weight"])
        q = rope((h @ g[p + "attn_q.weight"].T).reshape(T, H, hd))
        k = rope((h @ g[p + "attn_k.weight"].T).reshape(T, Hkv, hd))
        v = (h @ g[p + "attn_v.weight"].T).reshape(T, Hkv, hd)
        o = np.zeros((T, H, hd))
        for hh in range(H):
            kv = hh // (H // Hkv)
            s = q[:, hh, :] @ k[:, kv, :].T / math.sqrt(hd)
            s[np.triu_indices(T, 1)] = -np.inf
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            o[:, hh, :] = s @ v[:, kv, :]
        x = x + o.reshape(T, D) @ g[p + "attn_output.weight"].T
        h = rms(x, g[p + "ffn_norm.weight"])
        a = h @ g[p + "ffn_gate.weight"].T
        u = h @ g[p + "ffn_up.weight"].T
        x = x + ((a / (1 + np.exp(-a))) * u) @ g[p + "ffn_down.weight"].T
    x = rms(x, g["output_norm.weight"])
    w_out = g.get("output.weight", g["token_embd.weight"])
    return x @ w_out.T


# ------------------------------------------------------------ reference logits

def write_reference(gguf_path, out_prefix, prompt_text, prompt_ids, n_gen, decode,
                    stop_at_eos=False):
    """Writes <prefix>.ref.json (ids, greedy continuation, metadata) and <prefix>.ref.bin
    (raw little-endian float32 logits, row-major [n_prompt, n_vocab]; row p = logits
    predicting the token after prompt position p). Logits come from the torch model
    rebuilt from the GGUF file, cross-checked against the float64 numpy reference."""
    model, meta = load_from_gguf(gguf_path)
    _, tensors = read_gguf(gguf_path)
    ids = torch.tensor([prompt_ids])
    with torch.no_grad():
        logits = model(ids)[0].float().numpy()
    ref64 = numpy_forward(meta, tensors, prompt_ids)
    max_err = float(np.abs(logits - ref64).max())
    scale = float(np.abs(ref64).max())
    if max_err > 1e-3 * max(1.0, scale):
        raise RuntimeError(f"torch vs numpy reference mismatch: max |diff| {max_err}")
    eos = meta["tokenizer.ggml.eos_token_id"]
    seq = list(prompt_ids)
    gen, margins = [], []
    with torch.no_grad():
        for _ in range(n_gen):
            if len(seq) >= model.c.context_length:
                break
            lg = model(torch.tensor([seq]))[0, -1]
            top2 = torch.topk(lg, 2).values
            nxt = int(lg.argmax())
            margins.append(float(top2[0] - top2[1]))
            gen.append(nxt)
            seq.append(nxt)
            if stop_at_eos and nxt == eos:
                break
    logits.astype("<f4").tofile(out_prefix + ".ref.bin")
    ref = {
        "model": gguf_path.split("/")[-1],
        "prompt_text": prompt_text,
        "prompt_ids": [int(i) for i in prompt_ids],
        "n_vocab": int(logits.shape[1]),
        "logits_file": out_prefix.split("/")[-1] + ".ref.bin",
        "logits_layout": "float32 little-endian, row-major [n_prompt][n_vocab]; row p = "
                         "logits after feeding prompt_ids[0..p] (positions 0..p)",
        "logits_argmax": [int(i) for i in logits.argmax(-1)],
        "logits_max_abs": scale,
        "torch_vs_float64_max_abs_diff": max_err,
        "greedy_ids": gen,
        "greedy_top1_minus_top2": margins,
        "greedy_text": decode(gen),
        "greedy_note": "greedy from the prompt, full recompute each step, " + (
            "stopping after </s>" if stop_at_eos else f"{n_gen} tokens, EOS not special"),
    }
    with open(out_prefix + ".ref.json", "w") as f:
        json.dump(ref, f, indent=1)
    return ref


def config_dict(c: Config):
    d = asdict(c)
    d["head_dim"] = c.head_dim
    return d
