"""A fast PNG writer for SynthHMR's image files. cv2's PNG encoder (zlib) costs more than rendering the image;
SynthHMR's pixels carry sensor-like noise, so LZ string matching finds little to gain anyway. This writer filters
every row with PNG's 'Average' filter and entropy-codes the bytes with one dynamic Huffman block (no matches):
~0.7 ms for 256² RGB, ~15 % larger files than zlib level 1, lossless, and byte-identical on every machine (no zlib
or libpng version in the loop). Any PNG reader decodes it.

    data = encode_png(image)        # image (H, W, 3) RGB or (H, W) grey uint8 -> the bytes of a .png file
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from numba import njit

from hmr_bench.errors import InputError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CL_ORDER = np.array([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15], np.int64)


@njit(cache=True)
def _avg_filter(pixels, bpp, out):
    """PNG 'Average' filter (type 3) of every row: pixels (H, R) uint8 rows of R = W·bpp bytes ->
    out (H·(R + 1),) uint8, each row prefixed by its filter type. Returns the symbol counts (257,) int64 of out
    (byte values, then one end-of-block)."""
    h, r = pixels.shape
    zero = np.zeros(r, np.uint8)
    for i in range(h):
        cur, up = pixels[i], (pixels[i - 1] if i > 0 else zero)
        out[i * (r + 1)] = 3
        dst = out[i * (r + 1) + 1:(i + 1) * (r + 1)]
        for j in range(min(bpp, r)):
            dst[j] = cur[j] - (up[j] >> 1)
        cur, left, up, dst = cur[bpp:], cur[:r - bpp], up[bpp:], dst[bpp:]
        for j in range(r - bpp):  # floor((a + b) / 2) in 8 bits, so that the loop vectorises
            a, b = left[j], up[j]
            dst[j] = cur[j] - ((a & b) + ((a ^ b) >> 1))
    hist = np.zeros((4, 256), np.int64)  # four histograms: fewer stalls on runs of one value
    n4 = len(out) // 4
    for i in range(n4):
        hist[0, out[4 * i]] += 1
        hist[1, out[4 * i + 1]] += 1
        hist[2, out[4 * i + 2]] += 1
        hist[3, out[4 * i + 3]] += 1
    for i in range(4 * n4, len(out)):
        hist[0, out[i]] += 1
    counts = np.ones(257, np.int64)
    counts[:256] = hist.sum(0)
    return counts


@njit(cache=True)
def _huffman_lengths(counts, limit):
    """Code lengths (n,) int64 of a Huffman code for counts (n,) (0 for unused symbols), no length above
    `limit`: counts are halved (keeping them >= 1) until the tree fits. Needs >= 2 used symbols. Ties are
    broken by symbol index, so the result depends on the counts only."""
    n = len(counts)
    freq = counts.copy()
    while True:
        used = np.flatnonzero(freq > 0)
        m = len(used)
        order = used[np.argsort(freq[used] * n + used)]  # ascending, unique keys
        weight = np.zeros(2 * m, np.int64)
        parent = np.full(2 * m, -1, np.int64)
        for i in range(m):
            weight[i] = freq[order[i]]
        leaf, node, new = 0, m, m  # next leaf, next internal node to take, next internal node to make
        for _ in range(m - 1):
            for _ in range(2):  # the lighter of the next leaf and the next internal node (the leaf on a tie)
                if leaf < m and (node >= new or weight[leaf] <= weight[node]):
                    take = leaf
                    leaf += 1
                else:
                    take = node
                    node += 1
                weight[new] += weight[take]
                parent[take] = new
            new += 1
        depth = np.zeros(2 * m, np.int64)
        for i in range(new - 2, -1, -1):  # parents are made after their children
            depth[i] = depth[parent[i]] + 1
        lengths = np.zeros(n, np.int64)
        for i in range(m):
            lengths[order[i]] = depth[i]
        if lengths.max() <= limit:
            return lengths
        for s in used:
            freq[s] = max(freq[s] >> 1, 1)


@njit(cache=True)
def _canonical_codes(lengths):
    """Canonical Huffman codes (RFC 1951 §3.2.2) of lengths (n,), bit-reversed for LSB-first output."""
    n = len(lengths)
    count = np.zeros(16, np.int64)
    for s in range(n):
        count[lengths[s]] += 1
    count[0] = 0
    next_code = np.zeros(16, np.int64)
    code = 0
    for b in range(1, 16):
        code = (code + count[b - 1]) << 1
        next_code[b] = code
    codes = np.zeros(n, np.int64)
    for s in range(n):
        ln = lengths[s]
        if ln:
            c = next_code[ln]
            next_code[ln] += 1
            rev = 0
            for _ in range(ln):
                rev = (rev << 1) | (c & 1)
                c >>= 1
            codes[s] = rev
    return codes


@njit(cache=True)
def _put(buf, pos, acc, nbits, value, width):
    """Appends `width` bits of value (LSB first) to the bit accumulator; flushes whole bytes to buf."""
    acc |= value << nbits
    nbits += width
    while nbits >= 8:
        buf[pos] = acc & 255
        pos += 1
        acc >>= 8
        nbits -= 8
    return pos, acc, nbits


@njit(cache=True)
def _deflate_literals(data, counts, cl_order):
    """A zlib stream (RFC 1950/1951) of data (N,) uint8 as one dynamic-Huffman block of literals only (no
    string matches). counts: (257,) symbol counts of data plus end-of-block. Returns uint8 (M,)."""
    lit_len = _huffman_lengths(counts, 15)
    lit_code = _canonical_codes(lit_len)
    lengths = np.zeros(259, np.int64)  # 257 literal/length code lengths, then 2 distance code lengths (1, 1)
    lengths[:257] = lit_len
    lengths[257] = lengths[258] = 1
    cl_counts = np.zeros(19, np.int64)
    for x in lengths:
        cl_counts[x] += 1
    if (cl_counts > 0).sum() < 2:  # a code needs two symbols to be complete
        cl_counts[0 if cl_counts[0] == 0 else 1] = 1
    cl_len = _huffman_lengths(cl_counts, 7)
    cl_code = _canonical_codes(cl_len)
    hclen = 19
    while hclen > 4 and cl_len[cl_order[hclen - 1]] == 0:
        hclen -= 1

    buf = np.empty(len(data) * 2 + 1024, np.uint8)
    buf[0], buf[1] = 0x78, 0x01  # zlib header: deflate, 32 KiB window, fastest, no dictionary
    pos, acc, nbits = 2, np.int64(0), 0
    pos, acc, nbits = _put(buf, pos, acc, nbits, 1 | (2 << 1), 3)  # BFINAL = 1, BTYPE = 2 (dynamic Huffman)
    pos, acc, nbits = _put(buf, pos, acc, nbits, 257 - 257, 5)  # HLIT
    pos, acc, nbits = _put(buf, pos, acc, nbits, 2 - 1, 5)  # HDIST
    pos, acc, nbits = _put(buf, pos, acc, nbits, hclen - 4, 4)
    for i in range(hclen):
        pos, acc, nbits = _put(buf, pos, acc, nbits, cl_len[cl_order[i]], 3)
    for x in lengths:
        pos, acc, nbits = _put(buf, pos, acc, nbits, cl_code[x], cl_len[x])
    table = np.empty(256, np.int64)  # code | length << 32
    for s in range(256):
        table[s] = lit_code[s] | (lit_len[s] << 32)
    for i in range(len(data) // 2):  # hot loop, two symbols at a time: nbits < 32 on entry, codes <= 15 bits
        t0, t1 = table[data[2 * i]], table[data[2 * i + 1]]
        acc |= ((t0 & 0xFFFFFFFF) | ((t1 & 0xFFFFFFFF) << (t0 >> 32))) << nbits
        nbits += (t0 >> 32) + (t1 >> 32)
        if nbits >= 32:
            buf[pos] = acc & 255
            buf[pos + 1] = (acc >> 8) & 255
            buf[pos + 2] = (acc >> 16) & 255
            buf[pos + 3] = (acc >> 24) & 255
            pos += 4
            acc >>= 32
            nbits -= 32
    if len(data) % 2:
        pos, acc, nbits = _put(buf, pos, acc, nbits, lit_code[data[-1]], lit_len[data[-1]])
    pos, acc, nbits = _put(buf, pos, acc, nbits, lit_code[256], lit_len[256])
    if nbits:
        pos, acc, nbits = _put(buf, pos, acc, nbits, 0, 8 - nbits)
    s1, s2 = 1, 0  # Adler-32 of the uncompressed data, big-endian; blocks written as sums that vectorise
    for start in range(0, len(data), 1 << 16):
        block = data[start:start + (1 << 16)]
        total = weighted = 0
        for j in range(len(block)):
            total += block[j]
            weighted += (len(block) - j) * np.int64(block[j])
        s2 = (s2 + len(block) * s1 + weighted) % 65521
        s1 = (s1 + total) % 65521
    adler = (s2 << 16) | s1
    for shift in (24, 16, 8, 0):
        buf[pos] = (adler >> shift) & 255
        pos += 1
    return buf[:pos]


def _chunk(kind: bytes, payload) -> list:
    """A PNG chunk as a list of buffers: length, type, payload (bytes or an uint8 array), CRC-32."""
    return [struct.pack(">I", len(payload)), kind, payload, struct.pack(">I", zlib.crc32(payload, zlib.crc32(kind)))]


def encode_png(image: np.ndarray) -> bytes:
    """A PNG file of image (H, W, 3) RGB or (H, W) grey uint8: 8-bit, 'Average' filter on every row, one
    literal-only dynamic-Huffman deflate block. Fast (no string matching), lossless, and the same bytes on
    every machine (no dependence on the zlib or libpng version)."""
    img = np.ascontiguousarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3) or 0 in img.shape:
        raise InputError("encode_png", "image", found=f"shape {img.shape}, dtype {img.dtype}",
                         expected="(H, W, 3) or (H, W) uint8, H, W >= 1")
    h, w = img.shape[:2]
    bpp = 1 if img.ndim == 2 else 3
    filtered = np.empty(h * (w * bpp + 1), np.uint8)
    counts = _avg_filter(img.reshape(h, w * bpp), bpp, filtered)
    idat = _deflate_literals(filtered, counts, _CL_ORDER)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0 if bpp == 1 else 2, 0, 0, 0)
    return b"".join([_PNG_SIGNATURE, *_chunk(b"IHDR", ihdr), *_chunk(b"IDAT", idat), *_chunk(b"IEND", b"")])
