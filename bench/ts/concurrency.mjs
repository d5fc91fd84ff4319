// Section 3: COUNT archives of distinct ids with the official TypeScript SDK,
// CONCURRENCY at a time as Promise.all batches.
//   node concurrency.mjs BASE_URL CONCURRENCY [COUNT]
import { makeClient, check, now } from './common.mjs';

const [base, concArg, countArg] = process.argv.slice(2);
const concurrency = Number(concArg);
const count = Number(countArg ?? 1000);
const client = makeClient(base);
const ids = Array.from({ length: count }, (_, i) => `env_bench_${String(i).padStart(5, '0')}`);

const started = now();
let done = 0;
for (let i = 0; i < ids.length; i += concurrency) {
  const batch = ids.slice(i, i + concurrency);
  const envs = await Promise.all(batch.map((id) => client.beta.environments.archive(id)));
  envs.forEach((env, j) => check(env, batch[j]));
  done += envs.length;
}
console.log(`calls=${done} seconds=${(now() - started).toFixed(6)}`);
