// Helpers the test pages share: build Files from base64 (what a test hands in), report upload status.
window.fileFrom = (b64, name, type) => {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new File([bytes], name, { type });
};

window.report = (text) => {
  document.getElementById('status').textContent = text;
  document.body.dataset.status = text;
};

window.postForm = async (sink, files, extra = {}) => {
  const form = new FormData();
  for (const [k, v] of Object.entries(extra)) form.append(k, v);
  for (const f of files) form.append('file', f, f.name);
  try {
    const response = await fetch(`/sink/${sink}`, { method: 'POST', body: form });
    report(response.ok ? `uploaded ${files.length}` : `failed ${response.status}`);
  } catch (err) {
    report(`failed: ${err.message}`);
  }
};
