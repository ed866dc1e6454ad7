/**
 * RUN_DIR/metrics.jsonl: one JSON object per line, validated against `src/monitor/schema.ts`
 * before it is written, written with one unbuffered write per record (so a crash loses at most
 * the record being written). Opened in append mode: a resumed run continues the same file.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { metricsRecord, type MetricsRecord } from './schema.js';

export class MetricsWriter {
  readonly path: string;
  private fd: number | null;

  constructor(path: string) {
    this.path = path;
    this.fd = openSync(path, 'a');
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
