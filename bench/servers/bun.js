// Bun uppercase servers (Bun.listen for TCP, Bun.udpSocket for UDP), run by the `bun` binary.
//   bun bench/servers/bun.js tcp|udp PORT [HOST]
// Prints `listening tcp|udp HOST:PORT` when ready; SIGTERM ends it; SIGUSR2 runs Bun.gc(true)
// (the idle-memory workload's reading of live memory, as gc-on-signal.js does for Node).
const [transport = 'tcp', portText = '0', host = '127.0.0.1'] = process.argv.slice(2);
const port = Number(portText);
if ((transport !== 'tcp' && transport !== 'udp') || !Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write('usage: bun bench/servers/bun.js tcp|udp PORT [HOST]\n');
  process.exit(2);
}

function uppercase(bytes) {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c >= 0x61 && c <= 0x7a) bytes[i] = c - 0x20;
  }
  return bytes;
}

// Bun's socket.write() does not queue: it returns how many bytes the kernel took. What it did
// not take waits in socket.data (made only when needed, so an idle connection holds nothing)
// and leaves on drain(); replies keep their order.
function flush(socket) {
  const queue = socket.data;
  while (queue.length > 0) {
    const head = queue[0];
    const written = socket.write(head);
    if (written < 0) return;
    if (written < head.length) {
      queue[0] = head.subarray(written);
      return;
    }
    queue.shift();
  }
  socket.data = undefined;
}

if (transport === 'tcp') {
  const server = Bun.listen({
    hostname: host,
    port,
    socket: {
      data(socket, chunk) {
        const reply = uppercase(chunk);
        if (socket.data) {
          socket.data.push(Buffer.from(reply));
          return;
        }
        const written = socket.write(reply);
        if (written >= 0 && written < reply.length) socket.data = [Buffer.from(reply.subarray(written))];
      },
      drain(socket) {
        if (socket.data) flush(socket);
      },
      error() {},
    },
  });
  process.stdout.write(`listening tcp ${host}:${server.port}\n`);
} else {
  const socket = await Bun.udpSocket({
    hostname: host,
    port,
    socket: {
      data(sock, data, remotePort, remoteAddress) {
        try {
          sock.send(uppercase(data), remotePort, remoteAddress);
        } catch {
          // A client that has gone away answers with ICMP port unreachable (ECONNREFUSED on
          // a later send); UDP servers drop and carry on.
        }
      },
      error() {},
    },
  });
  process.stdout.write(`listening udp ${host}:${socket.port}\n`);
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGUSR2', () => {
  for (let i = 0; i < 6; i++) Bun.gc(true);
});
