/**
 * An etcd cluster of N members on loopback free ports, each with its own temp data dir, for
 * fault tests and benchmarks: members are killed (SIGKILL) and restarted on their data one by one,
 * `leader()` tells which member etcd elected, `stop()` removes everything. Members run with the
 * flags vigil needs (`VIGIL_ETCD_FLAGS`) unless told otherwise.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Etcd3, type IOptions } from 'etcd3'
import { etcdProcess, memberFlags, memberUrls, type MemberUrls } from './etcd.js'

/** vigil's txns (a Consul txn of 128 deletes writes 128 tombstones too) exceed etcd's default 128 ops. */
export const VIGIL_ETCD_FLAGS: readonly string[] = ['--max-txn-ops=1024']

export interface EtcdClusterMember {
  /** etcd's member name: `m0`, `m1`, … */
  readonly name: string
  /** The client URL, e.g. `http://127.0.0.1:23790`. */
  readonly endpoint: string
  /** A client on this member alone, without retries or circuit breaker: calls to a dead member fail at once. */
  readonly client: Etcd3
  /** Whether the member's process runs (not killed or stopped since its last start). */
  readonly running: boolean
  /** Kills the member (SIGKILL) and waits for it to exit. */
  kill(): Promise<void>
  /** Starts it again on the same data dir and ports; resolves once it answers. */
  restart(): Promise<void>
  /** Stops the member (SIGTERM) and waits; its data dir stays for `restart`. */
  stop(): Promise<void>
}

export interface EtcdCluster {
  readonly members: readonly EtcdClusterMember[]
  /** Every member's client URL, in member order. */
  readonly endpoints: readonly string[]
  /** A client on every endpoint, with etcd3's default retries across them (closed by `stop`). */
  readonly client: Etcd3
  /**
   * The running member that reports itself as the raft leader (maintenance status); waits for
   * an election, at most `timeoutMs` (default 15 s).
   */
  leader(timeoutMs?: number): Promise<EtcdClusterMember>
  /** Kills every member and removes the data dirs. */
  stop(): Promise<void>
}

export interface EtcdClusterOptions {
  /** Number of members; default 3. */
  readonly size?: number
  /** etcd flags for every member; default `VIGIL_ETCD_FLAGS`. */
  readonly args?: readonly string[]
}

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>

/** A fault policy that runs each call once and never opens a circuit. */
const DIRECT = {
  execute: <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> =>
    Promise.resolve(fn({ signal: new AbortController().signal })),
  onSuccess: () => ({ dispose: () => undefined }),
  onFailure: () => ({ dispose: () => undefined }),
  // The policy interface declares a type-only virtual property; `execute` is all the client calls.
} as unknown as Policy

function directClient(endpoint: string): Etcd3 {
  return new Etcd3({ hosts: endpoint, faultHandling: { host: () => DIRECT, global: DIRECT } })
}

/** Resolves like `p`, or rejects after `ms`. */
async function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Starts `size` members together and resolves once every one answers. */
export async function startEtcdCluster(opts: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const size = opts.size ?? 3
  const args = opts.args ?? VIGIL_ETCD_FLAGS
  const base = await mkdtemp(join(tmpdir(), 'vigil-etcd-cluster-'))
  const urls: MemberUrls[] = []
  for (let i = 0; i < size; i++) urls.push(await memberUrls(`m${i}`))
  const token = `vigil-${process.pid}-${Date.now()}`
  const members: EtcdClusterMember[] = []
  for (const u of urls) {
    const dataDir = join(base, u.name)
    await mkdir(dataDir)
    const client = directClient(u.clientUrl)
    const proc = etcdProcess(
      [
        ...memberFlags(u, dataDir, urls),
        `--initial-cluster-token=${token}`,
        '--initial-cluster-state=new',
        ...args,
      ],
      client,
    )
    members.push({
      name: u.name,
      endpoint: u.clientUrl,
      client,
      get running() {
        return proc.running
      },
      kill: proc.kill,
      restart: proc.launch,
      stop: proc.terminate,
    })
  }
  const client = new Etcd3({ hosts: urls.map((u) => u.clientUrl) })

  const stop = async (): Promise<void> => {
    client.close()
    // SIGKILL: the data goes, and a member stopped with SIGTERM first hands its leadership over
    // (seconds when its peers are stopping too).
    await Promise.all(members.map((m) => m.kill()))
    for (const m of members) m.client.close()
    await rm(base, { recursive: true, force: true })
  }

  // A member answers once the cluster has a quorum to publish it: all start together.
  const started = await Promise.allSettled(members.map((m) => m.restart()))
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (failed !== undefined) {
    await stop()
    throw failed.reason
  }

  return {
    members,
    endpoints: urls.map((u) => u.clientUrl),
    client,
    leader: async (timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        for (const m of members) {
          if (!m.running) continue
          try {
            const s = await bounded(m.client.maintenance.status(), 1_000)
            if (s.leader !== '0' && s.leader === s.header.member_id) return m
          } catch {
            // down or electing: ask the next one
          }
        }
        if (Date.now() > deadline) throw new Error(`no etcd leader within ${timeoutMs} ms`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    stop,
  }
}
