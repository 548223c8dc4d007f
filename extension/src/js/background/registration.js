// Content scripts are registered at run time for the enabled sites (scripting.registerContentScripts), so
// enabling a site needs no reload of the extension.  Open tabs of a newly enabled site get them too, marked
// late: there the page's own code ran first and could have taken anything the guards would use, so those
// tabs block every image upload and ask the artist to reload them (the popup says so).
import { api } from '../common/api.js';
import { patternsFor, siteForHost } from '../common/sites.js';

export const ISOLATED_FILES = ['js/content/common.js', 'js/content/overlay.js', 'js/content/content.js'];
export const MAIN_FILES = ['js/content/main-world.js'];
const IDS = ['artshade-isolated', 'artshade-main'];

export function matchesFor(sites) {
  return [...new Set([...sites].flatMap(patternsFor))].sort();
}

/** Make the registered content scripts cover exactly `sites`, and the frame sites granted for them (in
 * those the scripts stay inert unless their frame's tab shows one of `sites`: the background decides). */
export async function syncRegistrations(sites, frameSites = []) {
  const matches = matchesFor([...sites, ...frameSites]);
  const existing = (await api.scripting.getRegisteredContentScripts({ ids: IDS })).map((s) => s.id);
  if (existing.length) await api.scripting.unregisterContentScripts({ ids: existing });
  if (!matches.length) return matches;
  const common = { matches, matchOriginAsFallback: true, runAt: 'document_start', allFrames: true, persistAcrossSessions: true };
  await api.scripting.registerContentScripts([
    { ...common, id: IDS[0], js: ISOLATED_FILES },
    { ...common, id: IDS[1], js: MAIN_FILES, world: 'MAIN' },
  ]);
  return matches;
}

/** Run in the isolated world of each frame before the late content scripts (not where they already run). */
function markLate() {
  if (!globalThis.__artshadeContent) globalThis.__artshadeLate = true;
}

/** Put the content scripts, marked late, into tabs already showing `site` (they guard against running
 * twice): the isolated world first, which tells the MAIN-world script it is late. */
export async function injectIntoOpenTabs(site) {
  const tabs = await api.tabs.query({ url: patternsFor(site) });
  const wanted = new Set([site]);
  await Promise.all(tabs.map(async (tab) => {
    let host;
    try {
      host = new URL(tab.url).host;
    } catch {
      return;
    }
    if (siteForHost(host, wanted) !== site) return;
    const target = { tabId: tab.id, allFrames: true };
    try {
      await api.scripting.executeScript({ target, func: markLate, injectImmediately: true });
      await api.scripting.executeScript({ target, files: ISOLATED_FILES, injectImmediately: true });
      await api.scripting.executeScript({ target, files: MAIN_FILES, world: 'MAIN', injectImmediately: true });
    } catch {
      // a tab we may not script (error page, store page): it gets the scripts on its next load
    }
  }));
}

/** Tell every tab's content scripts that site settings changed (they ask again for their state). */
export async function notifyTabs() {
  const tabs = await api.tabs.query({});
  await Promise.all(tabs.map((tab) => api.tabs.sendMessage(tab.id, { action: 'siteStateChanged' }).catch(() => {})));
}
