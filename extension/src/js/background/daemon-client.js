// HTTP client for the local daemon (issue 4): protect -> job, progress as Server-Sent Events, result bytes.
// EventSource cannot send an Authorization header, so events are read from a streaming fetch.

import { LOOPBACK_HINT, loopbackOrigin } from './loopback.js';

export class DaemonError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

const FINAL_EVENTS = new Set(['done', 'error', 'cancelled']);

function oneLine(text) {
  return String(text ?? '').replace(/\s+/g, ' ').trim().slice(0, 300);
}

export function daemonClient({ url, token }) {
  const base = loopbackOrigin(url);
  if (!base) throw new DaemonError('bad_daemon_url', `${LOOPBACK_HINT}, not ${oneLine(url).slice(0, 80)}`);

  async function request(path, { method = 'GET', body, headers = {}, auth = true } = {}) {
    const all = { ...headers };
    if (auth) all.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(base + path, { method, body, headers: all, cache: 'no-store', credentials: 'omit' });
    } catch {
      throw new DaemonError('daemon_unreachable', `the artshade app is not answering at ${base}`);
    }
    if (!response.ok) {
      let info = {};
      try {
        info = await response.json();
      } catch {
        // not JSON: keep the status line
      }
      const code = typeof info.error === 'string' ? info.error : `http_${response.status}`;
      const detail = oneLine(info.detail || `${response.status} ${response.statusText}`);
      throw new DaemonError(response.status === 401 ? 'unauthorized' : code, detail, response.status);
    }
    return response;
  }

  async function json(path, options) {
    return (await request(path, options)).json();
  }

  async function followEvents(id, onProgress) {
    const response = await request(`/v1/jobs/${encodeURIComponent(id)}/events`, {
      headers: { Accept: 'text/event-stream' },
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = parseEvent(block);
          if (!event) continue;
          if (event.name === 'progress') onProgress(event.data ?? {});
          if (FINAL_EVENTS.has(event.name)) return finish(event.name, event.data ?? {});
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
    // The stream ended without a final event: ask for the job's state.
    const job = await json(`/v1/jobs/${encodeURIComponent(id)}`);
    return finish(job.state === 'done' ? 'done' : 'error', job);
  }

  return {
    base,
    health: () => json('/v1/health', { auth: false }),
    status: () => json('/v1/status'),
    pair: (code) => json('/v1/pair', {
      method: 'POST', auth: false, body: JSON.stringify({ code }), headers: { 'Content-Type': 'application/json' },
    }),

    /** Check a picture saved from a site against this extension's own protected uploads (POST /v1/check). */
    check: (bytes, mediaType, job) => json(`/v1/check${job ? `?job=${encodeURIComponent(job)}` : ''}`, {
      method: 'POST', body: bytes, headers: { 'Content-Type': mediaType },
    }),

    /** Shade one image: resolves {bytes: Uint8Array, type}. onProgress({progress, stage}). */
    async protect(bytes, mediaType, params, onProgress = () => {}) {
      const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== ''));
      const response = await request(`/v1/protect?${query}`, {
        method: 'POST', body: bytes, headers: { 'Content-Type': mediaType },
      });
      const type = (response.headers.get('Content-Type') || '').split(';')[0].trim();
      if (type.startsWith('image/')) return { bytes: new Uint8Array(await response.arrayBuffer()), type };
      const job = await response.json();
      if (job.state !== 'done') await followEvents(job.id, onProgress);
      onProgress({ progress: 1, stage: 'download' });
      const result = await request(`/v1/jobs/${encodeURIComponent(job.id)}/result`);
      return {
        bytes: new Uint8Array(await result.arrayBuffer()),
        type: (result.headers.get('Content-Type') || mediaType).split(';')[0].trim(),
      };
    },
  };
}

function parseEvent(block) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') name = value;
    else if (field === 'data') data.push(value);
  }
  if (!data.length && name === 'message') return null;
  let parsed = null;
  try {
    parsed = data.length ? JSON.parse(data.join('\n')) : null;
  } catch {
    parsed = { detail: data.join('\n') };
  }
  return { name, data: parsed };
}

function finish(name, data) {
  if (name === 'done') return;
  // {"error": code, "detail": ...} or a job record {"error": {"error": code, "detail": ...}}
  const error = data.error;
  const code = typeof error === 'string' ? error : error?.error ?? error?.code ?? (name === 'cancelled' ? 'cancelled' : 'job_failed');
  const detail = data.detail ?? error?.detail ?? error?.message;
  throw new DaemonError(code, oneLine(detail || (name === 'cancelled' ? 'the job was cancelled' : 'shading failed')));
}
