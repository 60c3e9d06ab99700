import fs from 'node:fs';
import net from 'node:net';
import { freePort } from './testing';

describe('freePort', () => {
  it('hands out distinct ports below the ephemeral range that a server can bind', async () => {
    const ephemeralLow = Number(
      fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    const ports: number[] = [];
    for (let i = 0; i < 20; i++) ports.push(await freePort());
    // Handed out before anything binds them (as tests do for spawned services): never one twice.
    expect(new Set(ports).size).toBe(ports.length);
    for (const p of ports) {
      expect(p).toBeLessThan(ephemeralLow);
      expect(p).toBeGreaterThanOrEqual(1024);
    }
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(ports[0], '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});
