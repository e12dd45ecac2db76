/** A request's id: a number or a string, as the client chose it (docs/messages.md). Its own
 * file so the public declarations need nothing of wire.ts, which works on node's Buffers. */
export type MessageId = number | string;
