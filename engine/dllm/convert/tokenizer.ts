// The checkpoint's tokenizer, made into what a model folder holds: tokenizer.json (read by
// @huggingface/tokenizers) and tokenizer_config.json (chat template, special tokens).
// A checkpoint that ships tokenizer.json has it copied as it is. One that ships only a slow
// tokenizer's files (Dream: vocab.json + merges.txt for its remote DreamTokenizer, a Qwen2
// byte-level BPE) gets a tokenizer.json built from them: the same vocabulary, merges, split
// pattern and byte-level mapping, and its added tokens from tokenizer_config.json's
// added_tokens_decoder and added_tokens.json. Golden encodings from the Python algorithm check it
// (test/convert).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
  single_word?: boolean;
}

export interface TokenizerFiles {
  /** tokenizer.json's content, when the checkpoint has it */
  json: Record<string, unknown> | null;
  /** tokenizer_config.json's content ({} when absent) */
  config: Record<string, unknown>;
  /** vocab.json / merges.txt of a slow BPE tokenizer */
  vocab: Record<string, number> | null;
  merges: string[] | null;
  /** added tokens from every file that lists them */
  added: AddedToken[];
}

function readJson(path: string): Record<string, unknown> {
  try {
    const v = JSON.parse(readFileSync(path, "utf8"));
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not a JSON object");
    return v as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

export function readTokenizerFiles(dir: string): TokenizerFiles {
  const at = (name: string) => join(dir, name);
  const json = existsSync(at("tokenizer.json")) ? readJson(at("tokenizer.json")) : null;
  const config = existsSync(at("tokenizer_config.json")) ? readJson(at("tokenizer_config.json")) : {};
  // newer checkpoints (Gemma 4, DiffusionGemma) keep the chat template in its own file
  if (!config.chat_template && existsSync(at("chat_template.jinja"))) config.chat_template = readFileSync(at("chat_template.jinja"), "utf8");
  const vocab = existsSync(at("vocab.json")) ? (readJson(at("vocab.json")) as Record<string, number>) : null;
  const merges = existsSync(at("merges.txt"))
    ? readFileSync(at("merges.txt"), "utf8")
        .split("\n")
        .filter((line, i) => line.length > 0 && !(i === 0 && line.startsWith("#version")))
    : null;
  const added = new Map<number, AddedToken>();
  for (const t of (json?.added_tokens as AddedToken[] | undefined) ?? []) added.set(t.id, t);
  const decoder = config.added_tokens_decoder as Record<string, Omit<AddedToken, "id">> | undefined;
  for (const [id, t] of Object.entries(decoder ?? {})) if (!added.has(Number(id))) added.set(Number(id), { ...t, id: Number(id) });
  if (existsSync(at("added_tokens.json"))) {
    for (const [content, id] of Object.entries(readJson(at("added_tokens.json")))) {
      if (typeof id === "number" && !added.has(id)) added.set(id, { id, content, special: true });
    }
  }
  if (!json && !(vocab && merges)) {
    throw new Error(`${dir} has no tokenizer: it needs tokenizer.json, or vocab.json and merges.txt`);
  }
  return { json, config, vocab, merges, added: [...added.values()].sort((a, b) => a.id - b.id) };
}

/** The id of a token, from the added tokens or the vocabulary. */
export function tokenId(files: TokenizerFiles, token: string): number | undefined {
  const added = files.added.find((t) => t.content === token);
  if (added) return added.id;
  const model = files.json?.model as { vocab?: Record<string, number> } | undefined;
  return model?.vocab?.[token] ?? files.vocab?.[token];
}

/** Qwen2's pre-tokenizer split (Qwen2Tokenizer's PRETOKENIZE_REGEX, also in its tokenizer.json). */
export const QWEN2_SPLIT = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/** tokenizer.json for a Qwen2 byte-level BPE given as vocab.json + merges.txt (NFC, split, byte level). */
export function qwen2TokenizerJson(files: TokenizerFiles): Record<string, unknown> {
  if (!files.vocab || !files.merges) throw new Error("a Qwen2 BPE tokenizer needs vocab.json and merges.txt");
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: files.added.map((t) => ({
      id: t.id,
      content: t.content,
      single_word: t.single_word ?? false,
      lstrip: t.lstrip ?? false,
      rstrip: t.rstrip ?? false,
      normalized: t.normalized ?? false,
      special: t.special,
    })),
    normalizer: { type: "NFC" },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [{ type: "Split", pattern: { Regex: QWEN2_SPLIT }, behavior: "Isolated", invert: false }, byteLevel],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: files.vocab,
      merges: files.merges,
    },
  };
}

/** The tokenizer.json a model folder gets. */
export function tokenizerJson(files: TokenizerFiles, slow: "qwen2-bpe" | undefined, dir: string): Record<string, unknown> {
  if (files.json) return files.json;
  if (slow === "qwen2-bpe") return qwen2TokenizerJson(files);
  throw new Error(`${dir} has no tokenizer.json, and this family has no recipe to build one from vocab.json/merges.txt`);
}

/**
 * tokenizer_config.json for the model folder: the checkpoint's own, with the family's chat
 * template when it has none. Fields that only a Python tokenizer class reads are kept; the
 * runtime reads chat_template and the special tokens.
 */
export function tokenizerConfig(files: TokenizerFiles, chatTemplate: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = { ...files.config };
  if (!out.chat_template && chatTemplate) out.chat_template = chatTemplate;
  // Python reprs such as 1e30 survive JSON, but a PreTrainedTokenizer class name means nothing here
  if (!files.json) out.tokenizer_class = "PreTrainedTokenizerFast";
  delete out.auto_map;
  return out;
}
