// Values named in plain words for issue messages: "got an object with key "nonsense"", never
// "Invalid input".

/** What a JSON value is, in a few words. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list";
  if (typeof value === "string") return `the string "${value.length > 40 ? value.slice(0, 40) + "..." : value}"`;
  if (typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 0) return "an empty object";
    const shown = keys.slice(0, 4).map((k) => `"${k}"`).join(", ");
    return `an object with key${keys.length > 1 ? "s" : ""} ${shown}${keys.length > 4 ? `, ... (${keys.length} keys)` : ""}`;
  }
  // String(), not JSON.stringify: Infinity and NaN would read as "null".
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${String(value)}`;
  return typeof value;
}
