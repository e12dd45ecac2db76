/**
 * The handler module `serve --workers` gives each worker thread for a TCP handler module: it
 * imports the user's module (named in this module's own URL, `?handler=FILE_URL`) and wraps
 * it as serve does without workers, so a member that throws costs its connection and one
 * line on stderr, not the whole worker.
 */
import type { TcpHandler } from '../index.js';
import { reportingFailures } from './serve.js';

const target = new URL(import.meta.url).searchParams.get('handler');
if (target === null) throw new TypeError('worker-handler.js needs ?handler=FILE_URL in its own URL');
const loaded = (await import(target)) as { default: TcpHandler };

export default reportingFailures(loaded.default);

