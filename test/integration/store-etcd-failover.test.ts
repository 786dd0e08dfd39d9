/**
 * The etcd store on a 3-member cluster with one member dead: reads, txns and lease grants still
 * answer (a call that could not reach the member the client picked goes to another one), and no
 * txn is applied twice.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { openEtcdStore } from '../../src/store/etcd.js'
import { startEtcdCluster } from '../support/etcd-cluster.js'

test(
  'etcd store: with a member killed, every read, txn and lease grant answers, each txn applied once',
  { timeout: 60_000 },
  async (t) => {
    const cluster = await startEtcdCluster()
    t.after(() => cluster.stop())
    const store = await openEtcdStore({ endpoints: [...cluster.endpoints], prefix: '/failover/' })
    t.after(() => store.close())
    const before = await store.revision()
    const victim = cluster.members.find((m) => m.running)
    assert.ok(victim !== undefined)
    await victim.kill()
    await cluster.leader()
    let revision = before
    for (let i = 0; i < 30; i++) {
      const r = await store.txn({
        compare: [],
        success: [{ type: 'put', key: `/failover/k${i}`, value: String(i) }],
      })
      assert.ok(r.succeeded)
      assert.ok(r.revision > revision, 'each txn committed once, at a new revision')
      revision = r.revision
      assert.ok((await store.revision()) >= r.revision)
      const { kvs } = await store.range('/failover/')
      assert.equal(kvs.length, i + 1)
      await store.grantLease(5_000)
    }
    assert.equal(revision - before, 30, 'thirty txns, thirty revisions: none applied twice')
  },
)
