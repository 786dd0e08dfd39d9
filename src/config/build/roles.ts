/** Server role and bootstrap settings (`server`, `bootstrap`, `bootstrap_expect`). */
import type { AgentConfig } from '../agent-config.js'
import type { BuildContext } from './context.js'
import type { TreeReader } from './reader.js'

export function readRoles(
  r: TreeReader,
  ctx: BuildContext,
): Pick<AgentConfig, 'server' | 'bootstrap' | 'bootstrapExpect'> {
  const { dev } = ctx
  const { problems, warnings } = ctx.report
  const server = r.bool('server')
  let bootstrap = r.bool('bootstrap')
  let bootstrapExpect = r.num('bootstrap_expect', 0)
  if (bootstrapExpect === 1) {
    bootstrap = true
    bootstrapExpect = 0
    warnings.push('BootstrapExpect is set to 1; this is the same as Bootstrap mode.')
  }
  if (bootstrap && !server) problems.push("'bootstrap = true' requires 'server = true'")
  if (bootstrapExpect < 0) {
    problems.push(`bootstrap_expect cannot be ${bootstrapExpect}. Must be greater than or equal to zero`)
  }
  if (bootstrapExpect > 0 && !server) problems.push("'bootstrap_expect > 0' requires 'server = true'")
  if (bootstrapExpect > 0 && dev) problems.push("'bootstrap_expect > 0' not allowed in dev mode")
  if (bootstrapExpect > 0 && bootstrap) {
    problems.push("'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive")
  }
  if (server && !dev && !bootstrap && bootstrapExpect === 2) {
    warnings.push(
      'bootstrap_expect = 2: A cluster with 2 servers will provide no failure tolerance. See https://www.consul.io/docs/internals/consensus.html#deployment-table',
    )
  }
  if (server && !bootstrap && bootstrapExpect > 2 && bootstrapExpect % 2 === 0) {
    warnings.push(
      'bootstrap_expect is even number: A cluster with an even number of servers does not achieve optimum fault tolerance. See https://www.consul.io/docs/internals/consensus.html#deployment-table',
    )
  }
  if (server && bootstrap && bootstrapExpect === 0)
    warnings.push('bootstrap = true: do not enable unless necessary')
  if (server && !dev && !bootstrap && bootstrapExpect > 1) {
    warnings.push(`bootstrap_expect > 0: expecting ${bootstrapExpect} servers`)
  }

  return { server, bootstrap: bootstrap || dev, bootstrapExpect }
}
