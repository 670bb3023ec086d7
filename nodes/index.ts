// Every built-in node type. Adding a node is adding a file and a line here: the CLI catalog,
// the API and the editor are generated from these definitions.
import type { NodeDefinition } from "../engine/types.js";
import Concat from "./concat.js";
import ShowText from "./show-text.js";
import Text from "./text.js";

export const builtinNodes: NodeDefinition[] = [Text, Concat, ShowText];
