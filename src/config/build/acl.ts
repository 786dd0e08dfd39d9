/** ACL policies and tokens, with the legacy top-level `acl_*` spellings. */
import type { AgentConfig } from '../agent-config.js'
import type { BuildContext } from './context.js'
import type { TreeReader } from './reader.js'

export function readAcl(
  r: TreeReader,
  ctx: BuildContext,
): Pick<AgentConfig, 'aclDefaultPolicy' | 'aclDownPolicy' | 'aclTokens'> {
  const { problems } = ctx.report
  const aclDefaultPolicy = r.legacy('acl_default_policy', 'acl.default_policy') ?? 'allow'
  if (aclDefaultPolicy !== 'allow' && aclDefaultPolicy !== 'deny') {
    problems.push(
      `acl.default_policy: invalid value ${JSON.stringify(aclDefaultPolicy)}: must be "allow" or "deny"`,
    )
  }
  const aclDownPolicy = r.legacy('acl_down_policy', 'acl.down_policy') ?? 'extend-cache'
  if (!['allow', 'deny', 'extend-cache', 'async-cache'].includes(aclDownPolicy)) {
    problems.push(
      `acl.down_policy: invalid value ${JSON.stringify(aclDownPolicy)}: must be "allow", "deny", "extend-cache" or "async-cache"`,
    )
  }
  const aclTokens = {
    initialManagement: r.legacy('acl_master_token', 'acl.tokens.initial_management') ?? '',
    default: r.legacy('acl_token', 'acl.tokens.default') ?? '',
    agent: r.legacy('acl_agent_token', 'acl.tokens.agent') ?? '',
    agentRecovery: r.legacy('acl_agent_master_token', 'acl.tokens.agent_recovery') ?? '',
    replication: r.legacy('acl_replication_token', 'acl.tokens.replication') ?? '',
  }

  return {
    aclDefaultPolicy: aclDefaultPolicy === 'deny' ? 'deny' : 'allow',
    aclDownPolicy,
    aclTokens,
  }
}
