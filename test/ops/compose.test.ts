/**
 * There is no Docker engine here: docker-compose.yml and the Dockerfile are checked as
 * data. Services, health checks, start order, images pinned, and every variable given
 * to our containers is one config.ts reads (a typo would be silently ignored).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES } from '../../config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string | number>;
  healthcheck?: { test?: string[]; disable?: boolean };
  ports?: string[];
}

const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const OURS = ['migrate', 'api', 'worker'];

describe('docker-compose.yml', () => {
  it('runs PostgreSQL, Temporal on it, the UI, a one-shot set-up, the API and the worker', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'migrate', 'postgres', 'temporal', 'temporal-ui', 'worker']);
    const temporal = services.temporal!;
    expect(temporal.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres' });
    expect(temporal.depends_on?.postgres?.condition).toBe('service_healthy');
    // Fair dispatch per tenant needs the server's fairness flags (see fair-sharing.test.ts).
    const mount = (temporal as { volumes: string[] }).volumes.find((v) => v.includes('dynamicconfig'))!;
    const config = parse(readFileSync(path.join(root, mount.split(':')[0]!), 'utf8')) as Record<string, { value: unknown }[]>;
    expect(config['matching.enableFairness']?.[0]?.value).toBe(true);
    expect(mount.split(':')[1]).toBe(`/etc/temporal/${temporal.environment!.DYNAMIC_CONFIG_FILE_PATH}`);
    expect(services['temporal-ui']!.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('pins every image and gives every long-running service a health check', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.image && !s.build) expect(s.image, name).toMatch(/:[0-9][\w.-]*$/);
      if (name === 'migrate') continue;
      expect(s.healthcheck?.test?.length, `${name} has no health check`).toBeGreaterThan(0);
    }
    expect(services.api!.healthcheck!.test!.join(' ')).toContain('/readyz');
    expect(services.worker!.healthcheck!.test!.join(' ')).toContain(String(services.worker!.environment!.WORKER_METRICS_ADDRESS).split(':')[1]);
  });

  it('migrates once, before the API and the worker start', () => {
    expect(services.migrate!.depends_on).toEqual({ postgres: { condition: 'service_healthy' }, temporal: { condition: 'service_healthy' } });
    for (const name of ['api', 'worker']) {
      expect(services[name]!.depends_on?.migrate?.condition, name).toBe('service_completed_successfully');
      expect(services[name]!.command!.join(' ')).not.toContain('migrate');
    }
  });

  it('gives our containers only variables config.ts reads, pointing at the compose services', () => {
    for (const name of OURS) {
      const env = services[name]!.environment ?? {};
      expect(Object.keys(env).filter((k) => !CONFIG_VARIABLES.includes(k)), name).toEqual([]);
      expect(new URL(String(env.DATABASE_URL)).hostname).toBe('postgres');
      expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
    }
    expect(String(services.api!.environment!.ADMIN_TOKEN)).toMatch(/^\$\{ADMIN_TOKEN:\?/);
  });

  it('runs entry points that exist, from one image built by the Dockerfile', () => {
    for (const name of OURS) {
      const s = services[name]!;
      expect(s.image).toBe('batchworks:local');
      const entry = s.command!.find((a) => a.endsWith('.ts'))!;
      expect(existsSync(path.join(root, entry)), entry).toBe(true);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  it('is multi-stage, without dev dependencies in the image, with the workflow bundle prebuilt', () => {
    const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map((m) => m[2]);
    expect(stages).toEqual(['deps', 'bundle', 'runtime']);
    expect(dockerfile).toMatch(/--omit=dev/);
    expect(dockerfile).toMatch(/WORKFLOW_BUNDLE_PATH=\/app\/dist\/workflow-bundle\.js/);
    expect(existsSync(path.join(root, 'scripts/bundle-workflows.ts'))).toBe(true);
    expect(dockerfile).toMatch(/^USER node$/m);
  });
});
