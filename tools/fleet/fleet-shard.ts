/**
 * @module fleet-shard: child-process entry hosting one FleetShard, driven over the Node IPC channel
 * by tools/benchmarks/fleet.ts. Shards exist because one process may hold only `ulimit -n` sockets:
 * each agent costs a listening socket plus the verifier's keep-alive connection.
 */
import { FleetShard } from './fleet-agents';
import type { FleetAgentInfo, FleetStats } from './fleet-agents';
import { createFleetIdentity } from './simulated-agent';

/** Driver → shard. */
export type ShardRequest =
  | {
      readonly type: 'init';
      readonly seq: number;
      readonly shard: number;
      readonly count: number;
      readonly idPrefix: string;
      readonly clientCaPem: string;
      readonly imaGrowth: number;
      readonly quoteIntervalMs: number;
      readonly basePort: number;
    }
  | {
      readonly type: 'register';
      readonly seq: number;
      readonly host: string;
      readonly port: number;
      readonly concurrency: number;
      /** Registers the first `limit` agents only. */
      readonly limit: number;
    }
  | { readonly type: 'stats'; readonly seq: number; readonly reset: boolean }
  | { readonly type: 'close'; readonly seq: number };

/** Shard → driver. */
export type ShardReply =
  | {
      readonly type: 'ready';
      readonly seq: number;
      readonly agents: readonly FleetAgentInfo[];
      readonly mtlsCert: string;
    }
  | {
      readonly type: 'registered';
      readonly seq: number;
      readonly ok: number;
      readonly failed: readonly string[];
    }
  | { readonly type: 'stats'; readonly seq: number; readonly stats: FleetStats }
  | { readonly type: 'closed'; readonly seq: number }
  | { readonly type: 'error'; readonly seq: number; readonly message: string };

function reply(r: ShardReply): void {
  process.send?.(r);
}

function main(): void {
  let shard: FleetShard | undefined;
  process.on('message', (raw: unknown) => {
    const msg = raw as ShardRequest;
    void (async () => {
      try {
        switch (msg.type) {
          case 'init': {
            const identity = await createFleetIdentity(`fleet-shard-${msg.shard}`);
            shard = new FleetShard({ ...msg, identity });
            const agents = await shard.listen();
            reply({ type: 'ready', seq: msg.seq, agents, mtlsCert: identity.tlsCertPem });
            break;
          }
          case 'register': {
            if (!shard) throw new Error('not initialised');
            const r = await shard.register(msg.host, msg.port, msg.concurrency, msg.limit);
            reply({ type: 'registered', seq: msg.seq, ok: r.ok, failed: r.failed.slice(0, 20) });
            break;
          }
          case 'stats': {
            if (!shard) throw new Error('not initialised');
            reply({ type: 'stats', seq: msg.seq, stats: shard.stats(msg.reset) });
            break;
          }
          case 'close': {
            await shard?.close();
            reply({ type: 'closed', seq: msg.seq });
            process.disconnect?.();
            break;
          }
        }
      } catch (e) {
        reply({ type: 'error', seq: msg.seq, message: (e as Error).stack ?? String(e) });
      }
    })();
  });
  // The driver died or closed the channel: nothing left to serve.
  process.on('disconnect', () => process.exit(0));
}

main();
