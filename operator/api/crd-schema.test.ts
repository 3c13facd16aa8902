/**
 * The CRD (crds/mpccluster.yaml, shipped identically by the chart) documents every field for
 * `kubectl explain`, and mentions no condition the operator does not set.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- YAML schema
type Schema = any;

function undocumented(schema: Schema, path: string, out: string[]): string[] {
  for (const [name, child] of Object.entries<Schema>(schema.properties ?? {})) {
    const here = `${path}.${name}`;
    const isMetaField = path === '' && ['apiVersion', 'kind', 'metadata'].includes(name);
    if (!isMetaField && (typeof child.description !== 'string' || child.description === ''))
      out.push(here);
    undocumented(child, here, out);
    if (child.items !== undefined) undocumented(child.items, `${here}[]`, out);
    if (typeof child.additionalProperties === 'object')
      undocumented(child.additionalProperties, `${here}{}`, out);
  }
  return out;
}

describe('crds/mpccluster.yaml', () => {
  const text = readFileSync('crds/mpccluster.yaml', 'utf8');
  const crd = parse(text) as Schema;
  const schema = crd.spec.versions[0].schema.openAPIV3Schema;

  it('describes every field (kubectl explain)', () => {
    expect(undocumented(schema, '', [])).toEqual([]);
  });

  it('is the chart CRD, and names no FaultTolerant condition', () => {
    expect(readFileSync('charts/mpc-operator/crds/mpccluster.yaml', 'utf8')).toBe(text);
    expect(text).not.toContain('FaultTolerant');
  });
});

describe('crds/mpcbackup.yaml', () => {
  const text = readFileSync('crds/mpcbackup.yaml', 'utf8');
  const crd = parse(text) as Schema;
  const schema = crd.spec.versions[0].schema.openAPIV3Schema;

  it('describes every field (kubectl explain) and is the chart CRD', () => {
    expect(undocumented(schema, '', [])).toEqual([]);
    expect(readFileSync('charts/mpc-operator/crds/mpcbackup.yaml', 'utf8')).toBe(text);
    expect(crd.spec.names.shortNames).toEqual(['mpcb']);
  });
});
