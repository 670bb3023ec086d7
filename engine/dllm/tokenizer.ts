// The model's tokenizer (tokenizer.json via @huggingface/tokenizers) and chat template
// (tokenizer_config.json's `chat_template` via @huggingface/jinja).
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";

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

  /**
   * @param json the parsed tokenizer.json
   * @param config the parsed tokenizer_config.json ({} when the folder has none)
   */
  constructor(json: object, readonly config: TokenizerConfig = {}) {
    this.tok = new Tokenizer(json, config);
    this.vocabSize = this.tok.get_vocab(true).size;
    this.specialIds = new Set([...this.tok.get_added_tokens_decoder()].filter(([, t]) => t.special).map(([id]) => id));
    const tpl = config.chat_template;
    const source = Array.isArray(tpl) ? (tpl.find((t) => t.name === "default") ?? tpl[0])?.template : tpl;
    this.template = source ? new Template(source) : null;
  }

  /** Token ids of `text`, without any special tokens added (a chat template carries its own). */
  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
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
