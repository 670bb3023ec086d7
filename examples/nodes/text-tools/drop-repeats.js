/** A sentence ends at . ! or ? (with any closing quotes) followed by whitespace, or at the end. */
const SENTENCE = /[^.!?]+(?:[.!?]+["'”’)\]]*|$)\s*/g;

/** What makes two sentences "the same": case, spacing and punctuation aside. */
const normalise = (/** @type {string} */ s) => s.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim();

/**
 * Removes a phrase of 1 to `longest` words repeated straight after itself ("the door the door").
 * @param {string} text
 * @param {number} longest
 */
function collapseStutter(text, longest) {
  let out = text;
  for (let n = longest; n >= 1; n--) {
    const phrase = Array.from({ length: n }, () => "[\\p{L}\\p{N}'’]+").join("\\s+");
    // (phrase)(whitespace + the same phrase)+ → the phrase once; \b keeps words whole.
    out = out.replace(new RegExp(`\\b(${phrase})(?:\\s+\\1\\b)+`, "giu"), "$1");
  }
  return out;
}

/**
 * Drop Repeats: small and undertrained diffusion models (like the bundled demo) repeat
 * themselves; this keeps each sentence's first occurrence and collapses stutters, so a text can
 * be read or scored without its loops.
 */
const DropRepeats = {
  type: "DropRepeats",
  version: 1,
  title: "Drop Repeats",
  category: "text",
  description: "Drops sentences that repeat an earlier one (ignoring case and punctuation) and collapses words or short phrases repeated back to back.",
  inputs: {
    text: { socket: "TEXT", kind: "string", widget: "textarea", default: "", description: "The text to tidy." },
    sentences: { kind: "boolean", widget: "toggle", default: true, description: "Drop a sentence that already appeared." },
    stutter: { kind: "integer", widget: "number", default: 3, min: 0, max: 8, description: "Collapse phrases of up to this many words repeated straight after themselves; 0 = off." },
  },
  outputs: { text: { socket: "TEXT" } },
  execute({ text, sentences, stutter }, ctx) {
    let out = collapseStutter(String(text), Number(stutter));
    if (sentences) {
      const seen = new Set();
      const kept = [];
      for (const sentence of out.match(SENTENCE) ?? []) {
        const key = normalise(sentence);
        if (key && seen.has(key)) continue;
        seen.add(key);
        kept.push(sentence);
      }
      const dropped = (out.match(SENTENCE) ?? []).length - kept.length;
      if (dropped > 0) ctx.log.info(`dropped ${dropped} repeated sentence${dropped === 1 ? "" : "s"}`);
      out = kept.join("");
    }
    return { text: out };
  },
};

export default DropRepeats;
