import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDashServer, type DashServer } from '../../src/report/dash-server.js';
import type { ReportModel } from '../../src/report/model.js';
import { syntheticRecords, writeSyntheticRun } from './fixtures.js';

let base = '';
let dash: DashServer;
let port = 0;

/** Sends the request target exactly as given (fetch would normalise "..", hiding the attack). */
function raw(method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolveReq, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolveReq({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'fog8-dash-'));
  const root = join(base, 'runs');
  mkdirSync(root);
  writeFileSync(join(base, 'secret.txt'), 'TOP SECRET\n');
  mkdirSync(join(base, 'outside-run'));
  writeFileSync(join(base, 'outside-run', 'metrics.jsonl'), '');
  writeSyntheticRun(join(root, 'done'), { preset: 'fog-xielu', precision: 'bf16', kurtosis: 'flat', steps: 20, layers: 2, seed: 9 });
  mkdirSync(join(root, 'live'));
  writeFileSync(join(root, 'live', 'config.json'), '{"model":{"preset":"llama3"}}\n');
  writeFileSync(join(root, 'live', 'metrics.jsonl'), '');
  symlinkSync(join(base, 'secret.txt'), join(root, 'done', 'leak.txt'));
  symlinkSync(base, join(root, 'escape'));
  symlinkSync(join(base, 'outside-run'), join(root, 'linked-run'));
  dash = await startDashServer({ root, port: 0 });
  port = Number(new URL(dash.url).port);
});
after(async () => {
  await dash.close();
  rmSync(base, { recursive: true, force: true });
});

test('binds 127.0.0.1 by default and serves the page, the run list and files under the root', async () => {
  assert.match(dash.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const page = await raw('GET', '/');
  assert.equal(page.status, 200);
  assert.match(page.body, /startDashboard/);
  assert.doesNotMatch(page.body, /<script src=|<link rel="stylesheet" href=/); // everything inline
  const runs = JSON.parse((await raw('GET', '/api/runs')).body) as { name: string }[];
  assert.deepEqual(runs.map((r) => r.name), ['done', 'live']); // linked-run leads outside: not listed
  const cfg = await raw('GET', '/files/done/config.json');
  assert.equal(cfg.status, 200);
  assert.equal((JSON.parse(cfg.body) as { model: { preset: string } }).model.preset, 'fog-xielu');
  assert.equal((await raw('HEAD', '/files/done/metrics.jsonl')).status, 200);
});

test('path traversal, encoded dots, absolute paths and symlinks out of the root are 404', async () => {
  const attempts = [
    '/files/../secret.txt',
    '/files/done/../../secret.txt',
    '/files/%2e%2e/secret.txt',
    '/files/%2E%2E%2Fsecret.txt',
    '/files/..%2fsecret.txt',
    '/files/done%2f..%2f..%2fsecret.txt',
    '/files//etc/passwd',
    '/files/%2fetc%2fpasswd',
    `/files/${encodeURIComponent(join(base, 'secret.txt'))}`,
    '/files/done/leak.txt',
    '/files/escape/secret.txt',
    '/files/linked-run/metrics.jsonl',
    '/files/done/..%5c..%5csecret.txt',
    '/files/%00',
    '/files/%E0%A4%A',
    '/../secret.txt',
    '/files/done',
    '/api/report?runs=../outside-run',
    '/api/report?runs=linked-run',
    '/nope',
  ];
  for (const path of attempts) {
    const res = await raw('GET', path);
    assert.equal(res.status, 404, `${path} → ${res.status}`);
    assert.doesNotMatch(res.body, /TOP SECRET/);
  }
});

test('read-only: methods other than GET and HEAD are refused', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) assert.equal((await raw(method, '/files/done/config.json')).status, 405, method);
});

test('serves a run while a writer appends, skipping and counting malformed and half-written lines', async () => {
  const path = join(base, 'runs', 'live', 'metrics.jsonl');
  const records = syntheticRecords({ preset: 'llama3', precision: 'fp8-delayed', kurtosis: 'climbing', steps: 30, layers: 2, seed: 4 });
  const lines = records.map((r) => JSON.stringify(r));
  const report = async (): Promise<ReportModel> => JSON.parse((await raw('GET', '/api/report?runs=live')).body) as ReportModel;
  // The writer appends in chunks; a chunk may end mid-line.
  const half = Math.floor(lines.length / 2);
  appendFileSync(path, `${lines.slice(0, half).join('\n')}\n${lines[half].slice(0, 25)}`);
  let m = await report();
  const stepsWritten = records.slice(0, half).filter((r) => r.type === 'step').length;
  assert.equal(m.runs[0].steps, stepsWritten);
  assert.equal(m.runs[0].malformedLines, 0);
  assert.equal(m.runs[0].partialTail, true);
  appendFileSync(path, `${lines[half].slice(25)}\n{"type":"step","step":oops}\nnot json at all\n${lines.slice(half + 1).join('\n')}\n`);
  m = await report();
  assert.equal(m.runs[0].steps, 30);
  assert.equal(m.runs[0].malformedLines, 2);
  assert.equal(m.runs[0].partialTail, false);
  assert.equal(m.runs[0].preset, 'llama3');
  const loss = m.sections.find((s) => s.id === 'loss')!.items[0];
  assert.equal(loss.kind === 'chart' ? loss.series.length : -1, 2);
  // Both runs by default.
  assert.equal((JSON.parse((await raw('GET', '/api/report')).body) as ReportModel).runs.length, 2);
});

/** GET on another server, with a deadline: a blocked server fails the test instead of hanging it. */
function getWithin(port2: number, path: string, ms = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolveReq, reject) => {
    const req = request({ host: '127.0.0.1', port: port2, method: 'GET', path, timeout: ms }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolveReq({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer within ${ms} ms (server blocked?)`)));
    req.on('error', reject);
    req.end();
  });
}

test('files of a run that are symlinks or hard links to outside files, or FIFOs, are never served or read', async () => {
  const b = mkdtempSync(join(tmpdir(), 'fog8-dash-links-'));
  const root = join(b, 'root');
  const secret = join(b, 'passwd');
  writeFileSync(secret, 'root:x:0:0:TOP SECRET:/root:/bin/bash\n');
  writeFileSync(join(b, 'secret.json'), '{"TOP SECRET": true}\n');
  // Symlinked train.log and config.json (the probe's /etc/passwd leak), then hard links, then FIFOs.
  writeSyntheticRun(join(root, 'sym'), { preset: 'fog-xielu', precision: 'bf16', kurtosis: 'flat', steps: 5, layers: 1, seed: 1 });
  for (const f of ['config.json', 'train.log']) rmSync(join(root, 'sym', f), { force: true });
  symlinkSync(secret, join(root, 'sym', 'train.log'));
  symlinkSync(join(b, 'secret.json'), join(root, 'sym', 'config.json'));
  writeSyntheticRun(join(root, 'hard'), { preset: 'fog-xielu', precision: 'bf16', kurtosis: 'flat', steps: 5, layers: 1, seed: 2 });
  for (const f of ['config.json', 'train.log']) rmSync(join(root, 'hard', f), { force: true });
  linkSync(secret, join(root, 'hard', 'train.log'));
  linkSync(join(b, 'secret.json'), join(root, 'hard', 'config.json'));
  mkdirSync(join(root, 'symmetrics'));
  writeFileSync(join(b, 'outside.jsonl'), `${JSON.stringify(syntheticRecords({ preset: 'llama3', precision: 'bf16', kurtosis: 'flat', steps: 3, layers: 1, seed: 3 })[0])}\n`);
  symlinkSync(join(b, 'outside.jsonl'), join(root, 'symmetrics', 'metrics.jsonl'));
  mkdirSync(join(root, 'fifo'));
  execFileSync('mkfifo', [join(root, 'fifo', 'metrics.jsonl')]);
  writeSyntheticRun(join(root, 'fifofiles'), { preset: 'fog-xielu', precision: 'bf16', kurtosis: 'flat', steps: 5, layers: 1, seed: 5 });
  for (const f of ['config.json', 'train.log']) rmSync(join(root, 'fifofiles', f), { force: true });
  execFileSync('mkfifo', [join(root, 'fifofiles', 'config.json')]);
  execFileSync('mkfifo', [join(root, 'fifofiles', 'train.log')]);
  const server = await startDashServer({ root, port: 0 });
  const p = Number(new URL(server.url).port);
  try {
    const runs = JSON.parse((await getWithin(p, '/api/runs')).body) as { name: string }[];
    assert.deepEqual(runs.map((r) => r.name), ['fifofiles', 'hard', 'sym']); // the FIFO and the linked-out metrics are not runs
    for (const name of ['sym', 'hard', 'fifofiles']) {
      const res = await getWithin(p, `/api/report?runs=${name}`);
      assert.equal(res.status, 200, name);
      assert.doesNotMatch(res.body, /TOP SECRET/, name);
      const model = JSON.parse(res.body) as ReportModel;
      assert.equal(model.runs[0].steps, 5, name);
    }
    for (const path of ['/api/report?runs=fifo', '/api/report?runs=symmetrics', '/files/sym/train.log', '/files/hard/train.log', '/files/hard/config.json', '/files/fifo/metrics.jsonl', '/files/fifofiles/train.log']) {
      const res = await getWithin(p, path);
      assert.equal(res.status, 404, path);
      assert.doesNotMatch(res.body, /TOP SECRET/, path);
    }
    // Still answering after all of that.
    assert.equal((await getWithin(p, '/api/runs')).status, 200);
  } finally {
    await server.close();
    rmSync(b, { recursive: true, force: true });
  }
});

test('double-encoded traversal forms are 404 too', async () => {
  for (const path of ['/files/%252e%252e/secret.txt', '/files/done%252f..%252f..%252fsecret.txt', '/files/%252fetc%252fpasswd', '/files/%2525252e%2525252e/secret.txt']) {
    const res = await raw('GET', path);
    assert.equal(res.status, 404, path);
    assert.doesNotMatch(res.body, /TOP SECRET/);
  }
});

test('startDashServer refuses a poll interval that is not an integer number of milliseconds', async () => {
  await assert.rejects(startDashServer({ root: join(base, 'runs'), port: 0, pollMs: Number('abc') }), /pollMs must be an integer .* got NaN/);
  await assert.rejects(startDashServer({ root: join(base, 'runs'), port: 0, pollMs: 0 }), /pollMs/);
});

test('fog8 dash --poll-ms abc is refused before the server starts', async (t) => {
  const { main } = await import('../../src/cli/main.js');
  const errors: string[] = [];
  t.mock.method(console, 'error', (...a: unknown[]) => errors.push(a.join(' ')));
  assert.equal(await main(['dash', join(base, 'runs'), '--port', '0', '--poll-ms', 'abc']), 1);
  assert.match(errors.join('\n'), /--poll-ms must be an integer in \[100, 3600000\] \(milliseconds\), got "abc"/);
});
