// The background (service worker in Chromium, event page in Firefox): the only part that talks to the
// daemon and the native host, and the only writer of settings.  Everything arrives through one table.
import { api } from '../common/api.js';
import { fromBase64, MEDIA_TYPES, sniffImage } from '../common/bytes.js';
import { currentClient, repairViaHost, withDaemon } from './connection.js';
import { daemonClient } from './daemon-client.js';
import { LOOPBACK_HINT, loopbackOrigin } from './loopback.js';
import { hostStatus, INSTALL_COMMAND } from './native.js';
import { ActionError, serve } from '../common/messaging.js';
import { injectIntoOpenTabs, notifyTabs, syncRegistrations } from './registration.js';
import { keptAlive, paramsFor, shadeFiles } from './shade.js';
import { normaliseSite, patternsFor, siteForHost } from '../common/sites.js';
import * as storage from '../common/storage.js';

const CONTENT = ['content'];
const PAGES = ['extension'];
const ANYONE = ['content', 'extension'];

/**
 * The host of the site a content script runs for.  A frame that inherits its origin (about:blank,
 * about:srcdoc, blob:) reports that origin in `sender.origin`; its URL alone would name no site.
 */
function senderHost(sender) {
  for (const value of [sender?.origin, sender?.url]) {
    try {
      const origin = new URL(value).origin; // blob:https://site/... -> https://site
      if (origin && origin !== 'null') return new URL(origin).host;
    } catch {
      // not a URL: try the next
    }
  }
  return '';
}

function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

/** The frame sites granted for the enabled sites (their content scripts are registered too). */
function grantedFrameSites(s) {
  return [...s.enabledSites].flatMap((site) => s.frameSites.get(site) ?? []);
}

/**
 * The enabled site a content script guards for, or null: its own site, or (in a frame of another site that
 * the artist granted for it) the site of the frame's tab, as the browser names it in `sender.tab`.
 */
function guardedSite(sender, s) {
  const own = siteForHost(senderHost(sender), s.enabledSites);
  if (own) return own;
  if (!sender?.tab?.url || !sender.frameId) return null;
  const top = siteForHost(hostOf(sender.tab.url), s.enabledSites);
  if (!top) return null;
  return siteForHost(senderHost(sender), new Set(s.frameSites.get(top) ?? [])) ? top : null;
}

function pick(value, allowed, name) {
  if (value === undefined) return undefined;
  if (!allowed.includes(value)) throw new ActionError('bad_request', `${name} must be one of ${allowed.join(', ')}`);
  return value;
}

async function hasPermission(site) {
  return api.permissions.contains({ origins: patternsFor(site) });
}

/** The state of one site as stored (what the popup shows: confirmed, never what was asked). */
async function siteState(site, settings) {
  const s = settings ?? await storage.load();
  const params = site ? paramsFor(site, s) : null;
  return {
    site,
    known: Boolean(site && s.knownSites.has(site)),
    enabled: Boolean(site && s.enabledSites.has(site)),
    permission: site ? await hasPermission(site) : false,
    frames: site ? s.frameSites.get(site) ?? [] : [],
    intensity: params?.intensity ?? s.intensity,
    mode: params?.mode ?? s.mode,
    platform: params?.platform ?? storage.DEFAULT_PLATFORM,
    policy: s.policy,
  };
}

async function resolveSite(value) {
  const { knownSites } = await storage.load(['knownSites']);
  const host = String(value ?? '');
  return siteForHost(host, knownSites) ?? normaliseSite(host);
}

async function daemonStatus() {
  const { daemonUrl, token, pairedBy } = await storage.load(['daemonUrl', 'token', 'pairedBy']);
  const out = { url: daemonUrl, paired: Boolean(token), pairedBy, running: false };
  try {
    const health = await daemonClient({ url: daemonUrl, token }).health();
    out.running = true;
    out.version = health.version ?? null;
  } catch (err) {
    out.error = err.message;
    return out;
  }
  if (!token) return out;
  try {
    out.status = await (await currentClient()).status();
  } catch (err) {
    out.error = err.message;
  }
  return out;
}

async function applySites(enabledSites, knownSites, newlyEnabled) {
  await storage.save({ enabledSites, knownSites });
  const { frameSites } = await storage.load(['frameSites']);
  await syncRegistrations(enabledSites, grantedFrameSites({ enabledSites, frameSites }));
  if (newlyEnabled) await injectIntoOpenTabs(newlyEnabled);
  await notifyTabs();
}

async function setSite({ site: raw, enabled, intensity, mode, platform }) {
  const site = normaliseSite(raw);
  if (!site) throw new ActionError('bad_request', `not a site: ${raw}`);
  const s = await storage.load();
  const profile = { ...(s.siteProfiles.get(site) ?? {}) };
  if (pick(intensity, storage.CHOICES.intensity, 'intensity')) profile.intensity = intensity;
  if (pick(mode, storage.CHOICES.mode, 'mode')) profile.mode = mode;
  if (pick(platform, storage.CHOICES.platform, 'platform')) profile.platform = platform;
  if (Object.keys(profile).length) s.siteProfiles.set(site, profile);
  await storage.save({ siteProfiles: s.siteProfiles });
  if (enabled === true) {
    if (!(await hasPermission(site))) {
      throw new ActionError('permission_needed', `artshade needs permission to run on ${site}`);
    }
    s.knownSites.add(site);
    const newly = !s.enabledSites.has(site);
    s.enabledSites.add(site);
    await applySites(s.enabledSites, s.knownSites, newly ? site : null);
  } else if (enabled === false) {
    s.enabledSites.delete(site);
    await applySites(s.enabledSites, s.knownSites, null);
  } else {
    await notifyTabs();
  }
  return siteState(site);
}

async function options() {
  const s = await storage.load();
  const sites = await Promise.all([...s.knownSites].sort().map(async (site) => ({
    ...(await siteState(site, s)),
    offered: storage.OFFERED_SITES.includes(site) || storage.DEFAULT_SITES.includes(site),
  })));
  return {
    sites,
    policy: s.policy,
    preset: s.preset,
    intensity: s.intensity,
    mode: s.mode,
    daemonUrl: s.daemonUrl,
    paired: Boolean(s.token),
    pairedBy: s.pairedBy,
    choices: storage.CHOICES,
  };
}

async function setOptions(request) {
  const out = {};
  for (const key of ['policy', 'preset', 'intensity', 'mode']) {
    if (pick(request[key], storage.CHOICES[key], key) !== undefined) out[key] = request[key];
  }
  if (request.daemonUrl !== undefined) {
    const origin = loopbackOrigin(request.daemonUrl);
    if (!origin) throw new ActionError('bad_request', LOOPBACK_HINT);
    out.daemonUrl = origin;
  }
  await storage.save(out);
  await notifyTabs();
  return options();
}

async function removeSite({ site }) {
  const s = await storage.load(['enabledSites', 'knownSites', 'siteProfiles', 'frameSites']);
  s.enabledSites.delete(site);
  if (!storage.DEFAULT_SITES.includes(site) && !storage.OFFERED_SITES.includes(site)) s.knownSites.delete(site);
  s.siteProfiles.delete(site);
  s.frameSites.delete(site);
  await storage.save({ siteProfiles: s.siteProfiles, frameSites: s.frameSites });
  await applySites(s.enabledSites, s.knownSites, null);
  return options();
}

// -- frames of other sites inside an enabled site's tab, and tabs open before their site was enabled ---------

/** Runs in the isolated world of every frame of a tab the extension may script: is the guard running here
 * (and not late), and which frames does this document hold. */
function frameReport() {
  const children = [];
  for (const frame of document.querySelectorAll('iframe, frame')) {
    try {
      const url = new URL(frame.src, location.href);
      if (url.protocol === 'http:' || url.protocol === 'https:') children.push(url.host);
    } catch {
      // a frame without a URL of its own inherits this document's guard
    }
  }
  const guarded = globalThis.__artshadeContent === true && globalThis.__artshadeLate !== true;
  return { host: location.host, guarded, children };
}

/**
 * What the popup says about a tab: `late` (its site is enabled but the guard is not running at the top,
 * e.g. the tab was open before the site was enabled: reload it), and the frames of other sites in it, each
 * `unprotected` (not granted), `reload` (granted, the frame loaded before) or `protected`.
 */
async function tabGuard({ tabId }) {
  const tab = await api.tabs.get(Number(tabId));
  const s = await storage.load(['enabledSites', 'frameSites']);
  const site = siteForHost(hostOf(tab.url), s.enabledSites);
  if (!site) return { site: null, late: false, frames: [] };
  let results = [];
  try {
    results = await api.scripting.executeScript({ target: { tabId: tab.id, allFrames: true }, func: frameReport });
  } catch {
    // a page the extension may not script: treated as not guarded
  }
  const reports = results.filter((r) => r?.result).map((r) => r.result);
  const top = results.find((r) => r?.frameId === 0)?.result;
  const guardedHosts = new Set(reports.filter((r) => r.guarded).map((r) => r.host));
  const granted = new Set(s.frameSites.get(site) ?? []);
  const frames = new Map();
  for (const host of reports.flatMap((r) => r.children)) {
    if (siteForHost(host, s.enabledSites)) continue; // an enabled site itself: its own scripts, its own card
    const frameSite = normaliseSite(host);
    if (!frameSite || frames.has(frameSite)) continue;
    let state = 'unprotected';
    if (siteForHost(host, granted)) state = guardedHosts.has(host) ? 'protected' : 'reload';
    frames.set(frameSite, state);
  }
  return { site, late: !top?.guarded, frames: [...frames].map(([frame, state]) => ({ site: frame, state })) };
}

/** Run the guard in frames of `frame` inside tabs of the enabled `site` (after the artist granted access). */
async function protectFrames({ site: rawSite, frame: rawFrame }) {
  const site = normaliseSite(rawSite);
  const frame = normaliseSite(rawFrame);
  if (!site || !frame) throw new ActionError('bad_request', `not a site: ${site ? rawFrame : rawSite}`);
  const s = await storage.load();
  if (!s.enabledSites.has(site)) throw new ActionError('bad_request', `protection is not on for ${site}`);
  if (!(await hasPermission(frame))) {
    throw new ActionError('permission_needed', `artshade needs permission to run in frames from ${frame}`);
  }
  const frames = new Set(s.frameSites.get(site) ?? []);
  frames.add(frame);
  s.frameSites.set(site, [...frames].sort());
  await storage.save({ frameSites: s.frameSites });
  await syncRegistrations(s.enabledSites, grantedFrameSites(s));
  await notifyTabs();
  return { site, frames: s.frameSites.get(site) };
}

/** Stop guarding frames of `frame` inside tabs of `site` (the options page's list). */
async function forgetFrames({ site, frame }) {
  const s = await storage.load();
  const frames = (s.frameSites.get(site) ?? []).filter((f) => f !== frame);
  if (frames.length) s.frameSites.set(site, frames);
  else s.frameSites.delete(site);
  await storage.save({ frameSites: s.frameSites });
  await syncRegistrations(s.enabledSites, grantedFrameSites(s));
  await notifyTabs();
  return options();
}

const CODE = /^(\d{1,5})-([A-Z2-9]{4})-([A-Z2-9]{4})-([A-Z2-9]{4})$/;

async function pairWithCode({ code }) {
  const normal = String(code ?? '').trim().toUpperCase().replace(/\s+/g, '-');
  const m = CODE.exec(normal);
  if (!m) throw new ActionError('bad_code', 'a pairing code looks like 47815-ABCD-EFGH-JKLM (run `artshade pair`)');
  const url = `http://127.0.0.1:${Number(m[1])}`;
  let reply;
  try {
    reply = await daemonClient({ url, token: '' }).pair(normal);
  } catch (err) {
    throw new ActionError(err.code ?? 'pair_failed', err.message);
  }
  if (!reply?.token) throw new ActionError('pair_failed', 'the daemon did not return a token');
  const daemonUrl = reply.url ? loopbackOrigin(reply.url) : url; // the same check as a typed URL
  if (!daemonUrl) throw new ActionError('pair_failed', `the daemon answered with a URL not on this machine; ${LOOPBACK_HINT}`);
  await storage.save({ daemonUrl, token: reply.token, pairedBy: 'pairing code' });
  return daemonStatus();
}

/** A picture saved from a site, checked by the daemon against this extension's own protected uploads. */
async function checkPosted({ data }) {
  if (typeof data !== 'string' || !data) throw new ActionError('bad_request', 'no picture to check');
  const bytes = fromBase64(data);
  const format = sniffImage(bytes);
  if (!format) throw new ActionError('not_an_image', 'that file is not a JPEG, PNG, WebP or TIFF picture');
  try {
    return await keptAlive(() => withDaemon((client) => client.check(bytes, MEDIA_TYPES[format])));
  } catch (err) {
    throw new ActionError(err.code ?? 'check_failed', err.message, { hint: err.hint });
  }
}

const table = {
  getSiteState: {
    from: CONTENT,
    handler: async (_req, { sender }) => {
      const settings = await storage.load();
      const site = guardedSite(sender, settings) ?? await resolveSite(senderHost(sender));
      const state = await siteState(site, settings);
      return { site, enabled: state.enabled, policy: state.policy };
    },
  },
  shade: {
    from: CONTENT,
    handler: async ({ files }, { sender, progress }) => {
      if (!Array.isArray(files) || !files.length) throw new ActionError('bad_request', 'no files');
      const settings = await storage.load();
      const site = guardedSite(sender, settings);
      if (!site) return { disabled: true, files: files.map(() => ({ unchanged: true, why: 'site not protected' })) };
      return shadeFiles(files, site, settings, progress);
    },
  },
  popupState: {
    from: PAGES,
    handler: async ({ host }) => {
      const site = await resolveSite(host);
      const [state, daemon, nativeHost] = await Promise.all([siteState(site), daemonStatus(), hostStatus()]);
      return { ...state, daemon, host: nativeHost, installCommand: INSTALL_COMMAND, choices: storage.CHOICES };
    },
  },
  setSiteState: { from: PAGES, handler: setSite },
  tabGuard: { from: PAGES, handler: tabGuard },
  protectFrames: { from: PAGES, handler: protectFrames },
  forgetFrames: { from: PAGES, handler: forgetFrames },
  getOptions: { from: PAGES, handler: options },
  setOptions: { from: PAGES, handler: setOptions },
  addSite: {
    from: PAGES,
    handler: async ({ site: raw }) => {
      const site = normaliseSite(raw);
      if (!site) throw new ActionError('bad_request', `not a site: ${raw}`);
      await setSite({ site, enabled: true });
      return options();
    },
  },
  removeSite: { from: PAGES, handler: removeSite },
  pairWithCode: { from: PAGES, handler: pairWithCode },
  pairWithHost: {
    from: PAGES,
    handler: async () => {
      await repairViaHost();
      return daemonStatus();
    },
  },
  daemonStatus: { from: PAGES, handler: daemonStatus },
  checkPosted: { from: PAGES, handler: checkPosted },
  hostStatus: { from: ANYONE, handler: hostStatus },
};

serve(table);

async function startUp() {
  await storage.restrictToTrustedContexts();
  const s = await storage.load(['enabledSites', 'frameSites']);
  await syncRegistrations(s.enabledSites, grantedFrameSites(s));
  // Zero-setup pairing: ask the native host (if installed) for the daemon and have it started.
  repairViaHost().catch(() => {});
}

api.runtime.onInstalled.addListener(() => startUp());
api.runtime.onStartup.addListener(() => startUp());
