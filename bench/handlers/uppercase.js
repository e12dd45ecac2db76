// The "JavaScript handler" of the benchmarks: the same uppercase echo as the built-in, run
// as JavaScript on either backend.
import { uppercaseAscii } from '../../dist/index.js';

export default {
  data(connection, chunk) {
    connection.write(uppercaseAscii(chunk));
  },
};
