// Closing while Redis is away: BullMQ's close() and ioredis' quit() wait for Redis, for ever. A
// process that is stopping gives them a few seconds, then disconnects without them.

/** Whether the promise settled within ms (its rejection counts as settled). */
export async function settled(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  const done = promise.then(() => true as const, () => true as const);
  const result = await Promise.race([done, timeout]);
  clearTimeout(timer);
  return result;
}
