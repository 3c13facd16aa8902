/**
 * Nothing that deals or rebuilds keys ships (issue 11 item 8): the production build `dist/`
 * (what `npm run build` makes and the Docker image copies) must contain no test helper,
 * in-memory test driver, benchmark or trusted dealer. Runs after `npm run build`
 * (scripts/test.sh); it fails rather than passing vacuously when the build is missing.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIST = resolve(import.meta.dirname, '../../dist');

/** File names that only tests and benchmarks may have. */
const FORBIDDEN_NAMES = [/test-helpers/i, /test-driver/i, /dealer/i, /\.bench\./i, /\.test\./i];
/** The trusted dealer's entry point and its key-id domain tag; the test-only drivers. */
const FORBIDDEN_TEXT = ['dealKeyShares', "'test/dealer'", 'seededRandom', 'runToCompletion'];

function listFiles(directory: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(path));
    else files.push(path);
  }
  return files;
}

describe('production build', () => {
  it('contains no test helper, test driver, benchmark or trusted dealer', () => {
    expect(existsSync(join(DIST, 'signer/main.js')), 'run `npm run build` first').toBe(true);
    const files = listFiles(DIST);
    expect(files.length).toBeGreaterThan(50);
    const badNames = files
      .map((file) => relative(DIST, file))
      .filter((name) => FORBIDDEN_NAMES.some((pattern) => pattern.test(name)));
    expect(badNames).toEqual([]);
    expect(existsSync(join(DIST, 'bench'))).toBe(false);
    const badText: string[] = [];
    for (const file of files) {
      if (!/\.(js|d\.ts)$/.test(file)) continue; // source maps only repeat the sources' names
      const text = readFileSync(file, 'utf8');
      for (const needle of FORBIDDEN_TEXT) {
        if (text.includes(needle)) badText.push(`${relative(DIST, file)}: ${needle}`);
      }
    }
    expect(badText).toEqual([]);
  });
});
