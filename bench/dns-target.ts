/**
 * A DNS server for the benchmark, in its own process:
 *   node dist/bench/dns-target.js vigil <instances>     vigil's DnsServer over an in-memory catalog
 *                                                        holding <instances> of `web` (passing)
 *   node dist/bench/dns-target.js bare <reply file>     a bare node:dgram server answering every
 *                                                        query with the bytes in the file (its ID
 *                                                        patched to the query's)
 * Both print `ready <port>` once bound on 127.0.0.1 and stop on SIGTERM.
 */
import { createSocket } from 'node:dgram'
import { readFileSync } from 'node:fs'
import { DnsServer } from '../src/dns/server.js'
import { DEFAULT_DNS_SETTINGS } from '../src/dns/settings.js'
import { benchCatalog } from './dns-catalog.js'

const [mode, arg] = process.argv.slice(2)
if (mode === 'vigil') {
  const server = new DnsServer({
    catalog: benchCatalog(Number(arg)),
    settings: DEFAULT_DNS_SETTINGS,
    addresses: ['127.0.0.1'],
    port: 0,
  })
  await server.start()
  process.stdout.write(`ready ${server.port}\n`)
  process.on('SIGTERM', () => void server.close())
} else if (mode === 'bare') {
  const reply = readFileSync(arg ?? '')
  const socket = createSocket('udp4')
  socket.on('message', (msg, rinfo) => {
    if (msg.length < 2) return
    const out = Buffer.from(reply)
    out.writeUInt16BE(msg.readUInt16BE(0), 0)
    socket.send(out, rinfo.port, rinfo.address)
  })
  socket.bind(0, '127.0.0.1', () => process.stdout.write(`ready ${socket.address().port}\n`))
  process.on('SIGTERM', () => socket.close())
}
