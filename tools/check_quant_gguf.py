#!/usr/bin/env python3
"""Checks ggml-quantize against gguf-py, the GGUF reference implementation in Python.

1. Writes an f32 model-like GGUF with gguf-py (random rows plus rows built to hit exact
   rounding ties), runs `ggml-quantize IN OUT q8_0|q4_0`, reads OUT back with gguf-py and
   requires every quantized tensor's bytes to equal gguf.quants.quantize() of the same data
   (ggml's reference quantizers, bit for bit), 1-D tensors unchanged, file_type set.
2. Writes a q8_0/q4_0 GGUF with gguf-py and requires ggml-quantize to copy its (already
   quantized) tensors byte for byte, so GGUF files from the reference parse here.

usage: check_quant_gguf.py PATH/TO/ggml-quantize     (exit 77 = skipped: no gguf module)
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import gguf
    from gguf import quants
except ImportError as e:  # pragma: no cover
    print(f"skipped: {e} (pip install gguf numpy)")
    sys.exit(77)


def f32_tensors(rng):
    t = {}
    t["token_embd.weight"] = rng.uniform(-1, 1, (48, 64)).astype(np.float32)
    t["blk.0.attn_q.weight"] = (rng.standard_normal((40, 96)) * 0.02).astype(np.float32)
    # Ties: multiples of amax/127 and of d/2 around the q4_0 grid, and a zero block.
    ties = np.zeros((8, 64), np.float32)
    for r in range(8):
        ties[r, :32] = np.arange(-16, 16, dtype=np.float32) * 0.5 * (r + 1)
        ties[r, 32:] = (np.arange(32, dtype=np.float32) - 15.5) / 7.75 * (r + 1)
    ties[3, :32] = 0.0
    t["blk.0.ffn_gate.weight"] = ties
    t["blk.0.attn_norm.weight"] = rng.uniform(0.5, 1.5, 64).astype(np.float32)
    t["blk.0.ffn_down.weight"] = rng.uniform(-1, 1, (4, 40)).astype(np.float32)  # K=40: kept
    return t


def write(path, tensors, raw_dtype=None):
    w = gguf.GGUFWriter(path, "llama")
    w.add_uint32("test.marker", 1234)
    for name, a in tensors.items():
        if raw_dtype is None or a.ndim != 2 or a.shape[1] % 32:
            w.add_tensor(name, a)
        else:
            q = quants.quantize(a, raw_dtype)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=raw_dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def tensor_bytes(reader):
    return {t.name: (int(t.tensor_type), bytes(np.asarray(t.data).tobytes())) for t in reader.tensors}


def main():
    exe = sys.argv[1]
    rng = np.random.default_rng(7)
    src = f32_tensors(rng)
    failures = 0
    with tempfile.TemporaryDirectory() as d:
        fin = os.path.join(d, "in.gguf")
        write(fin, src)
        for kind, qt, ftype in (("q8_0", gguf.GGMLQuantizationType.Q8_0, 7),
                                ("q4_0", gguf.GGMLQuantizationType.Q4_0, 2)):
            fout = os.path.join(d, f"out-{kind}.gguf")
            subprocess.run([exe, fin, fout, kind], check=True)
            r = gguf.GGUFReader(fout)
            got = tensor_bytes(r)
            ft = r.fields["general.file_type"]
            if int(ft.parts[ft.data[0]][0]) != ftype:
                print(f"FAIL {kind}: general.file_type is not {ftype}")
                failures += 1
            if "test.marker" not in r.fields:
                print(f"FAIL {kind}: metadata key test.marker was not copied")
                failures += 1
            for name, a in src.items():
                typ, data = got[name]
                quantized = a.ndim == 2 and a.shape[1] % 32 == 0
                want_t = int(qt) if quantized else int(gguf.GGMLQuantizationType.F32)
                want = quants.quantize(a, qt).tobytes() if quantized else a.tobytes()
                if typ != want_t or data != want:
                    nbad = sum(x != y for x, y in zip(data, want))
                    print(f"FAIL {kind} {name}: type {typ} (want {want_t}), "
                          f"{nbad} of {len(want)} bytes differ")
                    failures += 1
                else:
                    print(f"ok   {kind} {name}: {len(data)} bytes identical to gguf-py")
            # A file quantized by gguf-py passes through unchanged.
            fq = os.path.join(d, f"ref-{kind}.gguf")
            write(fq, src, qt)
            fcopy = os.path.join(d, f"copy-{kind}.gguf")
            subprocess.run([exe, fq, fcopy, kind], check=True)
            a_b, b_b = tensor_bytes(gguf.GGUFReader(fq)), tensor_bytes(gguf.GGUFReader(fcopy))
            if a_b != b_b:
                print(f"FAIL {kind}: tensors of a gguf-py {kind} file changed on the way through")
                failures += 1
            else:
                print(f"ok   {kind}: gguf-py's {kind} file read and copied byte for byte")
    print("FAILED" if failures else "all identical")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
