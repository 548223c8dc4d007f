// Loaded by upload-worker.js with importScripts (a relative URL).
self.workerHelper = {
  bytesFrom: (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)),
  outcome: (promise) => promise.then(
    (r) => (r.ok ? `uploaded ${r.status}` : `failed ${r.status}`),
    (e) => `failed: ${e.message}`,
  ),
};
