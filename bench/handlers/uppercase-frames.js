// The JavaScript handler of the framed shapes (tcp-50x64-lines, tcp-10x16k-len4): the server
// runs with `--framing`, so data() gets one whole frame per call (a line without its LF, a
// payload without its length header) and connection.send() writes one frame (adding the LF or
// the header). It uppercases the frame in place with the same byte loop as uppercase.js and
// keeps no per-connection state.
import { uppercaseAscii } from '../../dist/index.js';

export default {
  data(connection, frame) {
    connection.send(uppercaseAscii(frame));
  },
};
