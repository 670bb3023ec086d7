// A Maskflow node package: this module's default export is the list of node definitions it adds,
// in the same format as Maskflow's built-in nodes (one definition per file, as in nodes/).
import DropRepeats from "./drop-repeats.js";
import RegexReplace from "./regex-replace.js";

export default [RegexReplace, DropRepeats];
