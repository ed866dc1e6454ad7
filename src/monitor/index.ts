export * from './schema.js';
export * from './step-monitor.js';
export * from './divergence.js';
export * from './spikes.js';
export * from './forecast.js';
export * from './metrics-writer.js';
export * from './train-log.js';
