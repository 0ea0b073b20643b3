#!/usr/bin/env python3
"""Plot `ggml-bench attn --sweep --csv` output: time vs sequence length, flash vs naive, per dtype.

usage: ggml-bench attn --sweep --csv > sweep.csv
       /usr/bin/python3 tools/plot_bench.py sweep.csv [-o sweep.png]

Lines starting with '#' (the measured machine limits) are skipped. Needs matplotlib; on
Debian/Ubuntu: sudo apt-get install python3-matplotlib
"""
import argparse
import csv
import sys
from collections import defaultdict


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", help="CSV written by ggml-bench --csv ('-' for stdin)")
    ap.add_argument("-o", "--output", default="bench.png", help="PNG to write (default bench.png)")
    args = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.stderr.write("matplotlib is missing; install it with:\n"
                         "  sudo apt-get install python3-matplotlib\n"
                         "and run this script with /usr/bin/python3\n")
        return 2

    f = sys.stdin if args.csv == "-" else open(args.csv, newline="")
    rows = [line for line in f if line.strip() and not line.startswith("#")]
    series = defaultdict(list)  # (dtype, path) -> [(seq, ms)]
    threads = set()
    for r in csv.DictReader(rows):
        series[(r["dtype"], r["path"])].append((int(r["seq"]), float(r["ms"])))
        threads.add(r["threads"])
    if not series:
        sys.stderr.write("no data rows in %s\n" % args.csv)
        return 1

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (dtype, path), pts in sorted(series.items()):
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                linestyle="-" if path.startswith("flash") else "--", label="%s %s" % (path, dtype))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length (n_q = n_kv, causal)")
    ax.set_ylabel("median time (ms)")
    ax.set_title("attention on CPU, %s thread(s)" % ",".join(sorted(threads)))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print("wrote %s" % args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
