/**
 * Regex Replace: a JavaScript regular expression over a text, e.g. to strip a chat template's
 * markers from a model's answer or to normalise whitespace before scoring.
 */
const RegexReplace = {
  type: "RegexReplace",
  version: 1,
  title: "Regex Replace",
  category: "text",
  description: "Replaces matches of a regular expression in a text. $1, $2 … in the replacement insert the matched groups, $& the whole match.",
  inputs: {
    text: { socket: "TEXT", kind: "string", widget: "textarea", default: "", description: "The text to edit." },
    pattern: { kind: "string", widget: "text", default: "\\s+", description: "A JavaScript regular expression, without the slashes." },
    replacement: { kind: "string", widget: "text", default: " ", description: "What each match becomes." },
    flags: { kind: "string", widget: "text", default: "g", description: "g: every match (else the first); i: ignore case; m: ^ and $ at line ends; s: . matches newlines." },
  },
  outputs: { text: { socket: "TEXT" } },
  execute({ text, pattern, replacement, flags }, ctx) {
    if (!/^[dgimsuvy]*$/.test(String(flags))) ctx.fail("flags", `"${flags}" has a letter that is not a regular expression flag (d g i m s u v y)`);
    let regex;
    try {
      regex = new RegExp(String(pattern), String(flags));
    } catch (err) {
      // A bad pattern is the user's to fix: name the input, not a stack trace.
      return ctx.fail("pattern", err.message);
    }
    return { text: String(text).replace(regex, String(replacement)) };
  },
};

export default RegexReplace;
