/**
 * The transfer baseline: the same bytes over a raw loopback TCP socket (node:net), no framing beyond a 9-byte
 * request header, no hashing, no protobuf. Both ends live in this process, as the gRPC coordinator and client do in
 * the transfer section, so the two figures share one event loop and one set of cores.
 */
import net from 'node:net';

/** A connected raw TCP pair on 127.0.0.1. */
export interface RawTcpLink {
  /** Sends `bytes` client → server; resolves with the milliseconds until the server's one-byte acknowledgement. */
  upload(bytes: Uint8Array): Promise<number>;
  /** Asks the server for `length` bytes; resolves with the milliseconds until the last one arrived. */
  download(length: number): Promise<number>;
  /** Closes the socket and the server. */
  close(): Promise<void>;
}

const HEADER_BYTES = 9;
const OP_UPLOAD = 0x55; // 'U'
const OP_DOWNLOAD = 0x44; // 'D'

/** Starts a server on an ephemeral loopback port and connects to it; `maxBytes` bounds one transfer. */
export async function openRawTcpLink(maxBytes: number): Promise<RawTcpLink> {
  const payload = Buffer.alloc(maxBytes);
  for (let i = 0; i < payload.length; i += 4096) payload[i] = i & 0xff;
  const serverSockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    serverSockets.add(socket);
    socket.on('close', () => serverSockets.delete(socket));
    socket.setNoDelay(true);
    const receiveBuffer = Buffer.allocUnsafe(maxBytes);
    let header = Buffer.alloc(0);
    let expecting = 0;
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      let offset = 0;
      while (offset < chunk.length) {
        if (expecting === 0) {
          const take = Math.min(HEADER_BYTES - header.length, chunk.length - offset);
          header = Buffer.concat([header, chunk.subarray(offset, offset + take)]);
          offset += take;
          if (header.length < HEADER_BYTES) return;
          const op = header[0];
          const length = Number(header.readBigUInt64LE(1));
          header = Buffer.alloc(0);
          if (op === OP_DOWNLOAD) {
            socket.write(payload.subarray(0, length));
          } else if (op === OP_UPLOAD) {
            expecting = length;
            received = 0;
          } else {
            socket.destroy(new Error(`raw tcp: unknown op ${String(op)}`));
            return;
          }
        } else {
          const take = Math.min(expecting - received, chunk.length - offset);
          chunk.copy(receiveBuffer, received, offset, offset + take);
          received += take;
          offset += take;
          if (received === expecting) {
            expecting = 0;
            socket.write(Buffer.from([1]));
          }
        }
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });

  let onData: ((chunk: Buffer) => void) | null = null;
  socket.on('data', (chunk: Buffer) => onData?.(chunk));
  let failure: Error | null = null;
  socket.on('error', (error) => (failure = error));

  function header(op: number, length: number): Buffer {
    const h = Buffer.alloc(HEADER_BYTES);
    h[0] = op;
    h.writeBigUInt64LE(BigInt(length), 1);
    return h;
  }

  function exchange(start: () => void, consume: (chunk: Buffer) => boolean): Promise<number> {
    if (failure !== null) return Promise.reject(failure);
    return new Promise((resolve) => {
      const begin = performance.now();
      onData = (chunk) => {
        if (consume(chunk)) {
          onData = null;
          resolve(performance.now() - begin);
        }
      };
      start();
    });
  }

  const downloadBuffer = Buffer.allocUnsafe(maxBytes);
  return {
    upload(bytes) {
      if (bytes.length > maxBytes) throw new RangeError(`raw tcp: ${bytes.length} bytes exceed ${maxBytes}`);
      return exchange(
        () => {
          socket.write(header(OP_UPLOAD, bytes.length));
          socket.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
        },
        (chunk) => chunk.length > 0,
      );
    },
    download(length) {
      if (length > maxBytes) throw new RangeError(`raw tcp: ${length} bytes exceed ${maxBytes}`);
      let received = 0;
      return exchange(
        () => socket.write(header(OP_DOWNLOAD, length)),
        (chunk) => {
          chunk.copy(downloadBuffer, received);
          received += chunk.length;
          return received >= length;
        },
      );
    },
    async close() {
      socket.destroy();
      for (const s of serverSockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
