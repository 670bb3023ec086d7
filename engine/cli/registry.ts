// The registry the CLI's commands (and `maskflow serve`) use: the built-in nodes plus every node
// package that loads. Packages that do not load are reported on stderr, once, and skipped.
import { builtinNodes } from "../../nodes/index.js";
import { assembleRegistry, formatSkipped, type AssembledRegistry } from "../plugins/index.js";

let assembled: Promise<AssembledRegistry> | null = null;

/** Assembled once per process: a package's module is imported once, whatever the command. */
export function cliNodes(stderr: NodeJS.WritableStream = process.stderr): Promise<AssembledRegistry> {
  assembled ??= assembleRegistry(builtinNodes).then((result) => {
    for (const skipped of result.skipped) stderr.write(`warning: ${formatSkipped(skipped)}\n`);
    return result;
  });
  return assembled;
}
