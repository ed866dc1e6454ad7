/**
 * `fog8 dash`: a read-only HTTP dashboard over the run directories under RUNS_ROOT, refreshed
 * while runs write. Routes: GET / (the page), GET api/runs, GET api/report?runs=a,b (the report
 * model as JSON), GET files/<path> (raw files under the root). Only GET and HEAD; everything
 * else is 405, and any path that is not a listed route or a file under the root is 404.
 */
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, extname, join } from 'node:path';
import { buildReportModel } from './aggregate.js';
import { dashboardHtml } from './html.js';
import { MetricsFollower, metricsFileProblem, runDataFrom, runFileOptions } from './load.js';
import { isInside, resolveFileUnderRoot } from './safe-path.js';
import { readFileSafely } from '../util/safe-file.js';

/** Largest file /files/ serves. */
const MAX_SERVED_BYTES = 256 << 20;

export interface DashServerOptions {
  /** Directory holding run directories (or itself a run directory). */
  root: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Interface to bind; 127.0.0.1 unless the user asks otherwise. */
  host?: string;
  /** Page refresh interval in milliseconds. */
  pollMs?: number;
}

export interface DashServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** A run directory found under the root: its display name and real path. */
export interface DiscoveredRun {
  name: string;
  dir: string;
}

/**
 * Run directories under `rootReal`: the root itself when it holds metrics.jsonl, else each
 * immediate subdirectory that does, skipping symlinks that lead outside the root and runs whose
 * metrics.jsonl is not a regular, singly-linked file inside the root (a FIFO would block). Sorted by name.
 */
export function discoverRuns(rootReal: string): DiscoveredRun[] {
  if (existsSync(join(rootReal, 'metrics.jsonl'))) return metricsFileProblem(rootReal, rootReal) === null ? [{ name: basename(rootReal), dir: rootReal }] : [];
  const runs: DiscoveredRun[] = [];
  for (const name of readdirSync(rootReal).sort()) {
    let real: string;
    try {
      real = realpathSync(join(rootReal, name));
      if (!isInside(rootReal, real) || !statSync(real).isDirectory()) continue;
    } catch {
      continue;
    }
    if (existsSync(join(real, 'metrics.jsonl')) && metricsFileProblem(real, rootReal) === null) runs.push({ name, dir: real });
  }
  return runs;
}

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json; charset=utf-8',
  '.jsonl': 'application/x-ndjson; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.png': 'image/png',
};

/** Starts the dashboard server; resolves once it listens. */
export async function startDashServer(options: DashServerOptions): Promise<DashServer> {
  if (!existsSync(options.root) || !statSync(options.root).isDirectory()) {
    throw new RangeError(`dash: RUNS_ROOT ${options.root} is not a directory`);
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new RangeError(`dash: port must be an integer in [0, 65535], got ${options.port}`);
  }
  if (options.pollMs !== undefined && (!Number.isInteger(options.pollMs) || options.pollMs < 100 || options.pollMs > 3_600_000)) {
    throw new RangeError(`dash: pollMs must be an integer number of milliseconds in [100, 3600000], got ${options.pollMs}`);
  }
  const rootReal = realpathSync(options.root);
  const host = options.host ?? '127.0.0.1';
  const page = dashboardHtml(`fog8 dashboard: ${basename(rootReal)}`, options.pollMs ?? 2000);
  const followers = new Map<string, MetricsFollower>();

  function follower(dir: string): MetricsFollower {
    let f = followers.get(dir);
    if (!f) {
      f = new MetricsFollower(join(dir, 'metrics.jsonl'), rootReal);
      followers.set(dir, f);
    }
    return f;
  }

  function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string | Buffer): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-type': type, 'content-length': bytes.length, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  }
  const notFound = (req: IncomingMessage, res: ServerResponse): void => send(req, res, 404, 'text/plain; charset=utf-8', 'not found\n');

  function handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(req, res, 405, 'text/plain; charset=utf-8', 'read-only: only GET and HEAD\n');
      return;
    }
    // Split the raw target ourselves: URL parsing would resolve "..", hiding what was asked for.
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    if (path === '/' || path === '/index.html') {
      send(req, res, 200, 'text/html; charset=utf-8', page);
      return;
    }
    if (path === '/api/runs') {
      const runs = discoverRuns(rootReal).map((r) => {
        const parsed = follower(r.dir).poll();
        return { name: r.name, records: parsed.records.length, malformedLines: parsed.malformedLines, partialTail: parsed.partialTail };
      });
      send(req, res, 200, 'application/json; charset=utf-8', JSON.stringify(runs));
      return;
    }
    if (path === '/api/report') {
      const available = discoverRuns(rootReal);
      const wanted = query.get('runs');
      let chosen = available;
      if (wanted !== null && wanted !== '') {
        const names = wanted.split(',');
        chosen = available.filter((r) => names.includes(r.name));
        if (chosen.length !== names.length) return notFound(req, res);
      }
      const runs = chosen.map((r) => ({ ...runDataFrom(r.dir, follower(r.dir).poll(), rootReal), name: r.name }));
      send(req, res, 200, 'application/json; charset=utf-8', JSON.stringify(buildReportModel(runs, `fog8 dashboard: ${basename(rootReal)}`)));
      return;
    }
    if (path.startsWith('/files/')) {
      const file = resolveFileUnderRoot(rootReal, path.slice('/files/'.length));
      if (file === null) return notFound(req, res);
      let body: Buffer;
      try {
        body = readFileSafely(file, runFileOptions(rootReal, 'file', MAX_SERVED_BYTES));
      } catch {
        return notFound(req, res);
      }
      send(req, res, 200, CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', body);
      return;
    }
    notFound(req, res);
  }

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      if (!res.headersSent) send(req, res, 500, 'text/plain; charset=utf-8', `internal error: ${(err as Error).message}\n`);
      else res.end();
    }
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolveListen());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/`,
    server,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
