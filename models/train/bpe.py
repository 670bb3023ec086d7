"""A byte-level BPE tokenizer, trained here and written as a Hugging Face `tokenizer.json`.

Pre-tokenisation is GPT-2's (the regex below is the Python spelling of the one the
`ByteLevel` pre-tokenizer uses), so `@huggingface/tokenizers` in the engine encodes
exactly as `encode()` here does. Ids: the special tokens first, then the 256 bytes,
then one id per merge in the order learned.
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict

SPECIALS = ["[PAD]", "[MASK]", "[EOS]"]
PAD_ID, MASK_ID, EOS_ID = 0, 1, 2

# GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
PRETOKENIZE = re.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_CHARS = bytes_to_unicode()


def pieces(text: str) -> list[str]:
    return ["".join(BYTE_CHARS[b] for b in m.encode("utf-8")) for m in PRETOKENIZE.findall(text)]


def train(texts: list[str], vocab_size: int) -> list[tuple[str, str]]:
    words = Counter(p for t in texts for p in pieces(t))
    seqs = [list(w) for w in words]
    freqs = list(words.values())
    pair_counts: Counter = Counter()
    where: dict[tuple[str, str], set[int]] = defaultdict(set)
    for i, s in enumerate(seqs):
        for a, b in zip(s, s[1:]):
            pair_counts[(a, b)] += freqs[i]
            where[(a, b)].add(i)
    merges: list[tuple[str, str]] = []
    n_merges = vocab_size - len(SPECIALS) - 256
    while len(merges) < n_merges and pair_counts:
        best = max(pair_counts.items(), key=lambda kv: (kv[1], _neg(kv[0])))[0]
        if pair_counts[best] < 2:
            break
        merges.append(best)
        merged = best[0] + best[1]
        for i in list(where[best]):
            s, f = seqs[i], freqs[i]
            for a, b in zip(s, s[1:]):
                pair_counts[(a, b)] -= f
                if pair_counts[(a, b)] <= 0:
                    del pair_counts[(a, b)]
            out, j = [], 0
            while j < len(s):
                if j + 1 < len(s) and s[j] == best[0] and s[j + 1] == best[1]:
                    out.append(merged)
                    j += 2
                else:
                    out.append(s[j])
                    j += 1
            seqs[i] = out
            for a, b in zip(out, out[1:]):
                pair_counts[(a, b)] += f
                where[(a, b)].add(i)
        del where[best]
    return merges


def _neg(pair: tuple[str, str]) -> tuple:
    # max() with ties broken towards the lexicographically smallest pair
    return tuple(-ord(c) for c in pair[0] + "\0" + pair[1])


class Tokenizer:
    def __init__(self, merges: list[tuple[str, str]]):
        self.merges = merges
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.vocab: dict[str, int] = {s: i for i, s in enumerate(SPECIALS)}
        for b in range(256):
            self.vocab[BYTE_CHARS[b]] = len(self.vocab)
        for a, b in merges:
            self.vocab.setdefault(a + b, len(self.vocab))
        self.inverse = {i: s for s, i in self.vocab.items()}
        self.byte_of = {c: b for b, c in BYTE_CHARS.items()}
        self.cache: dict[str, list[int]] = {}

    def _bpe(self, piece: str) -> list[int]:
        hit = self.cache.get(piece)
        if hit is not None:
            return hit
        parts = list(piece)
        while len(parts) > 1:
            ranked = [(self.ranks.get((a, b), 1 << 30), k) for k, (a, b) in enumerate(zip(parts, parts[1:]))]
            rank, k = min(ranked)
            if rank == 1 << 30:
                break
            parts[k : k + 2] = [parts[k] + parts[k + 1]]
        ids = [self.vocab[p] for p in parts]
        self.cache[piece] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        return [i for p in pieces(text) for i in self._bpe(p)]

    def decode(self, ids: list[int]) -> str:
        out = bytearray()
        text = []
        for i in ids:
            s = self.inverse[i]
            if i < len(SPECIALS):
                text.append(out.decode("utf-8", errors="replace"))
                out = bytearray()
                text.append(s)
            else:
                out.extend(self.byte_of[c] for c in s)
        text.append(out.decode("utf-8", errors="replace"))
        return "".join(text)

    def to_json(self) -> dict:
        added = [
            {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
            for i, s in enumerate(SPECIALS)
        ]
        byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": None,
            "pre_tokenizer": byte_level,
            "post_processor": None,
            "decoder": byte_level,
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": None,
                "continuing_subword_prefix": None,
                "end_of_word_suffix": None,
                "fuse_unk": False,
                "byte_fallback": False,
                "ignore_merges": False,
                "vocab": self.vocab,
                "merges": [[a, b] for a, b in self.merges],
            },
        }

    @classmethod
    def from_json(cls, doc: dict) -> "Tokenizer":
        return cls([tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in doc["model"]["merges"]])


def save(tok: Tokenizer, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tok.to_json(), f, ensure_ascii=False)


def load(path: str) -> Tokenizer:
    with open(path, encoding="utf-8") as f:
        return Tokenizer.from_json(json.load(f))
