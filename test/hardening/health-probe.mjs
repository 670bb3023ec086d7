// Times GET /api/health every 25 ms until its stdin closes, then prints {slowestMs, probes,
// discounted} as JSON. Its own process, so the test process's work (and garbage collection) is not
// counted as the server's. A probe during which this process's own timers ran late (the machine
// had no CPU for it, as on a shared 2-core box) says nothing about the server and is discounted;
// a server that stalls its event loop leaves this process's timers on time and is counted.
// Usage: node health-probe.mjs <origin> <token> <stallMs>
const [origin, token, stallArg] = process.argv.slice(2);
const stallMs = Number(stallArg) || 5000;
let done = false;
let slowest = 0;
let probes = 0;
let discounted = 0;
let failed = 0;

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

// One answer first (not counted: the connection is new), so the test starts its hostile request
// once this probe is measuring.
await fetch(`${origin}/api/health`, { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.text(), () => undefined);
process.stdout.write("ready\n");

while (!done) {
  lagMax = 0;
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
  probes++;
  if (!ok) failed++;
  else if (lagMax > 30) discounted++;
  else slowest = Math.max(slowest, ms);
  await new Promise((r) => setTimeout(r, 25));
}
clearInterval(tick);
process.stdout.write("report " + JSON.stringify({ slowestMs: failed ? 1e9 : slowest, probes, discounted, failed }) + "\n");
