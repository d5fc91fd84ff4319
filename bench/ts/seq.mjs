// Section 1 (and 5): sequential archives with the official TypeScript SDK,
// client.beta.environments.archive awaited in a loop on one client.
//   node seq.mjs BASE_URL [SECONDS] [MAX_CALLS] [WARMUP_SECONDS]
import { makeClient, check, now, ENV_ID } from './common.mjs';

const [base, secondsArg, maxArg, warmupArg] = process.argv.slice(2);
const seconds = Number(secondsArg ?? 2);
const maxCalls = Number(maxArg ?? 200000);
const warmup = Number(warmupArg ?? 0.5);
const client = makeClient(base);

let started = now();
let n = 0;
while (n < maxCalls && now() - started < warmup) {
  check(await client.beta.environments.archive(ENV_ID));
  n += 1;
}
started = now();
n = 0;
let elapsed = 0;
const cpuStart = process.cpuUsage();
while (n < maxCalls && elapsed < seconds) {
  check(await client.beta.environments.archive(ENV_ID));
  n += 1;
  elapsed = now() - started;
}
const cpu = process.cpuUsage(cpuStart);   // user + system, microseconds
console.log(`calls=${n} seconds=${elapsed.toFixed(6)} cpu=${((cpu.user + cpu.system) / 1e6).toFixed(6)}`);
