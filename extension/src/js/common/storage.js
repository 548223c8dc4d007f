// The one place settings touch storage.local.  In memory, site lists are Sets and per-site profiles a Map;
// they are serialised to arrays / plain objects only at this edge.
import { api } from './api.js';
import { DEFAULT_PORT } from './ids.js';
import { PLATFORMS, SITES } from './profiles.js';
import { CHOICES as SHADING_CHOICES, DEFAULTS as SHADING_DEFAULTS } from './settings.js';

// Sites and platforms come from artshade/upload_profiles.json (the engine reads the same file).
export const DEFAULT_SITES = SITES.filter((s) => s.protected_by_default).map((s) => s.site);
export const OFFERED_SITES = SITES.filter((s) => !s.protected_by_default).map((s) => s.site);
/** The platform of a site without a profile of its own: none, the upload is kept as sent. */
export const DEFAULT_PLATFORM = SHADING_DEFAULTS.platform;
export const PLATFORM_FOR_SITE = Object.fromEntries(SITES.filter((s) => s.platform !== DEFAULT_PLATFORM).map((s) => [s.site, s.platform]));

// Presets, intensities, modes and platforms are the engine's own lists (shading/settings.py, written into
// settings.js by extension/build.py); the policy for an unreachable daemon is the extension's alone.
export const CHOICES = { ...SHADING_CHOICES, policy: ['block', 'ask', 'allow'] };

/** One line on what a platform does to an upload ("Instagram: longest side 1080 px, JPEG quality 70–80"). */
export function describePlatform(name) {
  const p = PLATFORMS[name];
  if (!p) return '';
  const parts = [];
  if (p.max_side) parts.push(`longest side ${p.max_side} px`);
  if (p.jpeg_quality) {
    const [lo, hi] = p.jpeg_quality;
    parts.push(`JPEG quality ${lo === hi ? lo : `${lo}–${hi}`}, ${p.subsampling}`);
  }
  return `${p.label}: ${parts.length ? parts.join(', ') : 'kept as sent'}`;
}

const DEFAULTS = {
  enabledSites: () => new Set(DEFAULT_SITES),
  knownSites: () => new Set([...DEFAULT_SITES, ...OFFERED_SITES]),
  siteProfiles: () => new Map(), // site -> {platform?, intensity?, mode?}
  frameSites: () => new Map(), // site -> [frame sites whose frames inside it run the guard for it]
  policy: () => 'block',
  preset: () => SHADING_DEFAULTS.preset,
  intensity: () => SHADING_DEFAULTS.intensity,
  mode: () => SHADING_DEFAULTS.mode,
  daemonUrl: () => `http://127.0.0.1:${DEFAULT_PORT}`,
  token: () => '',
  pairedBy: () => '',
};
export const KEYS = Object.keys(DEFAULTS);
const SETS = new Set(['enabledSites', 'knownSites']);
const MAPS = new Set(['siteProfiles', 'frameSites']);

function toStored(key, value) {
  if (SETS.has(key)) return [...value].sort();
  if (MAPS.has(key)) return Object.fromEntries(value);
  return value;
}

function fromStored(key, value) {
  if (value === undefined || value === null) return DEFAULTS[key]();
  if (SETS.has(key)) return new Set(Array.isArray(value) ? value.filter((v) => typeof v === 'string') : []);
  if (MAPS.has(key)) return new Map(Object.entries(typeof value === 'object' ? value : {}));
  return value;
}

/** Read settings (all keys by default), with defaults filled in. */
export async function load(keys = KEYS) {
  const stored = await api.storage.local.get(keys);
  return Object.fromEntries(keys.map((k) => [k, fromStored(k, stored[k])]));
}

/** Write some settings. */
export async function save(values) {
  const out = {};
  for (const [k, v] of Object.entries(values)) {
    if (!(k in DEFAULTS)) throw new Error(`unknown setting ${k}`);
    out[k] = toStored(k, v);
  }
  await api.storage.local.set(out);
}

/** Keep the token away from content scripts where the browser allows restricting storage.local. */
export async function restrictToTrustedContexts() {
  try {
    await api.storage.local.setAccessLevel?.({ accessLevel: 'TRUSTED_CONTEXTS' });
  } catch {
    // Firefox has no setAccessLevel; content scripts there never read storage anyway.
  }
}

/** Short-lived state for this browser session (e.g. digests of bytes this extension produced). */
export const session = {
  async get(key, fallback) {
    const area = api.storage.session;
    if (!area) return fallback;
    const v = await area.get(key);
    return v[key] ?? fallback;
  },
  async set(key, value) {
    await api.storage.session?.set({ [key]: value });
  },
};
