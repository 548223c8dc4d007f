// Bytes helpers for the modules: base64 (runtime messages are JSON in Chromium), SHA-256 and picture
// sniffing come from content/common.js, the one copy the content scripts use too; media types and names here.
import '../content/common.js';

export const { fromBase64, sha256Hex, sniffImage, toBase64 } = globalThis.artshadeCommon;

export const MEDIA_TYPES = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', tiff: 'image/tiff' };
const EXTENSIONS = { jpeg: 'jpg', png: 'png', webp: 'webp', tiff: 'tiff' };

/** `name` with its extension changed to fit `mediaType` when the format changed (photo.png -> photo.jpg). */
export function renameFor(name, mediaType) {
  const format = Object.keys(MEDIA_TYPES).find((k) => MEDIA_TYPES[k] === mediaType);
  if (!format || !name) return name;
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
  const same = { jpeg: ['jpg', 'jpeg', 'jpe', 'jfif'], png: ['png'], webp: ['webp'], tiff: ['tif', 'tiff'] }[format];
  return same.includes(ext) ? name : `${stem}.${EXTENSIONS[format]}`;
}
