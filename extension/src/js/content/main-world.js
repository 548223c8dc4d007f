// MAIN-world script (document_start, every frame of an enabled site, also the about:blank frames a page
// makes): guards every exit page code can send an image through without a file input, drop or paste event
// the content script sees.  An image body is held until the shaded bytes are back; if shading fails the
// request fails and nothing is sent; if the page sends it again, it is held and shaded again.
//
//   fetch (Blob, File, ArrayBuffer, typed array, DataView, FormData, ReadableStream bodies, text bodies with
//   a picture written into them; Request objects, whatever their body), XMLHttpRequest.send, navigator.sendBeacon, WebSocket.send, FileSystemFileHandle.getFile
//   (showOpenFilePicker and every other handle), and workers: a dedicated worker starts from a small
//   bootstrap that installs the same guards inside it (its fetch and XHR ask this page to shade); a shared
//   worker keeps its identity across tabs, so instead the images a page posts into it are shaded first.
//
// Images are recognised by their bytes (JPEG, PNG, WebP, TIFF), whatever type the Blob claims.  The bytes
// go to the content script over a MessageChannel whose port only the two scripts hold.
(() => {
  'use strict';
  const FLAG = Symbol.for('artshade.main-world');
  if (window[FLAG]) return;
  Object.defineProperty(window, FLAG, { value: true });

  const HANDSHAKE_TIMEOUT_MS = 15000;
  const nativePortPost = MessagePort.prototype.postMessage; // the guards below wrap the prototype's
  // Registered for an enabled site, this script runs at document_start, before any of the page's code: no
  // page listener can be ahead of the content script's for the hello below, so the port reaches it.  Put into
  // a tab that was open before the site was enabled, it runs after the page's code, which may have taken
  // anything this script would use (the hello's port, the browser's own fetch).  No handshake inside the page
  // can be authenticated against code that ran first, so such a tab is not served at all: no hello is
  // offered, no port is asked anything, and every image upload is refused with "reload this tab" (after a
  // reload the registered scripts run first again).  The content script, injected just before, marks such a
  // document; a top frame whose scripts already ran counts as late too, should the page hide that mark.  In
  // a frame the page made (about:blank), where this script may also run after page code, the port's "off"
  // is never taken: every image upload there is held and asked about (the content script answers "pass"
  // when the site is not enabled).
  const LATE_ATTR = 'data-artshade-late';
  const AFTER_PAGE = document.readyState !== 'loading' || document.scripts.length > 0;
  const LATE = document.documentElement?.hasAttribute(LATE_ATTR) || (window === window.top && AFTER_PAGE);
  const RELOAD = 'artshade was turned on after this tab opened: reload this tab to protect uploads in it';

  // -- the private channel to the content script ------------------------------------------------------------

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
      for (const [message, transfer] of queued.splice(0)) nativePortPost.call(port, message, transfer);
    }
    if (from !== port || !data) return;
    if (data.type === 'state') {
      if (!AFTER_PAGE) enabled = Boolean(data.enabled);
      return;
    }
    const entry = waiting.get(data.id);
    if (!entry) return;
    waiting.delete(data.id);
    clearTimeout(entry.timer);
    entry.resolve(data);
  }

  if (!LATE) {
    window.addEventListener('artshade:content-hello', (event) => {
      event.stopImmediatePropagation();
      if (!port) offer();
    }, true);
    offer();
  }

  /** The page's link: items [{name, type, lastModified, buffer}] -> reply {kind: ok | blocked | pass, files?, message?}. */
  const pageLink = {
    enabled: () => enabled,
    shade(items) {
      if (LATE) {
        window.dispatchEvent(new Event('artshade:late-blocked')); // the content script shows the card
        return Promise.resolve({ kind: 'blocked', message: RELOAD });
      }
      return new Promise((resolve) => {
        const id = nextId++;
        const timer = port ? null : setTimeout(() => {
          waiting.delete(id);
          resolve({ kind: 'blocked', message: 'artshade is not ready on this page; reload it' });
        }, HANDSHAKE_TIMEOUT_MS);
        waiting.set(id, { resolve, timer });
        const message = { id, type: 'shade', files: items };
        const transfer = items.map((i) => i.buffer);
        if (port) nativePortPost.call(port, message, transfer);
        else queued.push([message, transfer]);
      });
    },
  };

  guard(window, pageLink, String(guard), null);

  /**
   * Install the upload guards into `scope`: this window, or (serialised with Function.prototype.toString
   * into a worker's bootstrap) a worker's global scope.  It must therefore use nothing from outside itself.
   * `link` shades for it (null in a worker: it links to the scope that started it); `source` is this
   * function's own text, for the workers it starts in turn; `base` is a worker's real script URL (null in a
   * window): the bootstrap runs from a blob: URL, so relative URLs are resolved against `base`.
   */
  function guard(scope, link, source, base) {
    const inWorker = base !== null;
    const LINK_KEY = 'artshade:guard-link';
    const nativePostMessage = scope.MessagePort.prototype.postMessage;
    const tag = (v) => Object.prototype.toString.call(v).slice(8, -1);
    const isBlob = (v) => v instanceof scope.Blob || tag(v) === 'Blob' || tag(v) === 'File';
    const isFile = (v) => v instanceof scope.File || tag(v) === 'File';
    const isFormData = (v) => v instanceof scope.FormData || tag(v) === 'FormData';
    const isBuffer = (v) => v instanceof ArrayBuffer || tag(v) === 'ArrayBuffer' || ArrayBuffer.isView(v);
    const isStream = (v) => typeof scope.ReadableStream === 'function' && (v instanceof scope.ReadableStream || tag(v) === 'ReadableStream');
    const isRequest = (v) => v instanceof scope.Request || tag(v) === 'Request';
    const isParams = (v) => typeof scope.URLSearchParams === 'function' && (v instanceof scope.URLSearchParams || tag(v) === 'URLSearchParams');
    // An image written into text: a data: URL, or a base64 run that starts as an image file does (JPEG, PNG,
    // WebP, TIFF, GIF).  JSON bodies and form-encoded fields carry pictures this way.
    const BASE64_IMAGE = /(data:image\/[a-z0-9.+-]+;base64,)?((?:\/9j\/|iVBORw0KGgo|UklGR|SUkqA|TU0AK|R0lGOD)[A-Za-z0-9+/]{40,}={0,2})/g;
    const bytesOf = (v) => (ArrayBuffer.isView(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(v));
    const warn = (message) => scope.console?.warn(message);

    if (!link) link = linkToParent();

    function resolveURL(url) {
      if (!inWorker || !(typeof url === 'string' || tag(url) === 'URL')) return url;
      try {
        return new URL(String(url), base).href;
      } catch {
        return url; // let the native call throw its own error
      }
    }

    // -- images and shading -------------------------------------------------------------------------------

    class Blocked extends Error {}

    // @inline content/common.js: picture sniffing

    /** Images by their bytes: what the engine shades, and the formats it cannot (GIF, BMP, HEIC, AVIF), to
     * which the content script applies the site's policy ("not protected: this format"): none pass silently. */
    function isImage(b) {
      return b.length >= 12 && (sniffImage(b) !== null || otherImageFormat(b) !== null);
    }

    async function blobIsImage(blob) {
      return isImage(new Uint8Array(await blob.slice(0, 16).arrayBuffer()));
    }

    /** blobs (images) -> [Blob | null (leave as is)]; throws Blocked. */
    async function shade(blobs) {
      if (!blobs.length) return [];
      const items = await Promise.all(blobs.map(async (f) => ({
        name: f.name ?? 'image', type: f.type, lastModified: f.lastModified ?? Date.now(), buffer: await f.arrayBuffer(),
      })));
      let reply;
      try {
        reply = await link.shade(items);
      } catch (err) {
        throw new Blocked(`artshade blocked this upload: ${err?.message ?? err}`);
      }
      if (reply?.kind === 'blocked') throw new Blocked(`artshade blocked this upload: ${reply.message}`);
      if (reply?.kind === 'pass') return blobs.map(() => null);
      if (reply?.kind !== 'ok' || !Array.isArray(reply.files)) throw new Blocked('artshade blocked this upload: no answer');
      return blobs.map((blob, i) => {
        const f = reply.files[i];
        if (!f) return null;
        return isFile(blob)
          ? new scope.File([f.buffer], f.name, { type: f.type, lastModified: f.lastModified })
          : new scope.Blob([f.buffer], { type: f.type });
      });
    }

    function textCarries(text) {
      BASE64_IMAGE.lastIndex = 0;
      return typeof text === 'string' && text.length > 40 && BASE64_IMAGE.test(text);
    }

    // @inline content/common.js: base64

    /** ``text`` with every image written into it (base64, data: URL) shaded; throws Blocked. */
    async function transformText(text) {
      const found = [];
      BASE64_IMAGE.lastIndex = 0;
      for (const m of text.matchAll(BASE64_IMAGE)) {
        let bytes;
        try {
          bytes = fromBase64(m[2]);
        } catch {
          continue;
        }
        if (isImage(bytes)) found.push({ at: m.index, length: m[0].length, prefix: m[1], bytes });
      }
      if (!found.length) return null;
      const outs = await shade(found.map((f) => new scope.Blob([f.bytes])));
      if (!outs.some(Boolean)) return null;
      let result = '';
      let from = 0;
      for (const [k, f] of found.entries()) {
        const out = outs[k];
        if (!out) continue;
        const shaded = toBase64(new Uint8Array(await out.arrayBuffer()));
        const prefix = f.prefix ? `data:${out.type || 'image/png'};base64,` : '';
        result += text.slice(from, f.at) + prefix + shaded;
        from = f.at + f.length;
      }
      return result + text.slice(from);
    }

    /** Could this body carry an image?  Decided at once; Blobs and streams are looked into later. */
    function mayCarry(body) {
      if (typeof body === 'string') return textCarries(body);
      if (isParams(body)) return textCarries(decodeURIComponent(String(body).replace(/\+/g, ' ')));
      if (body == null || typeof body !== 'object') return false;
      if (isBlob(body) || isStream(body)) return true;
      if (isBuffer(body)) return isImage(bytesOf(body));
      if (isFormData(body)) {
        for (const [, value] of scope.FormData.prototype.entries.call(body)) if (isBlob(value) || textCarries(value)) return true;
      }
      return false;
    }

    /** The text of a Blob that may be text (no NUL byte in its first KiB), or null: a Request's body. */
    async function textOf(blob) {
      if (!blob.size) return null;
      const head = new Uint8Array(await blob.slice(0, 1024).arrayBuffer());
      return head.includes(0) ? null : blob.text();
    }

    /** A Request body that is text (JSON, a form-encoded string, ...) with the pictures written into it
     * shaded: -> {body: string, changed}; throws Blocked. */
    async function transformRequestText(blob, type) {
      const same = { body: blob, changed: false };
      const text = await textOf(blob);
      if (text === null) return same;
      if (!/x-www-form-urlencoded/i.test(type) && textCarries(text)) {
        const shaded = await transformText(text);
        return shaded === null ? same : { body: shaded, changed: true };
      }
      let decoded;
      try {
        decoded = decodeURIComponent(text.replace(/\+/g, ' '));
      } catch {
        return same;
      }
      if (!textCarries(decoded)) return same; // (a picture cut short by an escape is refused by the daemon)
      const info = await transformBody(new scope.URLSearchParams(text)); // form-encoded: '+' and '/' escaped
      return info.changed ? { body: String(info.body), changed: true } : same;
    }

    /** -> {body, changed, oldSize?, newSize?, oldType?, newType?}; throws Blocked. */
    async function transformBody(body) {
      const same = { body, changed: false };
      if (typeof body === 'string') {
        const text = await transformText(body);
        return text === null ? same : { body: text, changed: true };
      }
      if (isParams(body)) {
        const pairs = [...body];
        const values = await Promise.all(pairs.map(([, v]) => (textCarries(v) ? transformText(v) : null)));
        if (!values.some((v) => v !== null)) return same;
        const params = new scope.URLSearchParams();
        pairs.forEach(([name, value], i) => params.append(name, values[i] ?? value));
        return { body: params, changed: true };
      }
      if (isBlob(body)) {
        if (!(await blobIsImage(body))) return same;
        const [out] = await shade([body]);
        if (!out) return same;
        return { body: out, changed: true, oldSize: body.size, newSize: out.size, oldType: body.type, newType: out.type };
      }
      if (isBuffer(body)) {
        const bytes = bytesOf(body);
        if (!isImage(bytes)) return same;
        const [out] = await shade([new scope.Blob([bytes])]);
        if (!out) return same;
        const shaded = new Uint8Array(await out.arrayBuffer());
        return { body: shaded, changed: true, oldSize: bytes.length, newSize: shaded.length, oldType: null, newType: out.type };
      }
      if (isFormData(body)) {
        const entries = [...scope.FormData.prototype.entries.call(body)];
        const flags = await Promise.all(entries.map(([, v]) => (isBlob(v) ? blobIsImage(v) : false)));
        const picks = entries.map((_, i) => i).filter((i) => flags[i]);
        const outs = await shade(picks.map((i) => entries[i][1]));
        // text fields carrying a picture (a data: URL, base64)
        const texts = await Promise.all(entries.map(([, v]) => (textCarries(v) ? transformText(v) : null)));
        if (!outs.some(Boolean) && !texts.some((t) => t !== null)) return same;
        const replaced = new Map(picks.map((i, k) => [i, outs[k]]));
        const form = new scope.FormData();
        entries.forEach(([name, value], i) => {
          const next = replaced.get(i);
          if (next) form.append(name, next, entries[i][1].name ?? next.name ?? 'blob');
          else if (isBlob(value)) form.append(name, value, value.name ?? 'blob');
          else form.append(name, texts[i] ?? value);
        });
        return { body: form, changed: true };
      }
      if (isStream(body)) {
        // Peek at the first bytes: an image is read whole and shaded; anything else streams on untouched.
        const reader = body.getReader();
        const chunks = [];
        let size = 0;
        let done = false;
        while (size < 16 && !done) {
          const next = await reader.read();
          done = next.done;
          if (!done) {
            chunks.push(next.value);
            size += next.value?.byteLength ?? 0;
          }
        }
        const head = new Uint8Array(Math.min(size, 16));
        let at = 0;
        for (const c of chunks) {
          if (at >= head.length || !ArrayBuffer.isView(c)) break;
          const u = bytesOf(c).subarray(0, head.length - at);
          head.set(u, at);
          at += u.length;
        }
        if (!isImage(head)) {
          const rest = new scope.ReadableStream({
            start(controller) {
              for (const c of chunks) controller.enqueue(c);
              if (done) controller.close();
            },
            async pull(controller) {
              const next = await reader.read();
              if (next.done) controller.close();
              else controller.enqueue(next.value);
            },
            cancel(reason) {
              return reader.cancel(reason);
            },
          });
          return { body: rest, changed: false, replacedStream: true };
        }
        while (!done) {
          const next = await reader.read();
          done = next.done;
          if (!done) chunks.push(next.value);
        }
        const whole = new scope.Blob(chunks);
        const [out] = await shade([whole]);
        return { body: out ?? whole, changed: true, oldSize: null, newSize: (out ?? whole).size, oldType: null, newType: (out ?? whole).type };
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

    const nativeFetch = scope.fetch;
    const NativeRequest = scope.Request;

    async function heldFetch(self, input, init) {
      try {
        if (init?.body != null) {
          const info = await transformBody(init.body);
          if (!info.changed) return nativeFetch.call(self, input, info.replacedStream ? { ...init, body: info.body } : init);
          const given = init.headers ?? (isRequest(input) ? input.headers : undefined);
          const headers = given === undefined ? undefined : new scope.Headers(fixPairs([...new scope.Headers(given)], info));
          if (isFormData(info.body) && headers) headers.delete('content-type'); // new boundary
          return nativeFetch.call(self, input, { ...init, body: info.body, headers });
        }
        // A Request that carries its own body (and init, if given, is folded into it first).
        const request = init ? new NativeRequest(input, init) : input;
        const multipart = /multipart\/form-data/i.test(request.headers.get('content-type') ?? '');
        const body = multipart ? await request.clone().formData() : await request.clone().blob();
        let info = await transformBody(body);
        // Not a picture itself: a text body (JSON, form-encoded) may carry one written into it.
        if (!info.changed && !multipart) info = await transformRequestText(body, request.headers.get('content-type') ?? '');
        if (!info.changed) return nativeFetch.call(self, request);
        const headers = new scope.Headers(fixPairs([...request.headers], info));
        if (isFormData(info.body)) headers.delete('content-type');
        return nativeFetch.call(self, new NativeRequest(request, { body: info.body, headers, duplex: 'half' }));
      } catch (err) {
        if (err instanceof Blocked) throw blockedError(err);
        throw err;
      }
    }

    if (typeof nativeFetch === 'function') {
      scope.fetch = function fetch(input, init) {
        input = resolveURL(input);
        if (link.enabled() === false) return nativeFetch.call(this, input, init);
        const hasBody = init?.body != null;
        if (hasBody && mayCarry(init.body)) return heldFetch(this, input, init);
        if (!hasBody && isRequest(input) && !['GET', 'HEAD'].includes(input.method)) return heldFetch(this, input, init);
        return nativeFetch.call(this, input, init);
      };
    }

    // -- XMLHttpRequest -------------------------------------------------------------------------------------

    const XHR = scope.XMLHttpRequest?.prototype;
    if (XHR) {
      const nativeOpen = XHR.open;
      const nativeSetHeader = XHR.setRequestHeader;
      const nativeSend = XHR.send;
      const nativeAbort = XHR.abort;
      const OPENED = 1;
      const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
      // xhr -> {async, headers: [[name, value]], state}: 'open' (send not called, or called and refused:
      // a retry is protected again), 'holding' (being shaded), 'native' (handed to the browser).
      const meta = new WeakMap();

      XHR.open = function open(method, url) {
        meta.set(this, { async: arguments.length < 3 || Boolean(arguments[2]), headers: [], state: 'open' });
        const args = [...arguments];
        if (args.length >= 2) args[1] = resolveURL(url);
        return nativeOpen.apply(this, args);
      };

      XHR.setRequestHeader = function setRequestHeader(name, value) {
        const m = meta.get(this);
        if (!m || m.state === 'native' || this.readyState !== OPENED) return nativeSetHeader.apply(this, arguments);
        if (m.state === 'holding') throw new DOMException('the request is already being sent', 'InvalidStateError');
        if (!TOKEN.test(String(name)) || /[\0\r\n]/.test(String(value))) {
          throw new DOMException(`'${name}' is not a valid HTTP header name or value`, 'SyntaxError');
        }
        m.headers.push([String(name), String(value)]); // applied at send, so a length can still be corrected
        return undefined;
      };

      const applyHeaders = (xhr, pairs) => {
        for (const [name, value] of pairs) nativeSetHeader.call(xhr, name, value);
      };

      const dispatch = (xhr, types) => {
        for (const type of types) xhr.dispatchEvent(new scope.ProgressEvent(type));
      };

      XHR.send = function send(body) {
        const m = meta.get(this);
        if (!m || m.state === 'native') return nativeSend.apply(this, arguments);
        if (m.state === 'holding') throw new DOMException('the request is already being sent', 'InvalidStateError');
        if (link.enabled() === false || !mayCarry(body)) {
          m.state = 'native';
          applyHeaders(this, m.headers);
          return nativeSend.apply(this, arguments);
        }
        if (!m.async) {
          // A synchronous request cannot wait for shading; a Blob cannot be looked into synchronously.
          const plainBlob = isBlob(body) && !/^(image\/|application\/octet-stream$|$)/i.test(body.type);
          if (!plainBlob) throw new DOMException('artshade: a synchronous upload of an image cannot be protected', 'NetworkError');
          m.state = 'native';
          applyHeaders(this, m.headers);
          return nativeSend.apply(this, arguments);
        }
        m.state = 'holding';
        const xhr = this;
        transformBody(body).then((info) => {
          if (meta.get(xhr) !== m || m.state !== 'holding' || xhr.readyState !== OPENED) return; // re-opened or aborted
          m.state = 'native';
          const pairs = fixPairs(m.headers, info);
          applyHeaders(xhr, info.changed && isFormData(info.body) ? pairs.filter(([n]) => n.toLowerCase() !== 'content-type') : pairs);
          nativeSend.call(xhr, info.changed ? info.body : body);
        }, (err) => {
          if (meta.get(xhr) !== m || m.state !== 'holding') return;
          m.state = 'open'; // nothing was sent: a retry goes through protection again
          warn(blockedError(err).message);
          dispatch(xhr, ['error', 'loadend']);
        });
        return undefined;
      };

      XHR.abort = function abort() {
        const m = meta.get(this);
        if (m?.state === 'holding') {
          m.state = 'open';
          dispatch(this, ['abort', 'loadend']);
          return undefined;
        }
        return nativeAbort.apply(this, arguments);
      };
    }

    // -- HTMLFormElement.submit(): no submit event, so the content script cannot hold it ----------------------
    // While a file input of the form is being shaded (the content script marks it; the input holds nothing
    // meanwhile) the submission waits; if that upload was blocked it is dropped.

    const FORM = scope.HTMLFormElement?.prototype;
    if (FORM && typeof FORM.submit === 'function' && scope.MutationObserver) {
      const nativeFormSubmit = FORM.submit;
      const SHADING_ATTR = 'data-artshade-shading';
      const marks = (form) => [...form.elements]
        .filter((e) => e instanceof scope.HTMLInputElement && e.type === 'file')
        .map((e) => e.getAttribute(SHADING_ATTR));
      FORM.submit = function submit() {
        const form = this;
        if (!marks(form).includes('shading')) return nativeFormSubmit.apply(form, arguments);
        const watcher = new scope.MutationObserver(() => {
          const now = marks(form);
          if (now.includes('shading')) return;
          watcher.disconnect();
          if (!now.includes('blocked')) nativeFormSubmit.call(form);
        });
        watcher.observe(scope.document, { attributes: true, attributeFilter: [SHADING_ATTR], subtree: true });
        return undefined;
      };
    }

    // -- navigator.sendBeacon -------------------------------------------------------------------------------

    const NAV = scope.Navigator?.prototype;
    if (NAV && typeof NAV.sendBeacon === 'function') {
      const nativeBeacon = NAV.sendBeacon;
      NAV.sendBeacon = function sendBeacon(url, data) {
        if (link.enabled() === false || arguments.length < 2 || !mayCarry(data)) return nativeBeacon.apply(this, arguments);
        const target = new URL(String(url), scope.document.baseURI).href; // resolved now, as the browser would
        const navigator = this;
        transformBody(data).then(
          (info) => nativeBeacon.call(navigator, target, info.changed ? info.body : data),
          (err) => warn(blockedError(err).message),
        );
        return true; // queued; a refused image is dropped, never sent
      };
    }

    // -- WebSocket.send (messages keep their order; a refused image closes the socket) -------------------

    const WS = scope.WebSocket?.prototype;
    if (WS) {
      const nativeSend = WS.send;
      const nativeClose = WS.close;
      const chains = new WeakMap(); // socket -> promise of the messages still held
      WS.send = function send(data) {
        const socket = this;
        const pending = chains.get(socket);
        if (!pending && (link.enabled() === false || !mayCarry(data))) return nativeSend.apply(socket, arguments);
        if (pending === 'closed') return undefined;
        const run = (pending ?? Promise.resolve()).then(async () => {
          const info = await transformBody(data);
          if (chains.get(socket) !== 'closed') nativeSend.call(socket, info.changed ? info.body : data);
        }).catch((err) => {
          chains.set(socket, 'closed');
          warn(blockedError(err).message);
          nativeClose.call(socket, 4000, 'artshade blocked an image upload');
        });
        chains.set(socket, run);
        run.then(() => chains.get(socket) === run && chains.delete(socket));
        return undefined;
      };
    }

    // -- file handles (showOpenFilePicker, directory pickers, drag-and-drop handles) ------------------------

    const HANDLE = scope.FileSystemFileHandle?.prototype;
    if (HANDLE && typeof HANDLE.getFile === 'function') {
      const nativeGetFile = HANDLE.getFile;
      HANDLE.getFile = async function getFile() {
        const file = await nativeGetFile.apply(this, arguments);
        if (link.enabled() === false || !(await blobIsImage(file))) return file;
        try {
          const [out] = await shade([file]);
          return out ?? file;
        } catch (err) {
          throw new DOMException(blockedError(err).message, 'NotAllowedError');
        }
      };
    }

    // -- navigator.clipboard.read(): pictures read from the clipboard come out shaded --------------------------

    const CLIP = scope.Clipboard?.prototype;
    if (CLIP && typeof CLIP.read === 'function' && typeof scope.ClipboardItem === 'function') {
      const nativeRead = CLIP.read;
      CLIP.read = async function read() {
        const items = await nativeRead.apply(this, arguments);
        if (link.enabled() === false) return items;
        return Promise.all([...items].map(async (item) => {
          const types = [...item.types];
          const blobs = await Promise.all(types.map((t) => item.getType(t)));
          const flags = await Promise.all(blobs.map((b) => blobIsImage(b)));
          if (!flags.some(Boolean)) return item;
          let outs;
          try {
            outs = await shade(blobs.filter((_, i) => flags[i]));
          } catch (err) {
            throw new DOMException(blockedError(err).message, 'NotAllowedError');
          }
          const parts = {};
          let k = 0;
          types.forEach((t, i) => {
            parts[t] = flags[i] ? (outs[k++] ?? blobs[i]) : blobs[i];
          });
          return new scope.ClipboardItem(parts);
        }));
      };
    }

    // -- messages into workers: images are shaded before the worker gets them -------------------------------

    /** A postMessage that holds messages carrying images (and the ones after them) until they are shaded. */
    function guardedPost(nativePost) {
      const chains = new WeakMap();
      return function postMessage(message) {
        const target = this;
        const args = [...arguments];
        const found = [];
        collect(args, 0, found, new Set(), 0);
        const pending = chains.get(target);
        if (!pending && (link.enabled() === false || !found.length)) return nativePost.apply(target, args);
        const run = (pending ?? Promise.resolve()).then(async () => {
          try {
            await replaceImages(found, args);
          } catch (err) {
            warn(blockedError(err).message); // the message is dropped: the worker never gets the original
            return;
          }
          nativePost.apply(target, args);
        });
        chains.set(target, run);
        run.then(() => chains.get(target) === run && chains.delete(target));
        return undefined;
      };
    }

    /** Blobs and image buffers inside a message: [holder, key, value], looked for a few levels deep. */
    function collect(holder, key, found, seen, depth) {
      const value = holder instanceof Map ? holder.get(key) : holder instanceof Set ? key : holder[key];
      if (value == null || typeof value !== 'object' || seen.has(value) || depth > 8 || seen.size > 5000) return;
      seen.add(value);
      if (isBlob(value) || (isBuffer(value) && isImage(bytesOf(value)))) {
        found.push([holder, key, value]);
      } else if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) collect(value, i, found, seen, depth + 1);
      } else if (value instanceof Map) {
        for (const k of value.keys()) collect(value, k, found, seen, depth + 1);
      } else if (value instanceof Set) {
        for (const k of [...value]) collect(value, k, found, seen, depth + 1);
      } else if ([Object.prototype, null].includes(Object.getPrototypeOf(value))) {
        for (const k of Object.keys(value)) collect(value, k, found, seen, depth + 1);
      }
    }

    async function replaceImages(found, args) {
      const flags = await Promise.all(found.map(([, , v]) => (isBlob(v) ? blobIsImage(v) : true)));
      const images = found.filter((_, i) => flags[i]);
      const outs = await shade(images.map(([, , v]) => (isBlob(v) ? v : new scope.Blob([bytesOf(v)]))));
      for (const [k, [holder, key, old]] of images.entries()) {
        const out = outs[k];
        if (!out) continue;
        let next = out;
        if (isBuffer(old)) {
          const buffer = await out.arrayBuffer();
          next = ArrayBuffer.isView(old) ? new Uint8Array(buffer) : buffer;
          const transfer = Array.isArray(args[1]) ? args[1] : args[1]?.transfer;
          const at = Array.isArray(transfer) ? transfer.indexOf(ArrayBuffer.isView(old) ? old.buffer : old) : -1;
          if (at >= 0) transfer[at] = buffer;
        }
        if (holder instanceof Map) holder.set(key, next);
        else if (holder instanceof Set) {
          holder.delete(old);
          holder.add(next);
        } else holder[key] = next;
      }
    }

    // -- workers ----------------------------------------------------------------------------------------------

    /** Answer a worker's requests (`{type: 'shade', id, files}`) on `channelPort` with this scope's link. */
    function serveWorker(channelPort) {
      channelPort.onmessage = (event) => {
        const m = event.data;
        if (m?.type !== 'shade' || !Array.isArray(m.files)) return;
        const answer = link.enabled() === false ? Promise.resolve({ kind: 'pass' }) : Promise.resolve().then(() => link.shade(m.files));
        answer.then((reply) => reply, (err) => ({ kind: 'blocked', message: String(err?.message ?? err) })).then((reply) => {
          const transfer = reply.kind === 'ok' ? reply.files.filter(Boolean).map((f) => f.buffer) : [];
          nativePostMessage.call(channelPort, { ...reply, id: m.id }, transfer);
        });
      };
    }

    const NativeWorker = scope.Worker;
    if (typeof NativeWorker === 'function') {
      const nativeWorkerPost = NativeWorker.prototype.postMessage;
      const baseURI = () => (inWorker ? base : scope.document.baseURI);
      // A worker that cannot start from the guarded bootstrap: the site's own script, with what goes in shaded.
      const entryGuarded = (url, options, newTarget, why) => {
        const worker = Reflect.construct(NativeWorker, [url, options], newTarget);
        Object.defineProperty(worker, 'postMessage', { value: guardedPost(nativeWorkerPost), configurable: true, writable: true });
        warn(`artshade: ${why}; images sent into this worker are shaded first`);
        return worker;
      };
      // A module worker gets messages as soon as the bootstrap has run, before the site's module (imported
      // from it) has set its handlers: hold them until it has, then hand them on in order.
      const moduleStart = (href) => `{
  const held = [];
  let loaded = false;
  const hold = (event) => { if (!loaded) { event.stopImmediatePropagation(); held.push(event); } };
  self.addEventListener('message', hold, true);
  import(${JSON.stringify(href)}).then(() => {
    loaded = true;
    for (const e of held.splice(0)) {
      self.dispatchEvent(new MessageEvent('message', { data: e.data, ports: [...e.ports], origin: e.origin, lastEventId: e.lastEventId }));
    }
  }, (err) => setTimeout(() => { throw err; }));
}`;
      const Worker = function Worker(url, options) {
        if (!new.target) throw new TypeError("Failed to construct 'Worker': Please use the 'new' operator.");
        if (link.enabled() === false) return Reflect.construct(NativeWorker, [resolveURL(url), options], new.target);
        let script;
        try {
          script = new URL(String(url), baseURI());
        } catch {
          return Reflect.construct(NativeWorker, [url, options], new.target); // throws the browser's own error
        }
        const here = inWorker ? new URL(base).origin : scope.location.origin;
        if (script.origin !== here) return entryGuarded(url, options, new.target, `a ${script.protocol} worker runs apart`);
        const module = options?.type === 'module';
        const boot = [
          '"use strict";',
          `postMessage({ ${JSON.stringify(LINK_KEY)}: 'booted' });`,
          `{ const artshadeGuard = ${source};`,
          `  artshadeGuard(self, null, String(artshadeGuard), ${JSON.stringify(script.href)}); }`,
          module ? moduleStart(script.href) : `importScripts(${JSON.stringify(script.href)});`,
        ].join('\n');
        const bootURL = scope.URL.createObjectURL(new scope.Blob([boot], { type: 'text/javascript' }));
        let worker;
        try {
          worker = Reflect.construct(NativeWorker, [bootURL, options], new.target);
        } catch (err) {
          scope.URL.revokeObjectURL(bootURL); // refused at once (Trusted Types, an old browser's policy check)
          return entryGuarded(url, options, new.target, `this page does not allow guarded workers (${err?.message ?? err})`);
        }
        // The bootstrap says 'booted' first thing.  A page policy that refuses blob: workers shows only as an
        // error event before that: then the site's own script is started instead, behind this same object
        // (its events handed on, what the page posts into it shaded first).  Until one or the other, what the
        // page posts is kept back, so nothing is lost either way.
        let phase = 'starting';
        let inner = null;
        const kept = [];
        const innerPost = guardedPost(nativeWorkerPost);
        const nativeTerminate = NativeWorker.prototype.terminate;
        Object.defineProperty(worker, 'postMessage', {
          configurable: true,
          writable: true,
          value: function postMessage(...args) {
            if (phase === 'booted') return nativeWorkerPost.apply(worker, args);
            if (phase === 'fallback') return innerPost.apply(inner, args);
            kept.push(args);
            return undefined;
          },
        });
        Object.defineProperty(worker, 'terminate', {
          configurable: true,
          writable: true,
          value: function terminate() {
            inner?.terminate();
            return nativeTerminate.call(worker);
          },
        });
        worker.addEventListener('message', (event) => {
          if (phase !== 'starting' || event.data?.[LINK_KEY] !== 'booted') return;
          event.stopImmediatePropagation();
          phase = 'booted';
          scope.URL.revokeObjectURL(bootURL);
          for (const args of kept.splice(0)) nativeWorkerPost.apply(worker, args);
        }, true);
        worker.addEventListener('error', (event) => {
          if (phase !== 'starting') return;
          event.stopImmediatePropagation();
          event.preventDefault();
          scope.URL.revokeObjectURL(bootURL);
          phase = 'fallback';
          warn("artshade: this page's policy does not allow guarded workers; images sent into its workers are shaded first");
          try {
            inner = new NativeWorker(url, options);
          } catch (err) {
            worker.dispatchEvent(new scope.ErrorEvent('error', { message: String(err?.message ?? err), error: err }));
            return;
          }
          for (const type of ['message', 'messageerror']) {
            inner.addEventListener(type, (e) => worker.dispatchEvent(new scope.MessageEvent(type, { data: e.data, ports: [...e.ports] })));
          }
          inner.addEventListener('error', (e) => {
            const copy = new scope.ErrorEvent('error', {
              message: e.message, filename: e.filename, lineno: e.lineno, colno: e.colno, error: e.error, cancelable: true,
            });
            if (!worker.dispatchEvent(copy)) e.preventDefault();
          });
          for (const args of kept.splice(0)) innerPost.apply(inner, args);
        }, true);
        const channel = new scope.MessageChannel();
        serveWorker(channel.port1);
        nativeWorkerPost.call(worker, { [LINK_KEY]: true }, [channel.port2]);
        return worker;
      };
      Worker.prototype = NativeWorker.prototype;
      Object.defineProperty(Worker, 'name', { value: 'Worker' });
      scope.Worker = Worker;
    }

    const NativeSharedWorker = scope.SharedWorker;
    if (typeof NativeSharedWorker === 'function') {
      const nativePortPost = scope.MessagePort.prototype.postMessage;
      const SharedWorker = function SharedWorker(url, options) {
        if (!new.target) throw new TypeError("Failed to construct 'SharedWorker': Please use the 'new' operator.");
        const shared = Reflect.construct(NativeSharedWorker, [url, options], new.target);
        Object.defineProperty(shared.port, 'postMessage', { value: guardedPost(nativePortPost), configurable: true, writable: true });
        return shared;
      };
      SharedWorker.prototype = NativeSharedWorker.prototype;
      Object.defineProperty(SharedWorker, 'name', { value: 'SharedWorker' });
      scope.SharedWorker = SharedWorker;
    }

    // -- other messages that can carry an image: MessagePort, BroadcastChannel, a service worker, WebRTC --------
    // (after the workers above, which keep the native postMessage for their own links)

    for (const [type, method] of [['MessagePort', 'postMessage'], ['BroadcastChannel', 'postMessage'],
      ['ServiceWorker', 'postMessage'], ['RTCDataChannel', 'send']]) {
      const proto = scope[type]?.prototype;
      const native = proto?.[method];
      if (typeof native !== 'function') continue;
      Object.defineProperty(proto, method, { value: guardedPost(native), configurable: true, writable: true });
    }

    // -- inside a worker: the link to the page, and relative URLs ---------------------------------------------

    /** A worker's link: shading requests go to the scope that started it, over the port it sends first. */
    function linkToParent() {
      let parentPort = null;
      let next = 1;
      const held = [];
      const answers = new Map();
      scope.addEventListener('message', (event) => {
        if (parentPort || !event.data || event.data[LINK_KEY] !== true || !event.ports?.[0]) return;
        event.stopImmediatePropagation();
        parentPort = event.ports[0];
        parentPort.onmessage = (e) => {
          const resolve = answers.get(e.data?.id);
          if (!resolve) return;
          answers.delete(e.data.id);
          resolve(e.data);
        };
        for (const [m, t] of held.splice(0)) nativePostMessage.call(parentPort, m, t);
      }, true);
      return {
        enabled: () => null, // the page answers 'pass' when its site is off
        shade(items) {
          return new Promise((resolve) => {
            const id = next++;
            answers.set(id, resolve);
            const message = { type: 'shade', id, files: items };
            const transfer = items.map((i) => i.buffer);
            if (parentPort) nativePostMessage.call(parentPort, message, transfer);
            else held.push([message, transfer]);
          });
        },
      };
    }

    if (inWorker) {
      // The worker runs from a blob: URL; the site's script expects its own URL as the base.
      try {
        Object.defineProperty(scope, 'location', { value: new URL(base), configurable: true, enumerable: true });
      } catch {
        // keep the worker's own location
      }
      const nativeImport = scope.importScripts;
      if (typeof nativeImport === 'function') {
        scope.importScripts = function importScripts(...urls) {
          return nativeImport.apply(this, urls.map(resolveURL));
        };
      }
      for (const name of ['Request', 'EventSource', 'WebSocket']) {
        const Native = scope[name];
        if (typeof Native !== 'function') continue;
        scope[name] = new Proxy(Native, {
          construct(target, args, newTarget) {
            if (args.length) args[0] = resolveURL(args[0]);
            return Reflect.construct(target, args, newTarget);
          },
        });
      }
    }
  }
})();
