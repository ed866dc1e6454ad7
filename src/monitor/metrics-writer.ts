/**
 * RUN_DIR/metrics.jsonl: one JSON object per line, validated against `src/monitor/schema.ts`
 * before it is written, written with one unbuffered write per record (so a crash loses at most
 * the record being written). Opened in append mode: a resumed run continues the same file, after
 * cutting off a half-written last line that a killed run left behind (it cannot be completed, and
 * appending to it would glue the next record onto it, losing both).
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { metricsRecord, type MetricsRecord } from './schema.js';

export class MetricsWriter {
  readonly path: string;
  private fd: number | null;
  /** Bytes of a half-written last line removed when the file was opened (0 when it ended in a newline). */
  readonly truncatedBytes: number;

  constructor(path: string) {
    this.path = path;
    this.fd = openSync(path, 'a+');
    try {
      this.truncatedBytes = dropUnterminatedTail(this.fd);
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  /** Validates and appends one record; throws naming the bad field if it violates the schema. */
  write(record: MetricsRecord): void {
    if (this.fd === null) throw new Error(`MetricsWriter: ${this.path} is closed`);
    const parsed = metricsRecord.safeParse(record);
    if (!parsed.success) {
      throw new TypeError(`MetricsWriter: ${record.type} record violates the metrics schema: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    writeSync(this.fd, JSON.stringify(record) + '\n');
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Truncates the file after its last newline (to 0 if it has none); returns the bytes removed. */
function dropUnterminatedTail(fd: number): number {
  const size = fstatSync(fd).size;
  const chunk = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - start, start);
    const nl = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (nl >= 0) {
      end = start + nl + 1;
      break;
    }
    end = start;
  }
  if (end < size) ftruncateSync(fd, end);
  return size - end;
}
