import { BadRequestError } from '../../lib/errors.js'
import type { CheckType } from '../../structs/check.js'
import { HttpRunner } from './http-check.js'
import { GrpcRunner } from './grpc-check.js'
import { H2PingRunner } from './h2ping-check.js'
import type { ManagedRunner, RunnerContext } from './runner.js'
import { ScriptRunner } from './script-check.js'
import { TcpRunner } from './tcp-check.js'
import { TtlRunner } from './ttl-check.js'
import { AliasRunner } from './alias-check.js'
import { UdpRunner } from './udp-check.js'

/** Builds the runner for a check definition; null for checks that have no runner (maintenance). */
export type RunnerFactory = (ctx: RunnerContext) => ManagedRunner | null

/** Check types this agent cannot run; registering one is refused before anything changes. */
export function unsupportedCheckType(type: CheckType): string | undefined {
  switch (type) {
    case 'docker':
      return 'Docker checks are not supported by vigil yet'
    case 'os_service':
      return 'OSService checks are not supported by vigil yet'
    default:
      return undefined
  }
}

export const createRunner: RunnerFactory = (ctx) => {
  const type = ctx.definition.type
  switch (type) {
    case 'ttl':
      return new TtlRunner(ctx)
    case 'http':
      return new HttpRunner(ctx)
    case 'tcp':
      return new TcpRunner(ctx)
    case 'udp':
      return new UdpRunner(ctx)
    case 'alias': {
      const { local, aliasReconcileMs } = ctx
      if (local === undefined || aliasReconcileMs === undefined) {
        throw new Error('an alias runner needs a view of local state and its reconcile interval')
      }
      return new AliasRunner({ ...ctx, local, aliasReconcileMs })
    }
    case 'grpc':
      return new GrpcRunner(ctx)
    case 'h2ping':
      return new H2PingRunner(ctx)
    case 'script':
      return new ScriptRunner(ctx)
    case 'maintenance':
    case '':
      return null
    default:
      throw new BadRequestError(
        `Invalid check: ${unsupportedCheckType(type) ?? `no runner for type "${type}"`}`,
      )
  }
}
