// A module worker: a relative import, and a relative fetch.
import { bytesFrom, outcome } from './worker-helper.mjs';

self.onmessage = async (event) => {
  const { sink, b64, type } = event.data;
  const body = new Blob([bytesFrom(b64)], { type });
  self.postMessage(await outcome(fetch(`/sink/${sink}`, { method: 'POST', body })));
};
