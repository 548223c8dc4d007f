// A shared worker that uploads the Blob a page posts to it.
self.onconnect = (event) => {
  const [port] = event.ports;
  port.onmessage = async (e) => {
    const { sink, blob } = e.data;
    try {
      const r = await fetch(`/sink/${sink}`, { method: 'POST', body: blob });
      port.postMessage(r.ok ? `uploaded ${r.status}` : `failed ${r.status}`);
    } catch (err) {
      port.postMessage(`failed: ${err.message}`);
    }
  };
};
