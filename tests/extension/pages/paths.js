// Every exit an image can take from page code (and from the workers the page starts).  Each entry of
// `window.paths` sends the image given as base64 to /sink/<its name> (or /ws/<its name>) and resolves with
// what the page saw: "uploaded ..." or "failed: ...".  The tests call them with the daemon failing and
// check that no original byte reaches the site, and with the daemon up and check the bytes are shaded.
const bytesFrom = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const outcome = (promise) => promise.then(
  (r) => (r.ok ? `uploaded ${r.status}` : `failed ${r.status}`),
  (e) => `failed: ${e.message}`,
);
const post = (name, body, extra = {}) => outcome(fetch(`/sink/${name}`, { method: 'POST', body, ...extra }));

function xhrSend(xhr, body) {
  return new Promise((resolve) => {
    xhr.onload = () => resolve(`uploaded ${xhr.status}`);
    xhr.onerror = () => resolve('failed: xhr error');
    try {
      xhr.send(body);
    } catch (err) {
      resolve(`failed: ${err.message}`);
    }
  });
}

/** A worker (dedicated or shared) that answers one {mode, b64, type, blob} request with its outcome. */
function ask(target, port, message) {
  return new Promise((resolve) => {
    port.onmessage = (event) => resolve(event.data);
    target.onerror = (event) => resolve(`failed: worker error ${event.message ?? ''}`);
    port.postMessage(message);
  });
}

// One XHR kept between calls: sent, blocked, then sent again on the same object.
let retried = null;

window.paths = {
  'fetch-file': (b64, type) => post('fetch-file', new File([bytesFrom(b64)], 'art', { type })),
  // Mislabelled and untyped images are still images: the bytes decide, not the type.
  'fetch-mislabelled': (b64) => post('fetch-mislabelled', new Blob([bytesFrom(b64)], { type: 'image/jpg' })),
  'fetch-text-typed': (b64) => post('fetch-text-typed', new Blob([bytesFrom(b64)], { type: 'text/plain' })),
  'fetch-request': (b64) => outcome(fetch(new Request('/sink/fetch-request', {
    method: 'POST', body: new Blob([bytesFrom(b64)]),
  }))),
  'fetch-buffer': (b64) => post('fetch-buffer', bytesFrom(b64).buffer),
  'fetch-view': (b64) => post('fetch-view', new DataView(bytesFrom(b64).buffer)),
  'fetch-formdata': (b64, type) => {
    const form = new FormData();
    form.append('caption', 'sunset');
    form.append('file', new Blob([bytesFrom(b64)], { type }), 'art');
    return post('fetch-formdata', form);
  },
  'fetch-stream': (b64) => post('fetch-stream', new ReadableStream({
    start(controller) {
      const bytes = bytesFrom(b64);
      controller.enqueue(bytes.subarray(0, 7)); // the magic bytes split over two chunks
      controller.enqueue(bytes.subarray(7));
      controller.close();
    },
  }), { duplex: 'half' }),
  'xhr-blob': (b64, type) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/sink/xhr-blob');
    return xhrSend(xhr, new Blob([bytesFrom(b64)], { type }));
  },
  'xhr-formdata': (b64, type) => {
    const form = new FormData();
    form.append('file', new File([bytesFrom(b64)], 'art', { type }));
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/sink/xhr-formdata');
    return xhrSend(xhr, form);
  },
  // Sent once, then (the test says when) sent again on the same XHR, as a page's retry button does.
  'xhr-retry': (b64, type) => {
    retried = { xhr: new XMLHttpRequest(), body: new Blob([bytesFrom(b64)], { type }) };
    retried.xhr.open('POST', '/sink/xhr-retry');
    retried.xhr.setRequestHeader('X-Entity-Length', String(retried.body.size));
    return xhrSend(retried.xhr, retried.body);
  },
  'xhr-retry-again': () => xhrSend(retried.xhr, retried.body),
  'beacon-blob': (b64, type) => `queued ${navigator.sendBeacon('/sink/beacon-blob', new Blob([bytesFrom(b64)], { type }))}`,
  'beacon-formdata': (b64, type) => {
    const form = new FormData();
    form.append('file', new File([bytesFrom(b64)], 'art', { type }));
    return `queued ${navigator.sendBeacon('/sink/beacon-formdata', form)}`;
  },
  'websocket': (b64, type) => new Promise((resolve) => {
    const ws = new WebSocket(`ws://${location.host}/ws/websocket`);
    ws.onopen = () => {
      ws.send('hello');
      ws.send(new Blob([bytesFrom(b64)], { type }));
      ws.send('bye'); // sent after the image, arrives after it
    };
    ws.onmessage = (event) => {
      if (event.data === 'got bye') {
        ws.close();
        resolve('uploaded');
      }
    };
    ws.onclose = (event) => resolve(`failed: closed ${event.code}`); // no-op once resolved
  }),
  // The worker builds the image from base64 itself: only its own fetch / XHR can be guarded.
  'worker-fetch': (b64, type) => {
    const worker = new Worker('upload-worker.js');
    return ask(worker, worker, { mode: 'fetch', sink: 'worker-fetch', b64, type });
  },
  'worker-xhr': (b64, type) => {
    const worker = new Worker('upload-worker.js');
    return ask(worker, worker, { mode: 'xhr', sink: 'worker-xhr', b64, type });
  },
  // The page hands the worker a Blob (a File the artist picked, an edited image), and the worker uploads it.
  'worker-blob': (b64, type) => {
    const worker = new Worker('upload-worker.js');
    return ask(worker, worker, { mode: 'fetch', sink: 'worker-blob', blob: new Blob([bytesFrom(b64)], { type }) });
  },
  'module-worker': (b64, type) => {
    const worker = new Worker('upload-worker.mjs', { type: 'module' });
    return ask(worker, worker, { sink: 'module-worker', b64, type });
  },
  'nested-worker': (b64, type) => {
    const worker = new Worker('upload-worker.js');
    return ask(worker, worker, { mode: 'nested', sink: 'nested-worker', b64, type });
  },
  // A shared worker gets the image from the page as a Blob.
  'shared-worker': (b64, type) => {
    const shared = new SharedWorker('shared-worker.js');
    return ask(shared, shared.port, { sink: 'shared-worker', blob: new Blob([bytesFrom(b64)], { type }) });
  },
  // A fresh same-origin frame has its own fetch.
  'iframe': (b64, type) => {
    const frame = document.createElement('iframe');
    document.body.append(frame);
    const win = frame.contentWindow;
    return outcome(win.fetch('/sink/iframe', { method: 'POST', body: new win.Blob([bytesFrom(b64)], { type }) }));
  },
  // The file picker (the test stands in for the dialog; the page gets a real file handle).
  'picker': async (b64, type) => {
    const root = await navigator.storage.getDirectory();
    const handle = await root.getFileHandle('picked-image', { create: true });
    const writable = await handle.createWritable();
    await writable.write(new Blob([bytesFrom(b64)], { type }));
    await writable.close();
    let file;
    try {
      const [picked] = await window.showOpenFilePicker({ types: [{ accept: { 'image/*': ['.png', '.jpg'] } }] });
      file = await picked.getFile();
    } catch (err) {
      return `failed: ${err.message}`;
    }
    return post('picker', file);
  },
};

window.runPath = async (name, b64, type) => {
  report('working');
  const result = await window.paths[name](b64, type);
  report(result);
  return result;
};
