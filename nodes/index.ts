// Every built-in node type. Adding a node is adding a file and a line here: the CLI catalog,
// the API and the editor are generated from these definitions.
import type { NodeDefinition } from "../engine/types.js";
import ApplyLora from "./apply-lora.js";
import Beam from "./beam.js";
import Concat from "./concat.js";
import Denoise from "./denoise.js";
import Infill from "./infill.js";
import LoadModel from "./load-model.js";
import MaskSchedule from "./mask-schedule.js";
import Pick from "./pick.js";
import Prompt from "./prompt.js";
import Remask from "./remask.js";
import ReplaceTokens from "./replace-tokens.js";
import Score from "./score.js";
import ShowText from "./show-text.js";
import Text from "./text.js";

export const builtinNodes: NodeDefinition[] = [LoadModel, ApplyLora, Prompt, MaskSchedule, Denoise, Infill, Remask, ReplaceTokens, Beam, Pick, Score, Text, Concat, ShowText];
