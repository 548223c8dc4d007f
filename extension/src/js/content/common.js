// Bytes helpers written once: picture sniffing (magic bytes), base64 (runtime messages are JSON in
// Chromium) and SHA-256.  A classic script: the isolated-world content scripts get it first
// (background/registration.js) and read `artshadeCommon`; the background's and pages' modules import it for
// that same object (common/bytes.js).  main-world.js runs in the page's own world and must stand alone, so
// extension/build.py copies the marked blocks below into it, each in place of its `// @inline` line.
//
// Sniffing follows the engine's `artshade.shading.io.sniff_format` (tests/extension/test_sniffing.py fails
// when they disagree).
(() => {
  'use strict';
  if (globalThis.artshadeCommon) return;

  // >>> picture sniffing
  /** What the engine shades, by magic bytes: [format, [[offset, bytes as a latin-1 string], ...]]. */
  const SHADEABLE = [
    ['jpeg', [[0, '\xff\xd8\xff']]],
    ['png', [[0, '\x89PNG\r\n\x1a\n']]],
    ['webp', [[0, 'RIFF'], [8, 'WEBP']]],
    ['tiff', [[0, 'II*\x00']]],
    ['tiff', [[0, 'MM\x00*']]],
    ['tiff', [[0, 'II+\x00']]], // BigTIFF
    ['tiff', [[0, 'MM\x00+']]],
  ];
  /** Pictures the engine cannot shade, named so the site's policy applies to them, saying why. */
  const OTHER_PICTURES = [
    ['GIF', [[0, 'GIF8']]],
    ['BMP', [[0, 'BM']]],
    ...['avif', 'avis'].map((brand) => ['AVIF', [[4, `ftyp${brand}`]]]),
    ...['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1'].map((brand) => ['HEIC', [[4, `ftyp${brand}`]]]),
  ];

  function signatureAt(bytes, table) {
    const b = bytes instanceof Uint8Array ? bytes
      : ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
    const matches = ([at, magic]) => {
      if (b.length < at + magic.length) return false;
      for (let i = 0; i < magic.length; i++) if (b[at + i] !== magic.charCodeAt(i)) return false;
      return true;
    };
    const hit = table.find(([, parts]) => parts.every(matches));
    return hit ? hit[0] : null;
  }

  /** bytes (Uint8Array, any typed array or DataView, ArrayBuffer) -> 'jpeg' | 'png' | 'webp' | 'tiff' | null. */
  function sniffImage(bytes) {
    return signatureAt(bytes, SHADEABLE);
  }

  /** The name of a picture format the engine cannot shade ('GIF', 'BMP', 'AVIF', 'HEIC'), or null. */
  function otherImageFormat(bytes) {
    return signatureAt(bytes, OTHER_PICTURES);
  }
  // <<< picture sniffing

  // >>> base64
  function toBase64(bytes) {
    const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    if (typeof u8.toBase64 === 'function') return u8.toBase64();
    let binary = '';
    for (let i = 0; i < u8.length; i += 0x8000) binary += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
    return btoa(binary);
  }

  function fromBase64(text) {
    if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(text);
    const binary = atob(text);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }
  // <<< base64

  /** SHA-256 of the bytes as hex, or null where there is no WebCrypto (a page that is not a secure context). */
  async function sha256Hex(bytes) {
    if (!globalThis.crypto?.subtle) return null;
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  globalThis.artshadeCommon = Object.freeze({ sniffImage, otherImageFormat, toBase64, fromBase64, sha256Hex });
})();
