// Shading on behalf of a content script: one daemon job per image, progress relayed, results remembered by
// digest so bytes this extension already produced are never shaded twice (input change, then fetch).
import { api } from '../common/api.js';
import { fromBase64, MEDIA_TYPES, renameFor, sha256Hex, sniffImage, toBase64 } from '../common/bytes.js';
import { withDaemon } from './connection.js';
import { ActionError } from '../common/messaging.js';
import * as storage from '../common/storage.js';

const MAX_DIGESTS = 2000;
let shadedDigests = null;

async function digests() {
  if (!shadedDigests) shadedDigests = new Set(await storage.session.get('shadedDigests', []));
  return shadedDigests;
}

async function remember(digest) {
  const set = await digests();
  set.add(digest);
  const list = [...set].slice(-MAX_DIGESTS);
  shadedDigests = new Set(list);
  await storage.session.set('shadedDigests', list);
}

// The background is stopped when idle (a service worker in Chromium, an event page in Firefox), and a
// daemon job can take minutes.  An extension API call resets the idle timer in both browsers, so while
// any shading is in flight one is made every few seconds.
const KEEPALIVE_MS = 5000;
let inFlight = 0;
let keepalive = null;

export async function keptAlive(work) {
  if (inFlight++ === 0) keepalive = setInterval(() => api.runtime.getPlatformInfo().catch(() => {}), KEEPALIVE_MS);
  try {
    return await work();
  } finally {
    if (--inFlight === 0) clearInterval(keepalive);
  }
}

/** Settings sent to the daemon for `site`: global defaults, then the site's profile. */
export function paramsFor(site, settings) {
  const profile = settings.siteProfiles.get(site) ?? {};
  return {
    preset: settings.preset,
    intensity: profile.intensity ?? settings.intensity,
    mode: profile.mode ?? settings.mode,
    platform: profile.platform ?? storage.PLATFORM_FOR_SITE[site] ?? storage.DEFAULT_PLATFORM,
    site,
  };
}

/**
 * files: [{name, type, data: base64}] -> {files: [{name, type, data} | {unchanged: true, why}], unprotected?}.
 * Throws ActionError('daemon_unreachable', ..., {policy}) when the daemon cannot be reached and the policy
 * does not let the upload through.
 */
export function shadeFiles(files, site, settings, progress) {
  return keptAlive(() => shadeAll(files, site, settings, progress));
}

async function shadeAll(files, site, settings, progress) {
  const results = [];
  const count = files.length;
  try {
    await withDaemon(async (client) => {
      results.length = 0;
      for (const [index, file] of files.entries()) {
        const bytes = fromBase64(file.data);
        const format = sniffImage(bytes);
        if (!format) {
          results.push({ unchanged: true, why: 'not an image the engine reads' });
          continue;
        }
        const digest = await sha256Hex(bytes);
        if ((await digests()).has(digest)) {
          results.push({ unchanged: true, why: 'already protected' });
          continue;
        }
        progress({ index, count, progress: 0, stage: 'sending' });
        const shaded = await client.protect(bytes, MEDIA_TYPES[format], paramsFor(site, settings), (p) => {
          progress({ index, count, progress: Number(p.progress) || 0, stage: p.stage ?? '' });
        });
        await remember(await sha256Hex(shaded.bytes));
        results.push({ name: renameFor(file.name, shaded.type), type: shaded.type, data: toBase64(shaded.bytes) });
      }
    });
  } catch (err) {
    const unreachable = ['daemon_unreachable', 'not_paired'].includes(err.code);
    if (unreachable && settings.policy === 'allow') {
      return {
        files: files.map(() => ({ unchanged: true, why: 'sent without protection' })),
        unprotected: { code: err.code, message: err.message },
      };
    }
    throw new ActionError(err.code ?? 'shading_failed', err.message, {
      policy: unreachable ? settings.policy : 'block',
      hint: err.hint,
    });
  }
  return { files: results };
}
