// Sites: what a site entry looks like, which host it covers, and the match patterns for its content scripts.

const LOOPBACK = new Set(['127.0.0.1', 'localhost']);

function splitHost(host) {
  const m = /^(\[[0-9a-f:.]+\]|[^:]+)(?::(\d{1,5}))?$/i.exec(host);
  return m ? { hostname: m[1].toLowerCase(), port: m[2] ?? '' } : null;
}

export function isLoopback(hostname) {
  return LOOPBACK.has(hostname);
}

/**
 * A site entry from what a person typed ("https://www.Cara.app/x", "127.0.0.1:8123"), or null.
 * Domains are kept without port and without a leading "www."; loopback hosts keep their port, so a test
 * page on one port can be enabled without enabling every local server.
 */
export function normaliseSite(input) {
  if (typeof input !== 'string') return null;
  let text = input.trim().toLowerCase();
  if (!text) return null;
  if (!/^[a-z][a-z0-9+.-]*:\/\//.test(text)) text = `http://${text}`;
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  const hostname = url.hostname.replace(/^www\./, '');
  if (!hostname || hostname.length > 253) return null;
  if (isLoopback(hostname)) return url.port ? `${hostname}:${url.port}` : hostname;
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(hostname) || hostname.split('.').some((p) => !p || p.length > 63)) return null;
  return hostname;
}

/** The entry of `sites` that covers `host` (a location.host), or null. */
export function siteForHost(host, sites) {
  const parts = splitHost(String(host || '').toLowerCase());
  if (!parts) return null;
  const { hostname, port } = parts;
  if (isLoopback(hostname)) {
    const exact = port ? `${hostname}:${port}` : hostname;
    if (sites.has(exact)) return exact;
    return sites.has(hostname) ? hostname : null;
  }
  const labels = hostname.split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const candidate = labels.slice(i).join('.');
    if (sites.has(candidate)) return candidate;
  }
  return null;
}

/** Match patterns for a site entry (ports cannot appear in match patterns, so loopback covers the host). */
export function patternsFor(site) {
  const parts = splitHost(site);
  if (!parts) return [];
  if (isLoopback(parts.hostname)) return [`http://${parts.hostname}/*`];
  return [`https://*.${parts.hostname}/*`];
}
