// Shared by the TypeScript SDK drivers: the client, the check every result
// must pass, and the clock.
import Anthropic from '@anthropic-ai/sdk';

export const ENV_ID = 'env_011CZkZ9X2dpNyB7HsEFoRfW';

export function makeClient(baseURL) {
  return new Anthropic({
    apiKey: 'sk-ant-bench',
    baseURL,
    maxRetries: 0,
    // SDK 1.x sends anthropic-version 2026-10-21 by default; the bundled fake
    // accepts only the version the reference page names, and every other
    // client in the benchmark sends that one too.
    defaultHeaders: { 'anthropic-version': '2023-06-01' },
  });
}

// The decoded answer must be the example environment: a top-level field and
// a nested one (and the id, when given).
export function check(env, id) {
  if (env?.name !== 'python-data-analysis' || env?.config?.packages?.pip?.[1] !== 'numpy' ||
      (id !== undefined && env.id !== id)) {
    throw new Error(`wrong answer: ${JSON.stringify(env)?.slice(0, 200)}`);
  }
}

export const now = () => Number(process.hrtime.bigint()) / 1e9;
