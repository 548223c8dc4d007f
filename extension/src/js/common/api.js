// The WebExtension namespace: `browser` in Firefox, `chrome` in Chromium (both promise-based in MV3).
export const api = globalThis.browser ?? globalThis.chrome;

/** This extension's own origin, e.g. chrome-extension://<id> (no trailing slash). */
export function extensionOrigin() {
  return api.runtime.getURL('').replace(/\/$/, '');
}
