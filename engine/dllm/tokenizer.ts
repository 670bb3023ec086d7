// The model's tokenizer (tokenizer.json via @huggingface/tokenizers) and chat template
// (tokenizer_config.json's `chat_template` via @huggingface/jinja).
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { z } from "zod";

export interface ChatMessage {
  role: "system" | "user" | "assistant" | (string & {});
  content: string;
}

/** tokenizer_config.json fields we read. Special tokens may be strings or AddedToken objects. */
export interface TokenizerConfig {
  chat_template?: string | { name: string; template: string }[] | null;
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  pad_token?: string | { content: string } | null;
  mask_token?: string | { content: string } | null;
  [key: string]: unknown;
}

/**
 * Why a tokenizer.json's ids do not fit a vocabulary of `vocabSize`, or null. Checked before the
 * tokenizer is built: tokenizers.js sizes tables by the largest id, so an added token with id 1e9
 * stalls the thread for tens of seconds before any other check could run.
 */
export function tokenizerIdProblem(json: unknown, vocabSize: number): string | null {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return "a tokenizer is a JSON object";
  const bad = (id: unknown) => !(Number.isInteger(id) && (id as number) >= 0 && (id as number) < vocabSize);
  const model = (json as { model?: unknown }).model;
  if (typeof model !== "object" || model === null || Array.isArray(model)) return '"model" is not an object (a Hugging Face tokenizer.json has one)';
  const added = (json as { added_tokens?: unknown }).added_tokens;
  if (added !== undefined) {
    if (!Array.isArray(added)) return "added_tokens is not a list";
    for (const t of added) {
      if (typeof (t as { content?: unknown } | null)?.content !== "string") return "an added token has no text (content)";
      const id = (t as { id?: unknown } | null)?.id;
      if (bad(id)) return `added token id ${String(id)} is outside the vocabulary (vocab_size ${vocabSize} in maskflow.json: ids 0..${vocabSize - 1})`;
    }
  }
  const vocab = (json as { model?: { vocab?: unknown } }).model?.vocab;
  if (Array.isArray(vocab)) {
    if (vocab.length > vocabSize) return `the model's vocabulary has ${vocab.length} entries, more than vocab_size ${vocabSize} in maskflow.json`;
  } else if (typeof vocab === "object" && vocab !== null) {
    for (const id of Object.values(vocab)) {
      if (bad(id)) return `vocabulary id ${String(id)} is outside the vocabulary (vocab_size ${vocabSize} in maskflow.json: ids 0..${vocabSize - 1})`;
    }
  }
  return null;
}

const specialToken = z.union([z.string(), z.object({ content: z.string() }).loose()]).nullish();

/**
 * The tokenizer_config.json fields Maskflow and tokenizers.js read, checked for their types first:
 * tokenizers.js and the template engine would otherwise fail with TypeErrors ("template.endsWith
 * is not a function") on a number where a string belongs.
 */
export const tokenizerConfigSchema = z
  .object({
    chat_template: z.union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }).loose())]).nullish(),
    bos_token: specialToken,
    eos_token: specialToken,
    pad_token: specialToken,
    mask_token: specialToken,
    unk_token: specialToken,
    additional_special_tokens: z.array(specialToken).nullish(),
  })
  .loose();

/** Why tokenizer_config.json's content cannot be used, or null. */
export function tokenizerConfigProblem(config: unknown): string | null {
  const parsed = tokenizerConfigSchema.safeParse(config);
  if (parsed.success) return null;
  return parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

/** A text that cannot fit the model, refused before it is tokenised (tokenising 6 MB takes seconds). */
export class TextTooLongError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TextTooLongError";
  }
}

function tokenText(t: TokenizerConfig["bos_token"]): string {
  if (t == null) return "";
  return typeof t === "string" ? t : t.content;
}

export class DllmTokenizer {
  private readonly tok: Tokenizer;
  private readonly pieces: (string | undefined)[] = [];
  private readonly template: Template | null;
  /** Number of ids the tokenizer knows (added tokens included). */
  readonly vocabSize: number;
  readonly specialIds: ReadonlySet<number>;
  /** The longest token's text, in characters: no token covers more of a (normalised) text. */
  private readonly longestPiece: number;

  /**
   * @param json the parsed tokenizer.json
   * @param config the parsed tokenizer_config.json ({} when the folder has none)
   */
  constructor(json: object, readonly config: TokenizerConfig = {}) {
    this.tok = new Tokenizer(json, config);
    const vocab = this.tok.get_vocab(true);
    this.vocabSize = vocab.size;
    let longest = 1;
    for (const piece of vocab.keys()) if (piece.length > longest) longest = piece.length;
    this.longestPiece = longest;
    this.specialIds = new Set([...this.tok.get_added_tokens_decoder()].filter(([, t]) => t.special).map(([id]) => id));
    const tpl = config.chat_template;
    const source = Array.isArray(tpl) ? (tpl.find((t) => t.name === "default") ?? tpl[0])?.template : tpl;
    this.template = source ? new Template(source) : null;
  }

  /**
   * Token ids of `text`, without any special tokens added (a chat template carries its own). With
   * `maxTokens`, a text too long to make fewer tokens than that is refused before tokenising: it
   * needs at least length / longest-token characters; the factor 4 leaves room for normalisers
   * that shorten text (composing accents), so nothing that could fit is refused.
   */
  encode(text: string, { maxTokens }: { maxTokens?: number } = {}): number[] {
    if (maxTokens !== undefined && this.cannotFit(text, maxTokens)) {
      throw new TextTooLongError(`the text is ${text.length} characters long: far more than the ${maxTokens} tokens the model's max_length allows`);
    }
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  /** Whether `text` is certain to make more than `maxTokens` tokens (see encode). */
  cannotFit(text: string, maxTokens: number): boolean {
    return text.length > maxTokens * this.longestPiece * 4 + 1024;
  }

  /** Text of `ids`; special tokens ([MASK], [EOS], ...) are dropped unless skipSpecial is false. */
  decode(ids: readonly number[], { skipSpecial = true }: { skipSpecial?: boolean } = {}): string {
    if (ids.length === 0) return ""; // tokenizers.js refuses an empty list
    return this.tok.decode([...ids], { skip_special_tokens: skipSpecial, clean_up_tokenization_spaces: false });
  }

  /** What one token reads as on its own (for showing a canvas token by token). */
  piece(id: number): string {
    const hit = this.pieces[id];
    if (hit !== undefined) return hit;
    const p = this.specialIds.has(id) ? (this.tok.id_to_token(id) ?? "") : this.decode([id], { skipSpecial: false });
    this.pieces[id] = p;
    return p;
  }

  idOf(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  get hasChatTemplate(): boolean {
    return this.template !== null;
  }

  /** Renders the chat template (tokenizer_config.json) for these messages, as transformers' apply_chat_template(tokenize=False). */
  applyChatTemplate(messages: ChatMessage[], { addGenerationPrompt = true } = {}): string {
    if (!this.template) throw new Error("tokenizer_config.json has no chat_template");
    return this.template.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: tokenText(this.config.bos_token),
      eos_token: tokenText(this.config.eos_token),
      pad_token: tokenText(this.config.pad_token),
      mask_token: tokenText(this.config.mask_token),
    });
  }
}
