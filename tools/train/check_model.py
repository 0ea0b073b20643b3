#!/usr/bin/python3
"""Checks a bundled model against its reference files without any training:
reads models/<name>.gguf with the stand-alone reader, recomputes the prompt logits
with the float64 numpy forward pass, compares them with <name>.ref.bin, re-runs the
greedy continuation, and re-tokenises the prompt text with the llama.cpp-style
tokenizer.

    /usr/bin/python3 tools/train/check_model.py models/shakespeare.gguf models/recall.gguf
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_writer import read_gguf  # noqa: E402
from llama_model import numpy_forward  # noqa: E402
from llama_spm import LlamaSPM  # noqa: E402


def check(path):
    meta, t = read_gguf(path)
    prefix = os.path.splitext(path)[0]
    with open(prefix + ".ref.json") as f:
        ref = json.load(f)
    V = meta["llama.vocab_size"]
    ids = ref["prompt_ids"]
    want = np.fromfile(prefix + ".ref.bin", dtype="<f4").reshape(len(ids), V)
    got = numpy_forward(meta, t, ids)
    err = float(np.abs(got - want).max())
    tok = LlamaSPM(meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.scores"],
                   meta["tokenizer.ggml.token_type"], meta["tokenizer.ggml.unknown_token_id"],
                   meta["tokenizer.ggml.add_space_prefix"])
    tok_ok = [meta["tokenizer.ggml.bos_token_id"]] + tok.encode(ref["prompt_text"]) == ids
    seq = list(ids)
    eos = meta["tokenizer.ggml.eos_token_id"]
    for _ in ref["greedy_ids"]:
        seq.append(int(numpy_forward(meta, t, seq)[-1].argmax()))
        if "stopping after </s>" in ref["greedy_note"] and seq[-1] == eos:
            break
    gen_ok = seq[len(ids):] == ref["greedy_ids"]
    ok = err < 1e-4 * max(1.0, float(np.abs(want).max())) and tok_ok and gen_ok
    print(f"{path}: logits max|diff| {err:.2e}, tokenizer {'ok' if tok_ok else 'MISMATCH'}, "
          f"greedy {'ok' if gen_ok else 'MISMATCH'} -> {'PASS' if ok else 'FAIL'}")
    return ok


if __name__ == "__main__":
    paths = sys.argv[1:] or [os.path.join(os.path.dirname(__file__), "..", "..", "models", n)
                             for n in ("shakespeare.gguf", "recall.gguf")]
    sys.exit(0 if all([check(p) for p in paths]) else 1)
