#!/usr/bin/python3
"""Trains models/shakespeare.gguf: a small llama on tinyshakespeare with a
SentencePiece-BPE vocabulary, then exports it to GGUF with reference logits.

Run from anywhere (see README.md):  nice -n 10 /usr/bin/python3 tools/train/train_shakespeare.py
The corpus is read from ../shared/data/tinyshakespeare.txt relative to the repository
root and never copied into the repository. Scratch files go to --work (default /tmp).
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (MODELS_DIR, SHARED, Timer, log, lr_at, make_optimizer,  # noqa: E402
                    seed_everything)
from llama_model import Config, Llama, config_dict, export_gguf, write_reference  # noqa: E402
from llama_spm import LlamaSPM  # noqa: E402


def train_tokenizer(train_text, vocab_size, work):
    import sentencepiece as spm
    path = os.path.join(work, "shakespeare_train.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(train_text)
    prefix = os.path.join(work, f"shakespeare_sp{vocab_size}")
    # add_dummy_prefix=False + identity normalisation: the whole text is encoded as one
    # string, so "\n" (absent from the line-split training input) becomes <0x0A> by
    # byte fallback and a word at a line start carries no "▁", exactly as llama.cpp
    # tokenises with tokenizer.ggml.add_space_prefix = false.
    spm.SentencePieceTrainer.train(
        input=path, model_prefix=prefix, model_type="bpe", vocab_size=vocab_size,
        byte_fallback=True, character_coverage=1.0, add_dummy_prefix=False,
        normalization_rule_name="identity", remove_extra_whitespaces=False,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    V = sp.get_piece_size()
    tokens = [sp.id_to_piece(i) for i in range(V)]
    types = [3 if sp.is_control(i) else 2 if sp.is_unknown(i) else 6 if sp.is_byte(i) else 1
             for i in range(V)]
    scores = [float(sp.get_score(i)) for i in range(V)]
    vocab = dict(tokens=tokens, scores=scores, types=types, bos=1, eos=2, unk=0,
                 add_space_prefix=False)
    assert tokens[:3] == ["<unk>", "<s>", "</s>"] and tokens[3] == "<0x00>"
    return sp, vocab


def batch_windows(stream, starts, T, bos):
    """x = [BOS] + stream[s : s+T-1], y = stream[s : s+T]: every window begins like a
    prompt does at inference (BOS at position 0)."""
    x = torch.empty(len(starts), T, dtype=torch.long)
    y = torch.empty(len(starts), T, dtype=torch.long)
    for i, s in enumerate(starts):
        x[i, 0] = bos
        x[i, 1:] = stream[s:s + T - 1]
        y[i] = stream[s:s + T]
    return x, y


@torch.no_grad()
def evaluate(model, stream, T, bos, max_windows=None, batch=8):
    """Mean NLL (nats/token) over non-overlapping windows of the stream."""
    model.eval()
    starts = list(range(0, len(stream) - T, T))
    if max_windows:
        starts = starts[:max_windows]
    tot, n = 0.0, 0
    for i in range(0, len(starts), batch):
        x, y = batch_windows(stream, starts[i:i + batch], T, bos)
        lg = model(x)
        tot += F.cross_entropy(lg.reshape(-1, lg.shape[-1]), y.reshape(-1), reduction="sum").item()
        n += y.numel()
    model.train()
    return tot / n, n


@torch.no_grad()
def greedy(model, ids, n):
    ids = list(ids)
    for _ in range(n):
        ctx = ids[-model.c.context_length:]
        ids.append(int(model(torch.tensor([ctx]))[0, -1].argmax()))
    return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=os.path.join(SHARED, "data", "tinyshakespeare.txt"))
    ap.add_argument("--out", default=os.path.join(MODELS_DIR, "shakespeare.gguf"))
    ap.add_argument("--work", default="/tmp/shakespeare_train")
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--short-ctx", type=int, default=128,
                    help="window length of phase 1 (attention cost is quadratic)")
    ap.add_argument("--steps", type=int, default=1400, help="phase-1 steps at --short-ctx")
    ap.add_argument("--long-steps", type=int, default=150, help="phase-2 steps at --ctx")
    ap.add_argument("--tokens-per-step", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; 1 is fastest on a loaded 2-core machine")
    ap.add_argument("--eval-every", type=int, default=200)
    args = ap.parse_args()

    seed_everything(args.seed, args.threads)
    os.makedirs(args.work, exist_ok=True)
    with open(args.data, encoding="utf-8") as f:
        text = f.read()
    split = int(len(text) * 0.9)  # last 10% of characters is the validation set
    train_text, val_text = text[:split], text[split:]
    log(f"corpus {len(text)} chars: train {len(train_text)}, val {len(val_text)}")

    sp, vocab = train_tokenizer(train_text, args.vocab, args.work)
    tok = LlamaSPM(vocab["tokens"], vocab["scores"], vocab["types"], vocab["unk"],
                   vocab["add_space_prefix"])
    train_ids = sp.encode(train_text)
    val_ids = sp.encode(val_text)
    # The C++ runner implements llama.cpp's algorithm, not SentencePiece: prove they agree.
    if tok.encode(val_text) != val_ids or tok.decode(val_ids) != val_text:
        raise SystemExit("llama.cpp-style tokenizer disagrees with SentencePiece on val text")
    log(f"tokenizer: {args.vocab} BPE pieces, train {len(train_ids)} tokens, val {len(val_ids)} "
        f"tokens ({len(val_text) / len(val_ids):.2f} chars/token); llama SPM re-encoding matches")
    train_stream = torch.tensor(train_ids, dtype=torch.long)
    val_stream = torch.tensor(val_ids, dtype=torch.long)

    c = Config(vocab_size=args.vocab, dim=args.dim, n_layers=args.layers, n_heads=args.heads,
               n_kv_heads=args.kv_heads, hidden_dim=args.hidden, context_length=args.ctx,
               tied=True)
    model = Llama(c)
    opt = make_optimizer(model, args.lr, args.wd)
    log(f"model {config_dict(c)}: {model.n_params()} params "
        f"({model.n_params() * 4 / 1e6:.2f} MB f32), output head tied to token_embd")

    gen = torch.Generator().manual_seed(args.seed)
    total = args.steps + args.long_steps
    timer = Timer()
    history = []
    for step in range(total):
        T = args.short_ctx if step < args.steps else args.ctx
        B = max(1, args.tokens_per_step // T)
        starts = torch.randint(0, len(train_stream) - T, (B,), generator=gen).tolist()
        x, y = batch_windows(train_stream, starts, T, vocab["bos"])
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, args.lr, args.warmup)
        loss = F.cross_entropy(model(x).reshape(-1, c.vocab_size), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 10 == 0:
            log(f"step {step}/{total} T={T} loss {loss.item():.4f} "
                f"lr {opt.param_groups[0]['lr']:.2e} "
                f"{timer.elapsed():.0f}s wall {timer.cpu():.0f}s cpu")
        if (step + 1) % args.eval_every == 0:
            vl, _ = evaluate(model, val_stream, args.ctx, vocab["bos"], max_windows=16)
            history.append((step + 1, round(vl, 4), round(timer.elapsed(), 1)))
            log(f"  val (16 windows) {vl:.4f} nats/token")
    train_time, train_cpu = timer.elapsed(), timer.cpu()
    log(f"training time {train_time:.0f}s wall ({train_time / 60:.1f} min), "
        f"{train_cpu:.0f}s cpu ({train_cpu / 60:.1f} min)")

    model.eval()
    vl, n = evaluate(model, val_stream, args.ctx, vocab["bos"])
    bpc = vl * n / math.log(2) / (n * len(val_text) / len(val_ids))
    log(f"validation loss {vl:.4f} nats/token over {n} tokens (~{bpc:.3f} bits/char)")
    tl, _ = evaluate(model, train_stream, args.ctx, vocab["bos"], max_windows=200)
    log(f"train loss (first 200 windows) {tl:.4f} nats/token")

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    size = export_gguf(model, args.out, "shakespeare", vocab)
    log(f"wrote {args.out} ({size} bytes)")
    torch.save(model.state_dict(), os.path.join(args.work, "shakespeare.pt"))

    samples = {}
    for prompt in ["ROMEO:\n", "First Citizen:\n", "KING HENRY VI:\nWhat"]:
        ids = [vocab["bos"]] + tok.encode(prompt)
        out = greedy(model, ids, 120)
        samples[prompt] = tok.decode(out[1:])
        log("---- greedy sample ----\n" + samples[prompt])

    prompt = "ROMEO:\nBut soft, what light through yonder window breaks?"
    prefix = os.path.splitext(args.out)[0]
    ref = write_reference(args.out, prefix, prompt, [vocab["bos"]] + tok.encode(prompt), 32,
                          tok.decode)
    log(f"reference: {len(ref['prompt_ids'])} prompt tokens, greedy: {ref['greedy_text']!r}, "
        f"torch vs float64 max diff {ref['torch_vs_float64_max_abs_diff']:.2e}")
    with open(os.path.join(args.work, "shakespeare_report.json"), "w") as f:
        json.dump(dict(args=vars(args), config=config_dict(c), params=model.n_params(),
                       train_seconds_wall=round(train_time, 1),
                       train_seconds_cpu=round(train_cpu, 1), val_loss=vl, val_tokens=n,
                       val_bits_per_char=bpc, train_loss=tl, history=history,
                       samples=samples, file_bytes=size), f, indent=1)


if __name__ == "__main__":
    main()
