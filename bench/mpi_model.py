#!/usr/bin/env python3
"""mpi_model.py — the communication volume of data-parallel `ferc train` per
step and a model of its scaling to 8, 32 and 128 nodes (issue 17,
docs/distributed.md).

For each shipped architecture it reads the parameter count from `ferc train`
(one step on a 14-face synthetic CSV) and measures one node's training speed
with `ferc bench --threads 2` on this machine. Then, per step of b faces per
node (weak scaling: global batch = nodes x b):
  compute  = b / (images/s of one node)
  ring all-reduce of the float32 gradients (what MPI_Allreduce does for large
  messages): 2 (N-1)/N x P x 4 bytes through each node's link, in
  2 (N-1) messages of latency ALPHA, without overlap with the backward pass
  (ferc does not overlap yet):
  comm     = 2 (N-1)/N x 4P / bandwidth + 2 (N-1) x ALPHA
  speed-up = N x compute / (compute + comm)
and the node speed b / comm at which the all-reduce takes as long as the
compute (beyond it, efficiency is under 50%).
usage: python3 bench/mpi_model.py [FERC]
"""
import os
import re
import subprocess
import sys
import tempfile

FERC = sys.argv[1] if len(sys.argv) > 1 else "build/ferc"
ARCHS = [("seed", 64, 2048), ("seed2", 32, 512), ("vgg", 32, 64)]   # name, batch per node, images timed
NETS = [("10 Gb/s Ethernet", 10e9, 20e-6), ("100 Gb/s (InfiniBand/RoCE)", 100e9, 2e-6)]   # bits/s, ALPHA (s)
NODES = [2, 8, 32, 128]


def params(arch, tmp):
    csv = os.path.join(tmp, "tiny.csv")
    with open(csv, "w") as f:
        f.write("emotion,pixels,Usage\n")
        for i in range(14):
            f.write("%d,%s,Training\n" % (i % 7, " ".join(str((i * 7 + k) % 256) for k in range(48 * 48))))
    r = subprocess.run([FERC, "train", "--data", csv, "--arch", arch, "--epochs", "1", "--batch", "14",
                        "--val-fraction", "0", "--threads", "1", "--force", "--out", os.path.join(tmp, "m.ferc")],
                       capture_output=True, text=True)
    m = re.search(r"(\d+) parameters", r.stderr)
    if not m:
        sys.exit("mpi_model.py: no parameter count from ferc train:\n" + r.stderr)
    return int(m.group(1))


def speed(arch, batch, images):
    r = subprocess.run([FERC, "bench", "--arch", arch, "--threads", "2", "--batch", str(batch), "--images",
                        str(images)], capture_output=True, text=True)
    m = re.search(r"([\d.]+) images/s", r.stdout + r.stderr)
    if not m:
        sys.exit("mpi_model.py: no speed from ferc bench:\n" + r.stdout + r.stderr)
    return float(m.group(1))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        rows = [(a, b, params(a, tmp), speed(a, b, n)) for a, b, n in ARCHS]
    print("| net | parameters | gradient (MB) | sent (and received) per node per step, N=2 / N->inf (MB) "
          "| one node here (img/s, 2 threads) | compute per step (ms) |")
    print("|---|---|---|---|---|---|")
    for a, b, p, ips in rows:
        mb = 4 * p / 1e6
        print("| %s | %d | %.2f | %.2f / %.2f | %.0f | %.1f (b = %d) |" % (a, p, mb, mb, 2 * mb, ips, 1e3 * b / ips, b))
    for name, bw, alpha in NETS:
        print("\n%s (latency %g us per message):\n" % (name, alpha * 1e6))
        print("| net | " + " | ".join("N=%d comm ms / speed-up" % n for n in NODES) + " |")
        print("|---|" + "---|" * len(NODES))
        for a, b, p, ips in rows:
            comp = b / ips
            cells = []
            for n in NODES:
                comm = 2 * (n - 1) / n * 4 * p * 8 / bw + 2 * (n - 1) * alpha
                cells.append("%.2f / %.1fx" % (1e3 * comm, n * comp / (comp + comm)))
            print("| %s | %s |" % (a, " | ".join(cells)))
        print("\nBreak-even node speed (img/s) at which the all-reduce takes as long as the compute (50% "
              "efficiency; a faster node gains less from more nodes):\n")
        print("| net | " + " | ".join("N=%d" % n for n in NODES) + " |")
        print("|---|" + "---|" * len(NODES))
        for a, b, p, ips in rows:
            cells = []
            for n in NODES:
                comm = 2 * (n - 1) / n * 4 * p * 8 / bw + 2 * (n - 1) * alpha
                cells.append("%.0f" % (b / comm))
            print("| %s (b = %d) | %s |" % (a, b, " | ".join(cells)))


if __name__ == "__main__":
    main()
