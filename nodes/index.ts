// Every built-in node type. Adding a node is adding a file and a line here: the CLI catalog,
// the API and the editor are generated from these definitions.
import type { NodeDefinition } from "../engine/types.js";
import ApplyLora from "./apply-lora.js";
import Concat from "./concat.js";
import Denoise from "./denoise.js";
import LoadModel from "./load-model.js";
import MaskSchedule from "./mask-schedule.js";
import Prompt from "./prompt.js";
import ShowText from "./show-text.js";
import Text from "./text.js";

export const builtinNodes: NodeDefinition[] = [LoadModel, ApplyLora, Prompt, MaskSchedule, Denoise, Text, Concat, ShowText];
