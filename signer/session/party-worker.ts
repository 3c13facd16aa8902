/**
 * Worker-thread entry of `PartyWorkerPool` (compiled to dist/signer/session/party-worker.js;
 * Node 20 cannot start a worker from TypeScript). Hosts protocol parties and answers the
 * requests of worker-messages.ts one at a time; CPU-heavy rounds run here, off the signer's
 * event loop.
 */
import { parentPort } from 'node:worker_threads';
import { PartyHost } from './worker-host.ts';
import type { ToWorkerMessage } from './worker-messages.ts';

const port = parentPort;
if (port === null) throw new Error('party-worker must run in a worker thread');

const host = new PartyHost();
port.on('message', (request: ToWorkerMessage) => {
  const reply = host.handle(request);
  if (reply !== undefined) port.postMessage(reply.message, reply.transfer);
});
port.on('close', () => host.wipeAll());
