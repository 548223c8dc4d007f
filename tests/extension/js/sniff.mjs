// Runs every JS copy of the picture sniffing and base64 helpers under node.  argv[2] = JSON
// {copies: {name: path of a script holding the marked blocks}, module: path of common/bytes.js, cases: [base64]}.
// A copy is the text between `// >>> NAME` and `// <<< NAME` (content/common.js, and what extension/build.py
// wrote into a built main-world.js), run on its own; the module is imported as the background imports it.
// Prints JSON results for the Python test to compare with the engine's own sniffing.
import { readFileSync } from 'node:fs';

const { copies, module, cases } = JSON.parse(process.argv[2]);
const decode = (b64) => new Uint8Array(Buffer.from(b64, 'base64'));

function block(text, name) {
  const begin = text.indexOf(`// >>> ${name}\n`);
  const end = text.indexOf(`// <<< ${name}\n`);
  return begin >= 0 && end > begin ? text.slice(begin, end) : null;
}

function load(path) {
  const text = readFileSync(path, 'utf8');
  const sniffing = block(text, 'picture sniffing');
  const base64 = block(text, 'base64');
  if (!sniffing || !base64) return null;
  return new Function(`${sniffing}\n${base64}\nreturn { sniffImage, otherImageFormat, toBase64, fromBase64 };`)();
}

function run(copy) {
  if (!copy) return null;
  return {
    sniff: cases.map((c) => copy.sniffImage(decode(c))),
    // the same bytes as an ArrayBuffer and as a DataView over part of a larger buffer
    sniffBuffer: cases.map((c) => copy.sniffImage(decode(c).buffer)),
    sniffView: cases.map((c) => {
      const inner = decode(c);
      const outer = new Uint8Array(inner.length + 3);
      outer.set(inner, 3);
      return copy.sniffImage(new DataView(outer.buffer, 3, inner.length));
    }),
    other: copy.otherImageFormat ? cases.map((c) => copy.otherImageFormat(decode(c))) : null,
    base64: cases.map((c) => copy.toBase64(decode(c)) === c && Buffer.from(copy.fromBase64(c)).toString('base64') === c),
  };
}

const out = Object.fromEntries(Object.entries(copies).map(([name, path]) => [name, run(load(path))]));
out['common/bytes.js'] = run(await import(module));
console.log(JSON.stringify(out));
