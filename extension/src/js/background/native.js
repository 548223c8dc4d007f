// The native-messaging host (native_messaging/PROTOCOL.md): hello -> pair -> ensure_daemon, and status.
import { api, extensionOrigin } from '../common/api.js';
import { NATIVE_HOST_NAME } from '../common/ids.js';

export const PROTOCOL = 1;
export const INSTALL_COMMAND = 'artshade install-browser-host';

export class HostError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function disconnectReason(port) {
  return port.error?.message ?? api.runtime.lastError?.message ?? 'the artshade host closed the connection';
}

function isMissingHost(message) {
  return /not found|forbidden|no such native application|not registered|access to the specified native/i.test(message);
}

/** One connection to the host; `request` sends one message and waits for the reply with its request_id. */
export function connectHost() {
  let port;
  try {
    port = api.runtime.connectNative(NATIVE_HOST_NAME);
  } catch (err) {
    throw new HostError('host_not_installed', String(err?.message ?? err));
  }
  const pending = new Map();
  let closed = null;
  let counter = 0;

  port.onMessage.addListener((message) => {
    const entry = pending.get(message?.request_id);
    if (!entry) return;
    pending.delete(message.request_id);
    clearTimeout(entry.timer);
    entry.resolve(message);
  });
  port.onDisconnect.addListener(() => {
    const reason = disconnectReason(port);
    closed = new HostError(isMissingHost(reason) ? 'host_not_installed' : 'host_failed', reason);
    for (const entry of pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(closed);
    }
    pending.clear();
  });

  return {
    request(action, fields = {}, timeoutMs = 15000) {
      if (closed) return Promise.reject(closed);
      const id = `r${++counter}`;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new HostError('host_timeout', `the artshade host did not answer ${action} in ${timeoutMs / 1000} s`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        port.postMessage({ action, request_id: id, protocol: PROTOCOL, ...fields });
      }).then((reply) => {
        if (!reply.ok) {
          const error = reply.error ?? {};
          throw new HostError(`host_error_${error.code ?? 'unknown'}`, error.message ?? `${action} failed`);
        }
        return reply;
      });
    },
    close() {
      try {
        port.disconnect();
      } catch {
        // already closed
      }
    },
  };
}

/** hello -> pair -> ensure_daemon.  Resolves {url, token, started}. */
export async function pairViaHost({ ensureDaemon = true } = {}) {
  const host = connectHost();
  try {
    const hello = await host.request('hello', { extension_version: api.runtime.getManifest().version });
    if (hello.protocol !== PROTOCOL) {
      throw new HostError('protocol_mismatch', `the artshade host speaks protocol ${hello.protocol}, this extension ${PROTOCOL}; update one of them`);
    }
    const paired = await host.request('pair', { origin: extensionOrigin() });
    let ensured = null;
    if (ensureDaemon) ensured = await host.request('ensure_daemon', {}, 75000);
    return { url: ensured?.url ?? paired.url, token: paired.token, started: Boolean(ensured?.started) };
  } finally {
    host.close();
  }
}

/** What the host knows; never throws: {installed, message?, daemon?, host_version?}. */
export async function hostStatus() {
  let host;
  try {
    host = connectHost();
    const reply = await host.request('status', {}, 8000);
    return { installed: true, host_version: reply.host_version, daemon: reply.daemon ?? null };
  } catch (err) {
    if (err.code === 'host_not_installed') {
      return { installed: false, message: err.message, install_command: INSTALL_COMMAND };
    }
    return { installed: true, message: err.message };
  } finally {
    host?.close();
  }
}
