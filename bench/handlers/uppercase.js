// The "JavaScript handler" of the benchmarks: the same uppercase echo as the built-in, run
// as JavaScript on either backend. One object serves both transports: `data` for TCP,
// `message` for UDP. It keeps no per-connection state (no open()), so the idle-memory
// workload measures what the engine itself holds per connection.
import { uppercaseAscii } from '../../dist/index.js';

export default {
  data(connection, chunk) {
    connection.write(uppercaseAscii(chunk));
  },
  message(socket, data, rinfo) {
    socket.send(uppercaseAscii(data), rinfo.port, rinfo.address);
  },
};
