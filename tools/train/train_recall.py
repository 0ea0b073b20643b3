#!/usr/bin/python3
"""Trains models/recall.gguf: a tiny llama (MQA) on synthetic associative recall,
the task used by the attention-steering demo.

Task (text form; tokenised with tokenizer.ggml.add_space_prefix = true):
    "a=3 q=Z c=1 a=7 ? a="  ->  "7" then </s>
    tokens: <s> ▁a=3 ▁q=Z ▁c=1 ▁a=7 ▁? ▁a=  ->  7 </s>
Keys are lower-case letters, values are digits or upper-case letters; each binding
"k=v" is one token. A key may be bound more than once; the LAST binding wins. So the
answer depends on which span the model attends to, and emphasising an earlier
binding (PASTA steering) moves the answer to that binding's value. Bindings of other
keys are distractors (some of them bound twice as well).

Run (see README.md):  nice -n 10 /usr/bin/python3 tools/train/train_recall.py
"""

import argparse
import json
import math
import os
import string
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import MODELS_DIR, Timer, log, lr_at, make_optimizer, seed_everything  # noqa: E402
from llama_model import (TOKEN_BYTE, TOKEN_CONTROL, TOKEN_NORMAL, TOKEN_UNKNOWN,  # noqa: E402
                         Config, Llama, config_dict, export_gguf, write_reference)
from llama_spm import SPACE, LlamaSPM  # noqa: E402

KEYS = string.ascii_lowercase
VALUES = string.digits + string.ascii_uppercase


def build_vocab():
    """<unk>, <s>, </s>, the 256 byte tokens, then the task's pieces: single characters
    (score -1), "▁k" and "▁?" , "▁k=" and one token per binding "▁k=v" (score 0). The
    llama merge loop builds a binding token through "▁"+"k" -> "▁k", "▁k"+"=" -> "▁k=",
    "▁k="+"v" -> "▁k=v", each step a vocabulary token, so "a=3 b=7 ? b=" tokenises to
    [▁a=3, ▁b=7, ▁?, ▁b=]: every binding is exactly one token (one attention key), which
    makes "which binding is attended" the whole task."""
    tokens, scores, types = ["<unk>", "<s>", "</s>"], [0.0, 0.0, 0.0], \
        [TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_CONTROL]
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        scores.append(0.0)
        types.append(TOKEN_BYTE)

    def add(t, score):
        tokens.append(t)
        scores.append(score)
        types.append(TOKEN_NORMAL)

    for ch in [SPACE, "=", "?"] + list(KEYS) + list(VALUES):
        add(ch, -1.0)
    for ch in list(KEYS) + ["?"]:
        add(SPACE + ch, 0.0)
    for k in KEYS:
        add(SPACE + k + "=", 0.0)
    for k in KEYS:
        for v in VALUES:
            add(SPACE + k + "=" + v, 0.0)
    return dict(tokens=tokens, scores=scores, types=types, bos=1, eos=2, unk=0,
                add_space_prefix=True)


class Task:
    def __init__(self, vocab, min_pairs=2, max_pairs=10, p_conflict=0.5, p_distractor=0.3,
                 p_triple=0.1):
        self.v = vocab
        idx = {t: i for i, t in enumerate(vocab["tokens"])}
        self.keyeq_tok = [idx[SPACE + k + "="] for k in KEYS]
        self.pair_tok = [[idx[SPACE + k + "=" + v] for v in VALUES] for k in KEYS]
        self.val_tok = [idx[v] for v in VALUES]
        self.q = idx[SPACE + "?"]
        self.min_pairs, self.max_pairs = min_pairs, max_pairs
        self.p_conflict, self.p_distractor, self.p_triple = p_conflict, p_distractor, p_triple

    def sample(self, rng, force_conflict=None):
        """Returns (text, prompt ids incl. BOS, answer id, info). Bindings are (key, value)
        index pairs; info records the query key's binding positions for steering tests."""
        n = rng.randint(self.min_pairs, self.max_pairs + 1)
        keys = list(rng.choice(len(KEYS), size=n, replace=False))
        binds = [(k, rng.randint(len(VALUES))) for k in keys]
        qk = keys[rng.randint(n)]
        conflict = (rng.rand() < self.p_conflict) if force_conflict is None else force_conflict
        if conflict:
            n_extra = 2 if rng.rand() < self.p_triple else 1
            for _ in range(n_extra):
                used = {v for k, v in binds if k == qk}
                v = rng.choice([x for x in range(len(VALUES)) if x not in used])
                # insert after the existing bindings of qk so the new one is the latest
                last = max(i for i, (k, _) in enumerate(binds) if k == qk)
                binds.insert(rng.randint(last + 1, len(binds) + 1), (qk, v))
        if rng.rand() < self.p_distractor and n > 1:
            dk = keys[rng.randint(n)]
            if dk != qk:
                last = max(i for i, (k, _) in enumerate(binds) if k == dk)
                binds.insert(rng.randint(last + 1, len(binds) + 1), (dk, rng.randint(len(VALUES))))
        ids = [self.v["bos"]]
        spans = []
        for k, v in binds:
            if k == qk:
                spans.append((len(ids), len(ids) + 1, VALUES[v]))
            ids.append(self.pair_tok[k][v])
        ids += [self.q, self.keyeq_tok[qk]]
        answer = [v for k, v in binds if k == qk][-1]
        text = " ".join(f"{KEYS[k]}={VALUES[v]}" for k, v in binds) + f" ? {KEYS[qk]}="
        latest = {}
        for k, v in binds:
            latest[k] = self.val_tok[v]
        return text, ids, self.val_tok[answer], dict(query_spans=spans, conflict=len(spans) > 1,
                                                     latest=latest)

    def batch(self, rng, B, max_queries):
        """Training batch. After the first query's answer, up to max_queries-1 further
        queries of random bound keys follow ("? c=1 ? a=7"), each supervised: dense
        supervision speeds learning, and a repeated "k=v" restates the latest binding,
        so the last-binding-wins rule is unchanged. Evaluation uses one query."""
        seqs = []
        for _ in range(B):
            _, ids, ans, info = self.sample(rng)
            ids = ids + [ans]
            targets = [(len(ids) - 2, ans)]
            latest = dict(info["latest"])
            for _ in range(rng.randint(0, max_queries)):
                k = list(latest)[rng.randint(len(latest))]
                ids += [self.q, self.keyeq_tok[k], latest[k]]
                targets.append((len(ids) - 2, latest[k]))
            targets.append((len(ids) - 1, self.v["eos"]))
            seqs.append((ids, targets))
        T = max(len(ids) for ids, _ in seqs)
        x = torch.full((B, T), self.v["eos"], dtype=torch.long)
        y = torch.full((B, T), -100, dtype=torch.long)
        for i, (ids, targets) in enumerate(seqs):
            x[i, :len(ids)] = torch.tensor(ids)
            for pos, tgt in targets:
                y[i, pos] = tgt
        return x, y


@torch.no_grad()
def answers(model, exs, bias_fn=None):
    """Greedy answer id per example (one forward pass each; prompts differ in length)."""
    out = []
    for _, ids, _, info in exs:
        bias = bias_fn(len(ids), info) if bias_fn else None
        out.append(int(model(torch.tensor([ids]), bias)[0, -1].argmax()))
    return out


def steering_bias(model, layers, span, T, alpha):
    """PASTA (Zhang et al. 2023) as an additive score bias: log(alpha) on every key
    outside the emphasised span, on all heads of the selected layers."""
    b = torch.full((1, model.c.n_heads, T, T), math.log(alpha))
    b[..., span[0]:span[1]] = 0.0
    return {l: b for l in layers}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(MODELS_DIR, "recall.gguf"))
    ap.add_argument("--work", default="/tmp/recall_train")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=1)
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--ctx", type=int, default=64)  # 10 pairs + 3 extra + 4 queries: <= 27
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-pairs", type=int, default=10)
    ap.add_argument("--max-queries", type=int, default=4,
                    help="training sequences carry 1..max-queries supervised queries")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--eval-seed", type=int, default=99991)
    ap.add_argument("--n-eval", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    seed_everything(args.seed, args.threads)
    os.makedirs(args.work, exist_ok=True)
    vocab = build_vocab()
    tok = LlamaSPM(vocab["tokens"], vocab["scores"], vocab["types"], vocab["unk"], True)
    task = Task(vocab, max_pairs=args.max_pairs)
    rng = np.random.RandomState(args.seed)
    # the generator's ids must be what the llama tokenizer makes of the text
    for _ in range(200):
        text, ids, _, _ = task.sample(rng)
        if [vocab["bos"]] + tok.encode(text) != ids:
            raise SystemExit(f"tokenizer mismatch on {text!r}")
    eval_rng = np.random.RandomState(args.eval_seed)
    held = [task.sample(eval_rng) for _ in range(args.n_eval)]
    held_conf = [task.sample(eval_rng, force_conflict=True) for _ in range(args.n_eval // 2)]

    c = Config(vocab_size=len(vocab["tokens"]), dim=args.dim, n_layers=args.layers,
               n_heads=args.heads, n_kv_heads=args.kv_heads, hidden_dim=args.hidden,
               context_length=args.ctx, tied=False)
    model = Llama(c)
    opt = make_optimizer(model, args.lr, args.wd)
    log(f"vocab {c.vocab_size} tokens; model {config_dict(c)}: {model.n_params()} params, "
        f"separate output head (output.weight)")

    def accuracy(exs):
        model.eval()
        got = answers(model, exs)
        model.train()
        return float(np.mean([g == a for g, (_, _, a, _) in zip(got, exs)]))

    timer = Timer()
    for step in range(args.steps):
        # curriculum: few pairs first (strong signal for the key-matching circuit),
        # growing to the full range over the first half of training
        task.max_pairs = min(args.max_pairs,
                             2 + int((args.max_pairs - 2) * step / (0.5 * args.steps)))
        x, y = task.batch(rng, args.batch, args.max_queries)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        loss = F.cross_entropy(model(x).reshape(-1, c.vocab_size), y.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0:
            log(f"step {step}/{args.steps} loss {loss.item():.4f} "
                f"{timer.elapsed():.0f}s wall {timer.cpu():.0f}s cpu")
        if (step + 1) % 500 == 0:
            log(f"  held-out accuracy (first 300) {accuracy(held[:300]):.3f}")
    train_time, train_cpu = timer.elapsed(), timer.cpu()
    log(f"training time {train_time:.0f}s wall ({train_time / 60:.1f} min), "
        f"{train_cpu:.0f}s cpu ({train_cpu / 60:.1f} min)")

    model.eval()
    acc = accuracy(held)
    acc_conf = accuracy(held_conf)
    acc_plain = accuracy([e for e in held if not e[3]["conflict"]])
    log(f"held-out accuracy {acc:.4f} ({len(held)} prompts, ~50% conflicting); "
        f"conflict-only {acc_conf:.4f} ({len(held_conf)}); no-conflict {acc_plain:.4f}")

    # Steering study: emphasise the FIRST binding of the queried key; count how often
    # the answer moves to that binding's value (it is a different value by construction).
    idx = {t: i for i, t in enumerate(vocab["tokens"])}
    steer = {}
    study = held_conf[:300]
    for name, layers in [(f"layer{l}", [l]) for l in range(c.n_layers)] + \
                        [("all", list(range(c.n_layers)))]:
        got = answers(model, study, lambda T, info, L=layers: steering_bias(
            model, L, info["query_spans"][0][:2], T, 0.01))
        first = [idx[e[3]["query_spans"][0][2]] for e in study]
        steer[name] = float(np.mean([g == f for g, f in zip(got, first)]))
    log("steering (alpha 0.01, all heads, emphasise first binding): fraction answering the "
        "first binding's value: " + ", ".join(f"{k} {v:.3f}" for k, v in steer.items()))

    size = export_gguf(model, args.out, "recall", vocab)
    log(f"wrote {args.out} ({size} bytes)")
    torch.save(model.state_dict(), os.path.join(args.work, "recall.pt"))

    prompt = "a=3 k=Q c=1 a=7 x=5 ? a="
    ids = [vocab["bos"]] + tok.encode(prompt)
    prefix = os.path.splitext(args.out)[0]
    ref = write_reference(args.out, prefix, prompt, ids, 32, tok.decode, stop_at_eos=True)
    log(f"reference {prompt!r}: greedy {ref['greedy_text']!r} ids {ref['greedy_ids']}")
    # the same prompt steered towards "a=3" (tokens 1..3), for the demo's documentation
    m_bias = steering_bias(model, list(range(c.n_layers)), (1, 2), len(ids), 0.01)
    with torch.no_grad():
        steered = int(model(torch.tensor([ids]), m_bias)[0, -1].argmax())
    log(f"steered (all layers, span 'a=3'): answer {vocab['tokens'][steered]!r}")
    with open(os.path.join(args.work, "recall_report.json"), "w") as f:
        json.dump(dict(args=vars(args), config=config_dict(c), params=model.n_params(),
                       train_seconds_wall=round(train_time, 1),
                       train_seconds_cpu=round(train_cpu, 1), accuracy=acc,
                       accuracy_conflict=acc_conf, accuracy_no_conflict=acc_plain,
                       steering_first_binding=steer, ref_prompt=prompt,
                       ref_answer=ref["greedy_text"],
                       steered_answer=vocab["tokens"][steered], file_bytes=size), f, indent=1)


if __name__ == "__main__":
    main()
