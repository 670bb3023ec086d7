/** Forward passes of every loaded model in this process (a batch joined from several runs counts once): what `maskflow sweep` charges each cell. */
export const forwardPasses = { count: 0 };
