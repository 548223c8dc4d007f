// The connection to the daemon: stored URL + token, re-paired through the native host when the daemon is
// unreachable or refuses the token.  Only the background uses this; content scripts never see the token.
import { daemonClient, DaemonError } from './daemon-client.js';
import { LOOPBACK_HINT, loopbackOrigin } from './loopback.js';
import { HostError, pairViaHost } from './native.js';
import * as storage from '../common/storage.js';

let repairing = null;

export async function currentClient() {
  const { daemonUrl, token } = await storage.load(['daemonUrl', 'token']);
  return daemonClient({ url: daemonUrl, token });
}

/** Ask the native host for the daemon's URL and token and make sure it runs (one attempt at a time). */
export function repairViaHost() {
  if (!repairing) {
    repairing = pairViaHost()
      .then(async ({ url, token }) => {
        const daemonUrl = loopbackOrigin(url); // the same check as a typed URL
        if (!daemonUrl) throw new HostError('bad_daemon_url', `the artshade host named a daemon not on this machine; ${LOOPBACK_HINT}`);
        await storage.save({ daemonUrl, token, pairedBy: 'native host' });
        return { url: daemonUrl, token };
      })
      .finally(() => {
        repairing = null;
      });
  }
  return repairing;
}

function needsRepair(err) {
  return err instanceof DaemonError && (err.code === 'daemon_unreachable' || err.status === 401 || err.status === 403);
}

/**
 * Run `fn(client)`; if the daemon is unreachable or refuses us, pair through the native host (which also
 * starts the daemon) and try once more.  The first error is kept when the host cannot help.
 */
export async function withDaemon(fn) {
  const { token } = await storage.load(['token']);
  if (token) {
    try {
      return await fn(await currentClient());
    } catch (err) {
      if (!needsRepair(err)) throw err;
      try {
        await repairViaHost();
      } catch (hostErr) {
        throw explain(err, hostErr);
      }
      return fn(await currentClient());
    }
  }
  try {
    await repairViaHost();
  } catch (hostErr) {
    throw explain(new DaemonError('not_paired', 'this browser is not paired with the artshade app yet'), hostErr);
  }
  return fn(await currentClient());
}

function explain(err, hostErr) {
  if (hostErr instanceof HostError && hostErr.code === 'host_not_installed') {
    err.hint = 'run `artshade install-browser-host` once, or pair with a code on the options page';
  } else if (hostErr) {
    err.hint = hostErr.message;
  }
  return err;
}
