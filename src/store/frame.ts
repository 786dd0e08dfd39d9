import { crc32 } from 'node:zlib'

/**
 * The unit of every store file: `[u32 LE payload length][u32 LE crc32 of payload][payload]`.
 * A frame is trusted only when its checksum holds; a zero length is never written (it marks
 * the end of a preallocated log).
 */
export const FRAME_HEADER = 8

export function encodeFrame(payload: string): Buffer {
  // The payload is encoded straight into the frame: one buffer, no copy.
  const length = Buffer.byteLength(payload, 'utf8')
  const frame = Buffer.allocUnsafe(FRAME_HEADER + length)
  frame.write(payload, FRAME_HEADER, length, 'utf8')
  frame.writeUInt32LE(length, 0)
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER)), 4)
  return frame
}

/** The payload of the frame at `off` when the frame is intact, else undefined. */
export function frameAt(buf: Buffer, off: number): Buffer | undefined {
  if (buf.length - off < FRAME_HEADER) return undefined
  const len = buf.readUInt32LE(off)
  if (len === 0 || off + FRAME_HEADER + len > buf.length) return undefined
  const body = buf.subarray(off + FRAME_HEADER, off + FRAME_HEADER + len)
  return crc32(body) === buf.readUInt32LE(off + 4) ? body : undefined
}
