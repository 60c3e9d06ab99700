// Prints N free TCP ports on 127.0.0.1, all held open together so they are distinct.
//   node free-ports.mjs N [--pair]
// --pair adds one more port P whose neighbour P+1 is free as well (swtpm: the tpm2-tss swtpm
// TCTI always finds the control channel at the server port + 1).
import net from 'node:net';

const n = Number(process.argv[2] ?? '1'); // may be 0 with --pair
const pair = process.argv.includes('--pair');
const listen = (port) =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(undefined));
    s.listen(port, '127.0.0.1', () => resolve(s));
  });

const held = [];
const ports = [];
for (let i = 0; i < n; i++) {
  const s = await listen(0);
  held.push(s);
  ports.push(s.address().port);
}
if (pair) {
  for (let tries = 0; tries < 50; tries++) {
    const s = await listen(0);
    const p = s.address().port;
    const next = p < 65535 ? await listen(p + 1) : undefined;
    if (next) {
      held.push(s, next);
      ports.push(p);
      break;
    }
    s.close();
  }
  if (ports.length === n) {
    process.stderr.write('free-ports: no free port pair found\n');
    process.exit(1);
  }
}
process.stdout.write(ports.join(' ') + '\n');
for (const s of held) s.close();
