// The daemon runs on this machine.  Every daemon URL the extension keeps or calls (typed on the options
// page, in a pairing reply, from the native host, read back from storage) passes this one check: plain
// http on a loopback address with an explicit port, no user name or password, nothing else.

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The URL's origin (`http://127.0.0.1:47815`) if it is a loopback daemon URL, else null. */
export function loopbackOrigin(value) {
  let url;
  try {
    url = new URL(String(value ?? ''));
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' || url.username || url.password || !url.port) return null;
  if (!LOOPBACK_HOSTS.has(url.hostname)) return null;
  return url.origin;
}

export const LOOPBACK_HINT = 'the daemon runs on this machine: use http://127.0.0.1:PORT';
