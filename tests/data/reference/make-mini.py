#!/usr/bin/env python3
"""Writes mini.fa and mini.fa.fai (deterministic: seeded filler around hand-placed repeats).

Run from this directory, then:  bgzip -c mini.fa > mini.fa.gz && bgzip -r mini.fa.gz
                                 cp mini.fa.fai mini.fa.gz.fai
"""
import random
rng = random.Random(20240607)
def filler(n, avoid_runs=True):
    out = []
    while len(out) < n:
        b = rng.choice("ACGT")
        # avoid homopolymers of 3+ and dinucleotide repeats of 2+ units in filler
        if len(out) >= 2 and out[-1] == b and out[-2] == b: continue
        if len(out) >= 3 and out[-1] == out[-3] and b == out[-2]: continue
        out.append(b)
    return "".join(out)

def build(parts, length):
    seq = "".join(parts)
    assert len(seq) == length, (len(seq), length)
    return seq

# chr1: 310 bases
chr1 = (
    filler(39)            # 0..38
    + "G" + "CACACACA" + "T"   # 39 G, 40..47 CA x4, 48 T
    + filler(50)          # 49..98
    + "G" + "AAAAA" + "T"      # 99 G, 100..104 A x5, 105 T
    + filler(43)          # 106..148
    + "C"                 # 149 SNV site
    + filler(49)          # 150..198
    + "A" + "TG" * 12 + "C"    # 199 A, 200..223 TG x12, 224 C
    + filler(25)          # 225..249
    + "acgtacgtac"        # 250..259 soft-masked
    + filler(50)          # 260..309
)
assert len(chr1) == 310, len(chr1)
chrX = (
    "CACACA" + "G"        # 0..5 CA x3, 6 G
    + filler(53)          # 7..59
    + "T" + "GGGG" + "A"  # 60 T, 61..64 G x4, 65 A
    + filler(134)         # 66..199
)
assert len(chrX) == 200, len(chrX)
chrUn = filler(30)
seqs = [("chr1", "chromosome 1 test fragment", chr1), ("chrX", "", chrX), ("chrUn_KI270302v1", "unplaced, not a primary chromosome", chrUn)]
W = 60
with open("mini.fa", "w") as fa, open("mini.fa.fai", "w") as fai:
    off = 0
    for name, desc, s in seqs:
        header = ">" + name + (" " + desc if desc else "") + "\n"
        fa.write(header); off += len(header)
        # Like samtools: a one-line sequence has line length = its own length.
        lb = min(W, len(s))
        fai.write(f"{name}\t{len(s)}\t{off}\t{lb}\t{lb+1}\n")
        for i in range(0, len(s), W):
            line = s[i:i+W] + "\n"
            fa.write(line); off += len(line)
