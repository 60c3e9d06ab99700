/** @module tenant/commands: keylime_tenant's `-c` dispatch (upstream tenant.main), with the right setup per command. */
import { loadTenantConfig } from '@keylime/config';
import type { Environment } from '@keylime/config';
import { TENANT_COMMANDS } from './args';
import type { TenantArgs } from './args';
import { UserError } from './errors';
import { loadTenantTls } from './http';
import type { Reporter } from './output';
import {
  closeClients,
  createTenantContext,
  doAdd,
  doBulkinfo,
  doCvdelete,
  doCvlist,
  doCvreactivate,
  doCvstatus,
  doMbPolicy,
  doPolicyRead,
  doRegdelete,
  doReglist,
  doRegstatus,
  doRuntimePolicy,
  doStatus,
} from './tenant';
import type { TenantContext } from './tenant';
import { renderAgentStatus } from './render';

const DEPRECATED_TAIL =
  'Keylime has implemented support for a unified policy format, and will no longer accept separate allow/exclude lists in the near future.' +
  'A conversion script to upgrade legacy allow/exclude lists to the new format is available under keylime/cmd/convert_runtime_policy.py.';

async function dispatch(ctx: TenantContext): Promise<void> {
  const a = ctx.args;
  const runtimeName = a.allowlistName ?? a.runtimePolicyName;
  switch (a.command) {
    case 'add':
      return doAdd(ctx, false);
    case 'update':
      return doAdd(ctx, true);
    case 'delete':
      await doCvdelete(ctx, a.verifierCheck);
      ctx.out.result({ agent_id: ctx.agentUuid, deleted: true }, () => '');
      return;
    case 'status':
      return doStatus(ctx);
    case 'cvstatus': {
      const status = await doCvstatus(ctx);
      ctx.out.result(status.results, () =>
        renderAgentStatus(ctx.agentUuid, undefined, status.results[ctx.agentUuid]).replace(
          /\n\nRegistrar[\s\S]*?\n\n/,
          '\n\n',
        ),
      );
      return;
    }
    case 'bulkinfo':
      return doBulkinfo(ctx);
    case 'cvlist':
      return doCvlist(ctx);
    case 'reactivate':
      return doCvreactivate(ctx, a.verifierCheck);
    case 'regstatus': {
      const reg = await doRegstatus(ctx);
      ctx.out.result(reg['results'], () =>
        renderAgentStatus(
          ctx.agentUuid,
          (reg['results'] as Record<string, unknown>)[ctx.agentUuid],
          undefined,
        ).replace(/\n\nVerifier[\s\S]*$/, ''),
      );
      return;
    }
    case 'reglist':
      return doReglist(ctx);
    case 'regdelete':
      return doRegdelete(ctx);
    case 'addallowlist':
      ctx.out.warn(
        `WARNING: -c addallowlist is deprecated. Use -c addruntimepolicy instead.${DEPRECATED_TAIL}`,
      );
      return doRuntimePolicy(ctx, 'POST');
    case 'addruntimepolicy':
      return doRuntimePolicy(ctx, 'POST');
    case 'updateruntimepolicy':
      return doRuntimePolicy(ctx, 'PUT');
    case 'showallowlist':
      ctx.out.warn(
        `WARNING: -c showallowlist is deprecated. Use -c showruntimepolicy instead.${DEPRECATED_TAIL}`,
      );
      return doPolicyRead(ctx, 'runtime', 'show', runtimeName);
    case 'showruntimepolicy':
      return doPolicyRead(ctx, 'runtime', 'show', runtimeName);
    case 'deleteallowlist':
      ctx.out.warn(
        `WARNING: -c deleteallowlist is deprecated. Use -c deleteruntimepolicy instead.${DEPRECATED_TAIL}`,
      );
      return doPolicyRead(ctx, 'runtime', 'delete', runtimeName);
    case 'deleteruntimepolicy':
      return doPolicyRead(ctx, 'runtime', 'delete', runtimeName);
    case 'listruntimepolicy':
      return doPolicyRead(ctx, 'runtime', 'list', undefined);
    case 'addmbpolicy':
      return doMbPolicy(ctx, 'POST');
    case 'updatembpolicy':
      return doMbPolicy(ctx, 'PUT');
    case 'showmbpolicy':
      return doPolicyRead(ctx, 'mb', 'show', a.mbPolicyName);
    case 'deletembpolicy':
      return doPolicyRead(ctx, 'mb', 'delete', a.mbPolicyName);
    case 'listmbpolicy':
      return doPolicyRead(ctx, 'mb', 'list', undefined);
    default:
      throw new UserError(
        `Invalid command specified: ${a.command} (valid commands are ${TENANT_COMMANDS.join(', ')})`,
      );
  }
}

/** Loads tenant.conf, sets up TLS and runs the command; keep-alive connections are closed at the end. */
export async function runTenant(args: TenantArgs, env: Environment, out: Reporter): Promise<void> {
  if (args.supportedVersion !== undefined)
    out.warn('--supported-version is deprecated. Use --agent-api-version instead.');
  const config = loadTenantConfig({ env });
  const tls = loadTenantTls(config, out);
  const ctx = createTenantContext(config, env, args, tls, out);
  try {
    await dispatch(ctx);
  } finally {
    closeClients(ctx);
  }
}
