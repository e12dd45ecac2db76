// Connection churn: each of N clients connects, sends one message, verifies the uppercase
// reply, closes, and starts over. Quoted in connections per second (one cycle = one).
import { measureLoadgen } from './pingpong.js';

export function measure(context) {
  return measureLoadgen(context, 'churn', 'conns_per_s');
}
