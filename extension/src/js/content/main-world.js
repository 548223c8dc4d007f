// MAIN-world script (document_start, all frames): covers uploads that never pass through a file input,
// drop or paste event the content script sees: image Blobs/Files sent with fetch, XMLHttpRequest.send and
// FormData, and files from window.showOpenFilePicker.  The request is held until the shaded bytes are back;
// headers that carry the byte length or the media type are kept consistent.  The bytes go to the content
// script over a MessageChannel whose port only the two scripts hold.
(() => {
  'use strict';
  const FLAG = Symbol.for('artshade.main-world');
  if (window[FLAG]) return;
  Object.defineProperty(window, FLAG, { value: true });

  const SUPPORTED = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/tiff']);
  const UNTYPED = new Set(['', 'application/octet-stream']);
  const HANDSHAKE_TIMEOUT_MS = 15000;

  // -- the private channel --------------------------------------------------------------------------------

  let port = null;
  let enabled = null; // null: not told yet -> hold and ask (fail closed)
  let nextId = 1;
  const waiting = new Map();
  const queued = [];

  function offer() {
    const channel = new MessageChannel();
    channel.port1.onmessage = (event) => onMessage(channel.port1, event.data);
    window.dispatchEvent(new MessageEvent('artshade:main-hello', { ports: [channel.port2] }));
  }

  function onMessage(from, data) {
    if (!port) {
      port = from;
      for (const [message, transfer] of queued.splice(0)) port.postMessage(message, transfer);
    }
    if (from !== port || !data) return;
    if (data.type === 'state') {
      enabled = Boolean(data.enabled);
      return;
    }
    const entry = waiting.get(data.id);
    if (!entry) return;
    waiting.delete(data.id);
    clearTimeout(entry.timer);
    entry.resolve(data);
  }

  window.addEventListener('artshade:content-hello', (event) => {
    event.stopImmediatePropagation();
    if (!port) offer();
  }, true);
  offer();

  class Blocked extends Error {}

  /** files: [Blob] -> [Blob | null (unchanged)], or throws Blocked. */
  async function shade(files) {
    const items = await Promise.all(files.map(async (f) => ({
      name: f.name ?? 'image', type: f.type, lastModified: f.lastModified ?? Date.now(), buffer: await f.arrayBuffer(),
    })));
    const id = nextId++;
    const reply = await new Promise((resolve, reject) => {
      const timer = port ? null : setTimeout(() => {
        waiting.delete(id);
        reject(new Blocked('artshade is not ready on this page; reload it'));
      }, HANDSHAKE_TIMEOUT_MS);
      waiting.set(id, { resolve, timer });
      const message = { id, type: 'shade', files: items };
      const transfer = items.map((i) => i.buffer);
      if (port) port.postMessage(message, transfer);
      else queued.push([message, transfer]);
    });
    if (reply.kind === 'blocked') throw new Blocked(`artshade blocked this upload: ${reply.message}`);
    if (reply.kind !== 'ok') return files.map(() => null);
    return reply.files.map((f, i) => {
      if (!f) return null;
      return files[i] instanceof File
        ? new File([f.buffer], f.name, { type: f.type, lastModified: f.lastModified })
        : new Blob([f.buffer], { type: f.type });
    });
  }

  // -- bodies ---------------------------------------------------------------------------------------------

  function isImage(b) {
    return b.length >= 12 && ((b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) ||
      (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) ||
      (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) ||
      (b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0x00) ||
      (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0x00 && b[3] === 0x2a));
  }

  const candidateBlob = (v) => v instanceof Blob && (SUPPORTED.has(v.type) || UNTYPED.has(v.type));
  const bytesOf = (v) => (v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength));

  function mayCarryImage(body) {
    if (body == null || typeof body === 'string' || body instanceof URLSearchParams) return false;
    if (body instanceof Blob) return candidateBlob(body);
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return isImage(bytesOf(body));
    if (body instanceof FormData) {
      for (const [, value] of body) if (candidateBlob(value)) return true;
    }
    return false;
  }

  /** -> {body, changed, oldSize, newSize, oldType, newType}; throws Blocked. */
  async function transformBody(body) {
    const same = { body, changed: false };
    if (body instanceof Blob) {
      if (!isImage(new Uint8Array(await body.slice(0, 16).arrayBuffer()))) return same;
      const [out] = await shade([body]);
      if (!out) return same;
      return { body: out, changed: true, oldSize: body.size, newSize: out.size, oldType: body.type, newType: out.type };
    }
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
      const bytes = bytesOf(body);
      const [out] = await shade([new Blob([bytes])]);
      if (!out) return same;
      const shaded = new Uint8Array(await out.arrayBuffer());
      return { body: shaded, changed: true, oldSize: bytes.length, newSize: shaded.length, oldType: null, newType: out.type };
    }
    if (body instanceof FormData) {
      const entries = [...body];
      const picks = entries.map(([, v], i) => (candidateBlob(v) ? i : -1)).filter((i) => i >= 0);
      const outs = await shade(picks.map((i) => entries[i][1]));
      if (!outs.some(Boolean)) return same;
      const replaced = new Map(picks.map((i, k) => [i, outs[k]]));
      const form = new FormData();
      entries.forEach(([name, value], i) => {
        const next = replaced.get(i);
        if (next) form.append(name, next, next.name);
        else form.append(name, value);
      });
      return { body: form, changed: true };
    }
    return same;
  }

  /** Header pairs with byte lengths / media types of the replaced body updated. */
  function fixPairs(pairs, info) {
    if (!info.changed) return pairs;
    return pairs.map(([name, value]) => {
      const v = String(value).trim();
      if (info.oldSize != null && /length|size/i.test(name) && v === String(info.oldSize)) return [name, String(info.newSize)];
      if (info.oldType && info.newType && info.oldType !== info.newType && v.toLowerCase() === info.oldType) return [name, info.newType];
      return [name, value];
    });
  }

  function blockedError(err) {
    return new TypeError(err instanceof Blocked ? err.message : `artshade: ${err?.message ?? err}`);
  }

  // -- fetch ----------------------------------------------------------------------------------------------

  const nativeFetch = window.fetch;
  const REQUEST_TYPES = /^(image\/|application\/octet-stream|multipart\/form-data)/i;

  async function heldFetch(self, input, init) {
    try {
      if (init?.body != null) {
        const info = await transformBody(init.body);
        if (!info.changed) return nativeFetch.call(self, input, init);
        const given = init.headers ?? (input instanceof Request ? input.headers : undefined);
        const headers = given === undefined ? undefined : new Headers(fixPairs([...new Headers(given)], info));
        if (info.body instanceof FormData && headers) headers.delete('content-type'); // new boundary
        return nativeFetch.call(self, input, { ...init, body: info.body, headers });
      }
      const request = input;
      const multipart = /multipart\/form-data/i.test(request.headers.get('content-type') ?? '');
      const info = await transformBody(multipart ? await request.clone().formData() : await request.clone().blob());
      if (!info.changed) return nativeFetch.call(self, input, init);
      const headers = new Headers(fixPairs([...request.headers], info));
      if (info.body instanceof FormData) headers.delete('content-type');
      return nativeFetch.call(self, new Request(request, { body: info.body, headers, duplex: 'half' }), init);
    } catch (err) {
      if (err instanceof Blocked) throw blockedError(err);
      throw err;
    }
  }

  window.fetch = function fetch(input, init) {
    if (enabled === false) return nativeFetch.apply(this, arguments);
    const bodyMay = init?.body != null && mayCarryImage(init.body);
    const requestMay = init?.body == null && input instanceof Request && !['GET', 'HEAD'].includes(input.method) &&
      REQUEST_TYPES.test(input.headers.get('content-type') ?? '');
    if (!bodyMay && !requestMay) return nativeFetch.apply(this, arguments);
    return heldFetch(this, input, init);
  };

  // -- XMLHttpRequest ---------------------------------------------------------------------------------------

  const XHR = XMLHttpRequest.prototype;
  const nativeOpen = XHR.open;
  const nativeSetHeader = XHR.setRequestHeader;
  const nativeSend = XHR.send;
  const meta = new WeakMap(); // xhr -> {async, headers: [[name, value]]}

  XHR.open = function open(method, url, async) {
    meta.set(this, { async: arguments.length < 3 || Boolean(async), headers: [] });
    return nativeOpen.apply(this, arguments);
  };

  XHR.setRequestHeader = function setRequestHeader(name, value) {
    const m = meta.get(this);
    if (!m || this.readyState !== XMLHttpRequest.OPENED || m.sent) return nativeSetHeader.apply(this, arguments);
    m.headers.push([String(name), String(value)]); // applied at send, so a length can still be corrected
    return undefined;
  };

  function applyHeaders(xhr, pairs) {
    for (const [name, value] of pairs) nativeSetHeader.call(xhr, name, value);
  }

  function fail(xhr, message) {
    console.warn(message);
    for (const type of ['error', 'loadend']) {
      const event = new ProgressEvent(type);
      xhr.dispatchEvent(event);
    }
  }

  XHR.send = function send(body) {
    const m = meta.get(this);
    if (!m || m.sent) return nativeSend.apply(this, arguments);
    m.sent = true;
    if (enabled === false || !mayCarryImage(body)) {
      applyHeaders(this, m.headers);
      return nativeSend.apply(this, arguments);
    }
    if (!m.async) {
      throw new DOMException('artshade: a synchronous upload of an image cannot be protected', 'NetworkError');
    }
    transformBody(body).then((info) => {
      if (this.readyState !== XMLHttpRequest.OPENED) return; // aborted or re-opened meanwhile
      const pairs = fixPairs(m.headers, info);
      applyHeaders(this, info.body instanceof FormData && info.changed
        ? pairs.filter(([n]) => n.toLowerCase() !== 'content-type') : pairs);
      nativeSend.call(this, info.changed ? info.body : body);
    }, (err) => fail(this, blockedError(err).message));
    return undefined;
  };

  // -- showOpenFilePicker ------------------------------------------------------------------------------------

  if (typeof window.showOpenFilePicker === 'function') {
    const nativePicker = window.showOpenFilePicker;
    const wrap = (handle) => new Proxy(handle, {
      get(target, key) {
        if (key === 'getFile') {
          return async () => {
            const file = await target.getFile();
            if (enabled === false || !candidateBlob(file)) return file;
            try {
              const [out] = await shade([file]);
              return out ?? file;
            } catch (err) {
              throw new DOMException(blockedError(err).message, 'NotAllowedError');
            }
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    window.showOpenFilePicker = async function showOpenFilePicker(...args) {
      const handles = await nativePicker.apply(this, args);
      return handles.map(wrap);
    };
  }
})();
