'use strict';
// An idiomatic Node.js echo server (RFC 862) for TCP and UDP, written the way Node services are
// usually deployed, so that bench/compare can measure netecho against it.
//
// Usage: node echo.js PORT
//
// It listens on 127.0.0.1:PORT for TCP (the net module) and UDP (the dgram module); port 0 picks
// a free port for each. It prints one line per listener and then a readiness line:
//
//   listening proto=tcp host=127.0.0.1 port=41234 mode=echo
//   listening proto=udp host=127.0.0.1 port=41234 mode=echo
//   ready peer=node
//
// Each TCP connection is piped into itself: stream.pipe() applies backpressure (it pauses
// reading while the write side is full) and, when the client ends its sending side, ends ours
// once everything is written. Every datagram is sent back to where it came from.

const net = require('net');
const dgram = require('dgram');

const port = Number(process.argv[2]);
if (process.argv.length !== 3 || !Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('usage: node echo.js PORT');
  process.exit(2);
}

const tcp = net.createServer((socket) => {
  // A reset or a vanished client ends this connection only.
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});

const udp = dgram.createSocket('udp4');
udp.on('message', (msg, rinfo) => {
  // A failed send loses one reply, as UDP may; the callback keeps it from throwing.
  udp.send(msg, rinfo.port, rinfo.address, () => {});
});

let pending = 2;
function announce(proto, address) {
  console.log(`listening proto=${proto} host=${address.address} port=${address.port} mode=echo`);
  pending -= 1;
  if (pending === 0) {
    console.log('ready peer=node');
  }
}

function fail(what) {
  return (err) => {
    console.error(`echo.js: ${what}: ${err.message}`);
    process.exit(1);
  };
}
tcp.on('error', fail('tcp'));
udp.on('error', fail('udp'));

tcp.listen({port, host: '127.0.0.1', backlog: 4096}, () => {
  announce('tcp', tcp.address());
  udp.bind(port, '127.0.0.1', () => announce('udp', udp.address()));
});
