// How much a node's outputs weigh, for the size limits and the cache's byte budget. Data (text,
// token lists, canvases) is counted by what it would take as JSON, roughly: a string by its length,
// a number as 8 bytes. An object that holds resources says so itself with a numeric `memoryBytes`
// (a loaded model: its weights and its worker), and is counted as held memory, not as data.

export interface ValueSize {
  /** JSON-ish bytes of the data. */
  data: number;
  /** Memory reported by resource objects (models). */
  held: number;
  /** How many resource objects (models). */
  resources: number;
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Measures `value`, stopping early once the data passes `budget` (so measuring a huge value costs
 * no more than the limit it is checked against). Shared and cyclic references are counted once.
 */
export function measureValue(value: unknown, budget = Infinity): ValueSize {
  const size: ValueSize = { data: 0, held: 0, resources: 0 };
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0 && size.data <= budget) {
    const v = stack.pop();
    if (typeof v === "string") size.data += v.length + 2;
    else if (typeof v === "number" || typeof v === "bigint") size.data += 8;
    else if (typeof v === "boolean" || v === null || v === undefined) size.data += 4;
    else if (typeof v === "object") {
      if (seen.has(v)) continue;
      seen.add(v);
      const held = (v as { memoryBytes?: unknown }).memoryBytes;
      if (typeof held === "number") {
        size.held += held;
        size.resources++;
      } else if (ArrayBuffer.isView(v)) size.data += v.byteLength;
      else if (Array.isArray(v)) {
        size.data += 2 + v.length;
        for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
      } else if (isPlain(v)) {
        for (const [k, item] of Object.entries(v)) {
          size.data += k.length + 4;
          stack.push(item);
        }
      }
      // Other class instances (a Map, a tokenizer) are neither data nor declared resources: not counted.
    }
  }
  return size;
}
