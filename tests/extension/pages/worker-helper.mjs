// Imported by upload-worker.mjs (a relative module specifier).
export const bytesFrom = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
export const outcome = (promise) => promise.then(
  (r) => (r.ok ? `uploaded ${r.status}` : `failed ${r.status}`),
  (e) => `failed: ${e.message}`,
);
