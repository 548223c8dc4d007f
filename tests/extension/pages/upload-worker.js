// A classic worker that uploads what the page asks it to (a Blob it is given, or one it makes from base64),
// with fetch or XHR, using relative URLs and a helper loaded with importScripts (as bundled upload workers do).
importScripts('worker-helper.js');

self.onmessage = async (event) => {
  const { mode, sink, b64, type } = event.data;
  const blob = event.data.blob ?? new Blob([self.workerHelper.bytesFrom(b64)], { type });
  if (mode === 'nested') {
    const inner = new Worker('upload-worker.js');
    inner.onmessage = (e) => self.postMessage(e.data);
    inner.postMessage({ mode: 'fetch', sink, b64, type });
    return;
  }
  if (mode === 'xhr') {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/sink/${sink}`);
    xhr.onload = () => self.postMessage(`uploaded ${xhr.status}`);
    xhr.onerror = () => self.postMessage('failed: xhr error');
    xhr.send(blob);
    return;
  }
  const url = new URL(`/sink/${sink}`, self.location.href);
  self.postMessage(await self.workerHelper.outcome(fetch(url, { method: 'POST', body: blob })));
};
