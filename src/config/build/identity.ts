/** Who the agent is: datacenters, data dir, node name, node ID and node metadata. */
import { statSync } from 'node:fs'
import { hostname as osHostname } from 'node:os'
import { errorMessage } from '../../lib/errors.js'
import type { AgentConfig } from '../agent-config.js'
import type { BuildContext } from './context.js'
import type { TreeReader } from './reader.js'

const BASIC_NAME = /^[a-z0-9_-]+$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const META_KEY = /^[A-Za-z0-9_-]+$/

export function readIdentity(
  r: TreeReader,
  ctx: BuildContext,
): Pick<AgentConfig, 'datacenter' | 'primaryDatacenter' | 'dataDir' | 'nodeName' | 'nodeId' | 'nodeMeta'> {
  const { dev } = ctx
  const { problems, warnings } = ctx.report
  const datacenter = r.str('datacenter', 'dc1').toLowerCase()
  validateBasicName('datacenter', datacenter, false, problems)
  const primaryGiven = (r.legacy('acl_datacenter', 'primary_datacenter') ?? '').toLowerCase()
  validateBasicName('primary_datacenter', primaryGiven, true, problems)
  const primaryDatacenter = primaryGiven || datacenter

  const dataDir = r.str('data_dir')
  if (dataDir === '' && !dev) problems.push('data_dir cannot be empty')
  if (dataDir !== '' && !dev) {
    try {
      if (!statSync(dataDir).isDirectory())
        problems.push(`data_dir ${JSON.stringify(dataDir)} is not a directory`)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        problems.push(`Error getting info on data_dir: ${errorMessage(err)}`)
      }
    }
  }

  let nodeName = r.str('node_name').trim()
  if (nodeName === '') {
    try {
      nodeName = (ctx.env.hostname ?? osHostname)().trim()
    } catch (err) {
      problems.push(`node_name: ${errorMessage(err)}`)
    }
  }
  if (nodeName === '') problems.push('node_name cannot be empty')
  else if (/[^A-Za-z0-9-]/.test(nodeName)) {
    warnings.push(
      `Node name ${JSON.stringify(nodeName)} will not be discoverable via DNS due to invalid characters. Valid characters include all alpha-numerics and dashes.`,
    )
    if (/[\s'"`]/.test(nodeName)) {
      warnings.push(
        `Found invalid characters in node name ${JSON.stringify(nodeName)} - whitespace and quotes (', ", \`) cannot be used with auto-config.`,
      )
    }
  } else if (nodeName.length > 63) {
    warnings.push(
      `Node name ${JSON.stringify(nodeName)} will not be discoverable via DNS due to it being too long. Valid lengths are between 1 and 63 bytes.`,
    )
  }

  const nodeId = r.str('node_id').trim().toLowerCase()
  if (nodeId !== '' && !UUID.test(nodeId)) {
    problems.push(
      `node_id ${JSON.stringify(r.str('node_id'))} is invalid: ${nodeId.length !== 36 ? 'uuid string is wrong length' : 'uuid is improperly formatted'}`,
    )
  }

  const nodeMeta = r.smap('node_meta')
  validateNodeMeta(nodeMeta, problems)
  return {
    datacenter,
    primaryDatacenter,
    dataDir,
    nodeName,
    nodeId: UUID.test(nodeId) ? nodeId : '',
    nodeMeta,
  }
}

function validateBasicName(field: string, value: string, allowEmpty: boolean, problems: string[]): void {
  if (value === '') {
    if (!allowEmpty) problems.push(`${field} cannot be empty`)
    return
  }
  if (!BASIC_NAME.test(value)) {
    problems.push(
      `${field} can only contain lowercase alphanumeric, - or _ characters. received: ${JSON.stringify(value)}`,
    )
  }
}

/** Consul's `ValidateNodeMetadata` without the `consul-` prefix allowance. */
function validateNodeMeta(meta: Readonly<Record<string, string>>, problems: string[]): void {
  const entries = Object.entries(meta)
  if (entries.length > 64) {
    problems.push('node_meta invalid: Node metadata cannot contain more than 64 key/value pairs')
    return
  }
  for (const [key, value] of entries) {
    let reason: string | undefined
    if (key === '') reason = 'Key cannot be blank'
    else if (!META_KEY.test(key)) reason = 'Key contains invalid characters'
    else if (key.length > 128) reason = 'Key is too long (limit: 128 characters)'
    else if (key.startsWith('consul-')) reason = "Key prefix 'consul-' is reserved for internal use"
    else if (value.length > 512) reason = 'Value is too long (limit: 512 characters)'
    if (reason !== undefined) {
      problems.push(`node_meta invalid: Couldn't load metadata pair ('${key}', '${value}'): ${reason}`)
    }
  }
}
