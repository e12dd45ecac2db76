// The echo shape's JavaScript handler (tcp-10x16k-echo): the payload arrives already
// uppercase, so writing each chunk back unchanged is the right answer, and what remains per
// message is the engine's (or runtime's) own work with no byte loop.
export default {
  data(connection, chunk) {
    connection.write(chunk);
  },
};
