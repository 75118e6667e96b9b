/**
 * TLS and mutual TLS from PEM files: a client that trusts the CA connects; a plaintext client, a client that does
 * not trust the CA, and (under mTLS) a client without a certificate are refused. Certificates are made with openssl.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator } from '../../coordinator/src/coordinator.js';
import { OperatorClient } from '../../coordinator/src/operator-client.js';

const ADMIN = 'tls-admin-token-0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'cohort-tls-'));
const file = (name: string): string => path.join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

/** A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and an unrelated CA. */
function makeCertificates(): void {
  for (const ca of ['ca', 'other-ca']) {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=cohort test ${ca}`, '-keyout', file(`${ca}.key`), '-out', file(`${ca}.pem`));
  }
  writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(file('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [['server', 'localhost'], ['client', 'edge-node-1']] as const) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`));
    openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', file(`${name}.ext`), '-out', file(`${name}.pem`));
  }
}

async function statusCode(client: OperatorClient): Promise<number> {
  try {
    await client.getStatus();
    return status.OK;
  } catch (error) {
    return (error as { code: number }).code;
  } finally {
    client.close();
  }
}

describe('TLS and mutual TLS', () => {
  let tlsCoordinator: Coordinator;
  let mtlsCoordinator: Coordinator;
  let tlsAddress = '';
  let mtlsAddress = '';

  beforeAll(async () => {
    makeCertificates();
    tlsCoordinator = await Coordinator.create({
      dataDir: file('tls-data'),
      listen: '127.0.0.1:0',
      adminToken: ADMIN,
      tls: { certFile: file('server.pem'), keyFile: file('server.key') },
      log: () => undefined,
    });
    tlsAddress = (await tlsCoordinator.start()).address;
    mtlsCoordinator = await Coordinator.create({
      dataDir: file('mtls-data'),
      listen: '127.0.0.1:0',
      adminToken: ADMIN,
      tls: { certFile: file('server.pem'), keyFile: file('server.key'), clientCaFile: file('ca.pem') },
      log: () => undefined,
    });
    mtlsAddress = (await mtlsCoordinator.start()).address;
  }, 60_000);

  afterAll(async () => {
    await tlsCoordinator?.stop();
    await mtlsCoordinator?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a client that trusts its CA', async () => {
    expect(await statusCode(new OperatorClient(tlsAddress, ADMIN, { caFile: file('ca.pem') }, 10_000))).toBe(status.OK);
  });

  it('refuses plaintext clients and clients that do not trust its certificate', async () => {
    expect(await statusCode(new OperatorClient(tlsAddress, ADMIN, null, 3_000))).toBe(status.UNAVAILABLE);
    expect(await statusCode(new OperatorClient(tlsAddress, ADMIN, { caFile: file('other-ca.pem') }, 3_000))).toBe(status.UNAVAILABLE);
  });

  it('under mutual TLS, serves only clients presenting a certificate signed by the client CA', async () => {
    expect(await statusCode(new OperatorClient(mtlsAddress, ADMIN, { caFile: file('ca.pem'), certFile: file('client.pem'), keyFile: file('client.key') }, 10_000))).toBe(status.OK);
    expect(await statusCode(new OperatorClient(mtlsAddress, ADMIN, { caFile: file('ca.pem') }, 3_000))).toBe(status.UNAVAILABLE);
  });

  it('names an unreadable certificate file', async () => {
    const broken = await Coordinator.create({ dataDir: file('bad'), listen: '127.0.0.1:0', adminToken: ADMIN, tls: { certFile: file('missing.pem'), keyFile: file('server.key') }, log: () => undefined });
    try {
      await expect(broken.start()).rejects.toThrow(/missing\.pem/);
    } finally {
      await broken.stop();
    }
  });
});
