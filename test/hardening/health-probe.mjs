// Times GET /api/health every 25 ms until its stdin closes, printing one line per answer:
// "s <start, ms since the epoch> <latency ms> <discounted 0|1> <failed 0|1> <calibration ms>".
// The calibration is how long a fixed piece of arithmetic took just before: its ratio to the
// fastest seen tells how much CPU the machine is giving its processes at that moment. Its own process, so
// the test process's work (and garbage collection) is not counted as the server's. A probe during
// which this process's own timers ran late (the machine had no CPU for it) says nothing about the
// server and is marked discounted; a server that stalls its event loop leaves this process's
// timers on time and is counted.
// Usage: node health-probe.mjs <origin> <token> <stallMs>
const [origin, token, stallArg] = process.argv.slice(2);
const stallMs = Number(stallArg) || 5000;
let done = false;

// This process's own lag: how late a 5 ms timer fires.
let lagMax = 0;
let last = performance.now();
const tick = setInterval(() => {
  const now = performance.now();
  lagMax = Math.max(lagMax, now - last - 5);
  last = now;
}, 5);

process.stdin.on("data", () => undefined);
process.stdin.on("end", () => (done = true));

// One answer first (not reported: the connection is new), then "ready".
await fetch(`${origin}/api/health`, { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.text(), () => undefined);
process.stdout.write("ready\n");

/** A fixed amount of work (about a millisecond on an idle core). */
function calibrate() {
  const t0 = performance.now();
  let x = 0;
  for (let i = 0; i < 300_000; i++) x = (x * 31 + i) % 1_000_003;
  return [performance.now() - t0, x];
}

while (!done) {
  const [calib] = calibrate();
  lagMax = 0;
  const start = Date.now();
  const t0 = performance.now();
  let ok = true;
  try {
    const r = await fetch(`${origin}/api/health`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(stallMs) });
    await r.text();
    ok = r.status === 200;
  } catch {
    ok = false;
  }
  const ms = performance.now() - t0;
  process.stdout.write(`s ${start} ${ms.toFixed(1)} ${lagMax > 30 ? 1 : 0} ${ok ? 0 : 1} ${calib.toFixed(3)}\n`);
  await new Promise((r) => setTimeout(r, 25));
}
clearInterval(tick);
process.stdout.write("end\n");
