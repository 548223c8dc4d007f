// Messaging: one table of action -> handler in the background; one `call` for extension pages.
//
// Requests are {action, ...fields}.  A one-shot request goes through runtime.sendMessage; a request that
// reports progress (shading) goes through a runtime port named PORT_NAME, which also keeps the service
// worker alive while the daemon works.  Replies are {ok: true, value} or {ok: false, error: {code, message}}.
import { api } from './api.js';

export const PORT_NAME = 'artshade-rpc';

export class ActionError extends Error {
  constructor(code, message, extra = {}) {
    super(message);
    this.code = code;
    Object.assign(this, extra);
  }
}

function errorReply(err) {
  const { code = 'internal', message = String(err), ...extra } = err ?? {};
  const plain = {};
  for (const [k, v] of Object.entries(extra)) if (typeof v !== 'function' && k !== 'stack') plain[k] = v;
  return { ok: false, error: { ...plain, code, message: err?.message ?? message } };
}

/** Who sent a message: 'extension' (popup, options) or 'content' (a content script in a tab). */
function callerKind(sender) {
  if (sender?.id !== api.runtime.id) return null;
  // Extension pages opened in a tab (options has open_in_tab) also have sender.tab: check the URL first.
  if ((sender.url ?? '').startsWith(api.runtime.getURL(''))) return 'extension';
  return sender.tab ? 'content' : null;
}

/**
 * Serve `table`: {action: {handler(request, context), from: ['extension'] | ['content', 'extension']}}.
 * context = {sender, caller, progress(fields)}.
 */
export function serve(table) {
  async function dispatch(request, sender, progress) {
    const caller = callerKind(sender);
    const entry = table[request?.action];
    if (!entry) throw new ActionError('unknown_action', `unknown action ${request?.action}`);
    if (!caller || !entry.from.includes(caller)) {
      throw new ActionError('forbidden', `${request.action} is not allowed from ${caller ?? 'there'}`);
    }
    return entry.handler(request, { sender, caller, progress });
  }

  api.runtime.onMessage.addListener((request, sender, sendResponse) => {
    if (!request || typeof request.action !== 'string' || request.__reply) return false;
    dispatch(request, sender, () => {})
      .then((value) => sendResponse({ ok: true, value }), (err) => sendResponse(errorReply(err)));
    return true;
  });

  api.runtime.onConnect.addListener((port) => {
    if (port.name !== PORT_NAME) return;
    port.onMessage.addListener((message) => {
      const { id, request } = message ?? {};
      const post = (m) => {
        try {
          port.postMessage({ id, ...m });
        } catch {
          // the tab went away; nothing to tell
        }
      };
      dispatch(request, port.sender, (fields) => post({ progress: fields }))
        .then((value) => post({ reply: { ok: true, value } }), (err) => post({ reply: errorReply(err) }));
    });
  });
}

/** Call the background from an extension page. Resolves with the value or rejects with an ActionError. */
export async function call(action, fields = {}) {
  const reply = await api.runtime.sendMessage({ action, ...fields });
  if (!reply) throw new ActionError('no_reply', 'the artshade background did not answer');
  if (!reply.ok) throw new ActionError(reply.error.code, reply.error.message, reply.error);
  return reply.value;
}
