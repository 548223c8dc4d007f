// Content script (isolated world, document_start, all frames).  Catches uploads at capture phase before the
// page's own handlers: `input`/`change` on file inputs (also in open shadow roots), `drop` with files and
// `paste` with images.  It holds the event, has the images shaded by the background, puts the shaded files
// back and lets the page continue.  It also serves the MAIN-world script (fetch, XHR, FormData, picker)
// over a private MessageChannel.  It never talks to the daemon.
(() => {
  'use strict';
  if (globalThis.__artshadeContent) return;
  globalThis.__artshadeContent = true;

  // Put into a tab that was open before its site was enabled (registration.js marks it): the page's code ran
  // first and may hold anything the MAIN-world script would use, so this tab is not served.  Every image
  // upload in it is blocked, saying "reload this tab"; the popup says so too.
  const LATE = globalThis.__artshadeLate === true;
  const RELOAD = 'artshade was turned on after this tab opened: reload this tab to protect uploads in it';
  if (LATE) document.documentElement?.setAttribute('data-artshade-late', ''); // read by the MAIN-world script

  const api = globalThis.browser ?? globalThis.chrome;
  const PORT_NAME = 'artshade-rpc';
  const UNTYPED = new Set(['', 'application/octet-stream']);
  const ours = new WeakSet(); // events this script dispatched: never caught again
  const overlay = globalThis.artshadeOverlay;
  const { fromBase64, otherImageFormat, sha256Hex, sniffImage, toBase64 } = globalThis.artshadeCommon;

  // -- talking to the background --------------------------------------------------------------------------

  function lost() {
    const err = new Error('artshade lost contact with its background (it was updated or reloaded); reload this page');
    err.code = 'extension_gone';
    err.policy = 'block';
    return err;
  }

  function rpc(request, onProgress) {
    return new Promise((resolve, reject) => {
      let port;
      try {
        port = api.runtime.connect({ name: PORT_NAME });
      } catch {
        reject(lost());
        return;
      }
      let settled = false;
      port.onMessage.addListener((m) => {
        if (m.progress) onProgress?.(m.progress);
        if (!m.reply) return;
        settled = true;
        port.disconnect();
        if (m.reply.ok) resolve(m.reply.value);
        else reject(Object.assign(new Error(m.reply.error.message), m.reply.error));
      });
      port.onDisconnect.addListener(() => settled || reject(lost()));
      port.postMessage({ id: 1, request });
    });
  }

  // -- this site's state (asked again whenever the background says settings changed) --------------------

  let state = null;
  let statePromise = refresh();

  async function refresh() {
    try {
      state = await rpc({ action: 'getSiteState' });
    } catch (err) {
      state = { enabled: true, policy: 'block', error: err }; // fail closed
    }
    tellMain();
    return state;
  }

  api.runtime.onMessage.addListener((message) => {
    if (message?.action === 'siteStateChanged') statePromise = refresh();
  });

  // -- bytes ------------------------------------------------------------------------------------------------

  /** Worth holding an event for: images by their declared type (the bytes decide later). */
  function isCandidate(file) {
    return file instanceof Blob && (file.type.toLowerCase().startsWith('image/') || UNTYPED.has(file.type));
  }

  // Digests of bytes already settled in this frame: shaded results, and originals the artist let through
  // unprotected.  When the page then sends those files itself (fetch, XHR), the MAIN-world script asks
  // again and they pass without a second round of shading or a second question.
  const settled = new Set();

  // -- protecting a batch of files ---------------------------------------------------------------------------

  /** -> {kind: 'pass'} (leave as is) | {kind: 'ok', files, changed} | {kind: 'blocked', message}. */
  async function protect(files, anchor) {
    const current = await statePromise;
    if (!current.enabled) return { kind: 'pass' };
    const picks = [];
    const payload = [];
    const digests = [];
    const others = []; // [format, digest] of images in a format the engine cannot shade
    for (const [index, file] of files.entries()) {
      // The bytes decide, whatever type the file claims (the MAIN-world script sends mislabelled images).
      if (!(file instanceof Blob) || file.size < 12) continue;
      const head = new Uint8Array(await file.slice(0, 16).arrayBuffer());
      const shadeable = sniffImage(head) !== null;
      const other = shadeable ? null : otherImageFormat(head);
      if (!shadeable && !other) continue;
      const bytes = new Uint8Array(await file.arrayBuffer());
      const d = await sha256Hex(bytes);
      if (d && settled.has(d)) continue;
      if (other) {
        others.push([other, d]);
        continue;
      }
      picks.push(index);
      digests.push(d);
      payload.push({ name: file.name ?? '', type: file.type, data: toBase64(bytes) });
    }
    if (LATE && (payload.length || others.length)) {
      overlay.show(anchor).error(`Upload blocked, nothing was sent: ${RELOAD}`);
      return { kind: 'blocked', message: RELOAD };
    }
    if (others.length) {
      const verdict = await otherFormats(others, current, anchor);
      if (verdict) return verdict;
    }
    if (!payload.length) return { kind: 'pass' };
    const n = payload.length;
    const card = overlay.show(anchor);
    const what = n === 1 ? 'your image' : `${n} images`;
    card.working(`Protecting ${what}…`, 0);
    try {
      if (current.error) throw current.error;
      const result = await rpc({ action: 'shade', files: payload }, (p) => {
        const fraction = (p.index + Math.min(1, Math.max(0, p.progress))) / p.count;
        const which = p.count > 1 ? ` (${p.index + 1} of ${p.count})` : '';
        card.working(`Protecting ${what}${which}… ${p.stage || ''}`.trim(), fraction);
      });
      if (result.disabled) {
        card.close();
        return { kind: 'pass' };
      }
      const out = files.slice();
      const changed = files.map(() => false);
      const remembered = [];
      result.files.forEach((r, k) => {
        if (r.unchanged) return;
        const i = picks[k];
        const bytes = fromBase64(r.data);
        out[i] = new File([bytes], r.name || files[i].name || 'image', {
          type: r.type, lastModified: files[i].lastModified ?? Date.now(),
        });
        changed[i] = true;
        remembered.push(sha256Hex(bytes).then((d) => d && settled.add(d)));
      });
      await Promise.all(remembered);
      if (result.unprotected) digests.forEach((d) => d && settled.add(d));
      if (result.unprotected) card.warn(`Sent WITHOUT protection: ${result.unprotected.message}`);
      else card.done(n === 1 ? 'Protected ✓ — the site gets the shaded image' : `Protected ✓ — ${n} images shaded`);
      return { kind: 'ok', files: out, changed };
    } catch (err) {
      if (err.policy === 'ask') {
        const go = await card.ask(`${sentence(err.message)} Upload ${what} without protection?`);
        if (go) {
          digests.forEach((d) => d && settled.add(d));
          card.warn(`Sent WITHOUT protection (${err.message})`);
          return { kind: 'pass' };
        }
        card.error('Upload cancelled: the image was not protected.');
        return { kind: 'blocked', message: 'upload cancelled by the artist' };
      }
      const hint = err.hint ? ` — ${err.hint}` : '';
      card.error(`Upload blocked, nothing was sent: ${err.message}${hint}`);
      return { kind: 'blocked', message: err.message };
    }
  }

  /** Images the engine cannot shade follow the site's policy, saying so: block (the default), ask, or let
   * through with a warning.  -> a result that ends the batch, or null to go on with the others. */
  async function otherFormats(others, current, anchor) {
    const names = [...new Set(others.map(([f]) => f))].join(', ');
    const reason = `not protected: this format (${names}) cannot be shaded; use JPEG, PNG, WebP or TIFF`;
    const card = overlay.show(anchor);
    if (current.policy === 'allow') {
      others.forEach(([, d]) => d && settled.add(d));
      card.warn(`Sent WITHOUT protection — ${reason}`);
      return null;
    }
    if (current.policy === 'ask') {
      if (await card.ask(`${sentence(reason)} Upload it without protection?`)) {
        others.forEach(([, d]) => d && settled.add(d));
        card.warn(`Sent WITHOUT protection (${reason})`);
        return null;
      }
      card.error('Upload cancelled: the image was not protected.');
      return { kind: 'blocked', message: 'upload cancelled by the artist' };
    }
    card.error(`Upload blocked, nothing was sent: ${reason}`);
    return { kind: 'blocked', message: reason };
  }

  function sentence(text) {
    const t = String(text).trim();
    return `${t.charAt(0).toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? '' : '.'}`;
  }

  function hold(event) {
    event.stopImmediatePropagation();
    if (event.cancelable) event.preventDefault();
  }

  // Events this script dispatches are never caught again.  Dispatch is synchronous, so an untrusted event
  // of the same type that arrives while ours is being dispatched is ours (in Firefox an event made in the
  // page's realm, see transferEvent, is seen here through a wrapper that the WeakSet may not recognise).
  // Only that type: anything else the page's handlers dispatch meanwhile is still caught.
  let dispatching = null;
  const isOurs = (event) => ours.has(event) || (event.type === dispatching && !event.isTrusted);

  function dispatchOurs(target, event) {
    ours.add(event);
    const outer = dispatching;
    dispatching = event.type;
    try {
      (target?.isConnected ? target : document).dispatchEvent(event);
    } finally {
      dispatching = outer;
    }
  }

  // -- file inputs --------------------------------------------------------------------------------------------

  const holding = new WeakMap(); // input -> the FileList being protected
  const watchedRoots = new WeakSet();
  // While a pick is shaded its input holds nothing (the page reading `input.files`, `new FormData(form)` or
  // a plain form submission gets no file, never the original), and a submit of its form waits here until
  // the shaded files are in (or is dropped if the upload was blocked: the card says why).  The attribute
  // tells the MAIN-world script, whose `form.submit()` waits the same way; a page that removes it gains
  // nothing, the input is empty.
  const SHADING_ATTR = 'data-artshade-shading';
  const shading = new Set(); // inputs whose pick is being shaded
  const heldSubmits = new Map(); // form -> the submit button that sent it (or null)

  function startShading(input) {
    input.value = ''; // the original leaves the input; the shaded files come back into it
    shading.add(input);
    input.setAttribute(SHADING_ATTR, 'shading');
  }

  function endShading(input, blocked) {
    shading.delete(input);
    if (blocked) {
      input.setAttribute(SHADING_ATTR, 'blocked'); // what a waiting form.submit() reads, then forgotten
      setTimeout(() => input.getAttribute(SHADING_ATTR) === 'blocked' && input.removeAttribute(SHADING_ATTR), 2000);
    } else {
      input.removeAttribute(SHADING_ATTR);
    }
  }

  function releaseSubmits(blockedInput) {
    for (const [form, submitter] of [...heldSubmits]) {
      if ([...shading].some((i) => i.form === form)) continue; // another of its picks is still shaded
      heldSubmits.delete(form);
      if (blockedInput && blockedInput.form === form) continue; // blocked: nothing is sent
      if (!form.isConnected) continue;
      const by = submitter && submitter.form === form && submitter.isConnected ? submitter : undefined;
      if (typeof form.requestSubmit === 'function') form.requestSubmit(by);
      else form.submit();
    }
  }

  window.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || ![...shading].some((i) => i.form === form)) return;
    hold(event);
    heldSubmits.set(form, event.submitter ?? null);
  }, true);

  function onFileEvent(event) {
    if (isOurs(event)) return;
    const input = event.composedPath()[0];
    if (!(input instanceof HTMLInputElement) || input.type !== 'file') return;
    const root = input.getRootNode();
    if (root instanceof ShadowRoot && !watchedRoots.has(root)) {
      // `change` is not composed: it never reaches window from inside a shadow root.
      watchedRoots.add(root);
      root.addEventListener('change', onFileEvent, true);
      root.addEventListener('input', onFileEvent, true);
    }
    const list = input.files;
    if (holding.has(input) && (holding.get(input) === list || !list?.length)) {
      hold(event); // the second of input/change for a pick already held (its input now empty)
      return;
    }
    const files = [...(list ?? [])];
    if (!files.some(isCandidate) || (state && !state.enabled)) return;
    hold(event);
    holding.set(input, list);
    startShading(input);
    protect(files, input).then((result) => {
      if (holding.get(input) !== list) return; // picked again meanwhile: that pick wins
      holding.delete(input);
      const blocked = result.kind === 'blocked';
      if (!blocked) {
        const dt = new DataTransfer();
        (result.kind === 'ok' ? result.files : files).forEach((f) => dt.items.add(f));
        input.files = dt.files;
      }
      endShading(input, blocked);
      if (!blocked) {
        dispatchOurs(input, new Event('input', { bubbles: true, composed: true }));
        dispatchOurs(input, new Event('change', { bubbles: true }));
      }
      releaseSubmits(blocked ? input : null);
    });
  }

  window.addEventListener('input', onFileEvent, true);
  window.addEventListener('change', onFileEvent, true);

  // -- drop and paste -----------------------------------------------------------------------------------------

  // Firefox runs content scripts in a compartment of their own: a drop or paste event made here reaches the
  // page's handlers with an empty dataTransfer / clipboardData.  Made in the page's realm it arrives whole.
  const pageWindow = window.wrappedJSObject;

  const EVENT_FIELDS = ['clientX', 'clientY', 'screenX', 'screenY', 'ctrlKey', 'shiftKey', 'altKey', 'metaKey', 'button', 'buttons'];

  function filesOf(dt) {
    const files = [...(dt.files ?? [])];
    if (files.length) return files;
    return [...(dt.items ?? [])].filter((i) => i.kind === 'file').map((i) => i.getAsFile()).filter(Boolean);
  }

  function catchTransfer(event, dt, rebuild) {
    if (isOurs(event) || !dt) return;
    const files = filesOf(dt);
    if (!files.some(isCandidate) || (state && !state.enabled)) return;
    hold(event);
    const target = event.composedPath()[0];
    const strings = [...dt.items].filter((i) => i.kind === 'string').map((i) => [i.type, dt.getData(i.type)]);
    const init = { bubbles: true, cancelable: true, composed: true };
    for (const f of EVENT_FIELDS) if (f in event) init[f] = event[f];
    protect(files, target).then((result) => {
      if (result.kind === 'blocked') return;
      const next = pageWindow ? new pageWindow.DataTransfer() : new DataTransfer();
      for (const [type, value] of strings) next.setData(type, value);
      (result.kind === 'ok' ? result.files : files).forEach((f) => next.items.add(f));
      dispatchOurs(target, rebuild(init, next));
    });
  }

  function transferEvent(kind, type, init) {
    if (pageWindow && typeof cloneInto === 'function') {
      return new pageWindow[kind](type, cloneInto(init, window, { wrapReflectors: true }));
    }
    return new globalThis[kind](type, init);
  }

  window.addEventListener('drop', (event) => {
    catchTransfer(event, event.dataTransfer, (init, dt) => transferEvent('DragEvent', 'drop', { ...init, dataTransfer: dt }));
  }, true);

  window.addEventListener('paste', (event) => {
    catchTransfer(event, event.clipboardData, (init, dt) => transferEvent('ClipboardEvent', 'paste', { ...init, clipboardData: dt }));
  }, true);

  // -- the MAIN-world script's private channel --------------------------------------------------------------
  // The MAIN-world script hands over a MessagePort in a synchronous event that this capture listener
  // (registered before any page script) stops, so the page never holds the port and cannot forge replies.

  let mainPort = null;

  function tellMain() {
    // Only a known state: until then the MAIN-world script holds every image upload and asks (fail closed).
    if (mainPort && state) mainPort.postMessage({ type: 'state', enabled: Boolean(state.enabled) });
  }

  async function onMainMessage(event) {
    const m = event.data;
    if (!m || m.type !== 'shade' || !Array.isArray(m.files)) return;
    const files = m.files.map((f) => new File([f.buffer], f.name || 'image', { type: f.type, lastModified: f.lastModified }));
    let result;
    try {
      result = await protect(files, document.activeElement);
    } catch (err) {
      result = { kind: 'blocked', message: String(err?.message ?? err) };
    }
    if (result.kind !== 'ok') {
      mainPort.postMessage({ id: m.id, kind: result.kind, message: result.message });
      return;
    }
    const out = await Promise.all(result.files.map(async (f, i) => (result.changed[i]
      ? { name: f.name, type: f.type, lastModified: f.lastModified, buffer: await f.arrayBuffer() }
      : null)));
    mainPort.postMessage({ id: m.id, kind: 'ok', files: out }, out.filter(Boolean).map((o) => o.buffer));
  }

  if (LATE) {
    // No channel at all: any hello here comes from the page.  The MAIN-world script, late too, refuses every
    // image upload itself and says so with this event (a page that sends it only gets the card shown).
    window.addEventListener('artshade:late-blocked', () => {
      overlay.show(document.activeElement).error(`Upload blocked, nothing was sent: ${RELOAD}`);
    }, true);
    return;
  }

  window.addEventListener('artshade:main-hello', (event) => {
    event.stopImmediatePropagation();
    const port = event.ports?.[0];
    if (mainPort || !port) return;
    mainPort = port;
    mainPort.onmessage = onMainMessage;
    tellMain();
  }, true);
  window.dispatchEvent(new Event('artshade:content-hello')); // in case the MAIN-world script ran first
})();
