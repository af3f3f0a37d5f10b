import { expect } from 'vitest';

/** The litmus suites onedav must pass in full (litmus 0.13, Debian's: 104 tests). */
export const SUITES = ['basic', 'copymove', 'props', 'locks', 'http'];

export interface SuiteResult {
  run: number;
  passed: number;
  failed: number;
  warnings: number;
  failures: string[];
}

export function parseLitmus(output: string): Record<string, SuiteResult> {
  const results: Record<string, SuiteResult> = {};
  const text = output.replace(/\r/g, '\n');
  for (const chunk of text.split('-> running `').slice(1)) {
    const name = chunk.slice(0, chunk.indexOf("'"));
    const summary = /summary for `[^']+': of (\d+) tests run: (\d+) passed, (\d+) failed/.exec(chunk);
    const failures = [...chunk.matchAll(/^\s*\d+\.\s+(\S+?)\.*\s+FAIL(.*)$/gm)].map((m) => `${m[1]}${m[2]}`);
    results[name] = {
      run: Number(summary?.[1] ?? 0),
      passed: Number(summary?.[2] ?? 0),
      failed: Number(summary?.[3] ?? -1),
      warnings: (chunk.match(/WARNING:/g) ?? []).length,
      failures,
    };
  }
  return results;
}

/** Asserts every suite ran in full with no failure and no warning; returns how many passed. */
export function expectEveryLitmusTestPassed(result: { stdout: string; code: number | null }): number {
  const suites = parseLitmus(result.stdout);
  expect(Object.keys(suites)).toEqual(SUITES);
  for (const name of SUITES) {
    const suite = suites[name];
    expect(suite.failures, `${name} failures`).toEqual([]);
    expect(suite.failed, `${name} failed count`).toBe(0);
    expect(suite.passed, `${name} passed count`).toBe(suite.run);
    expect(suite.warnings, `${name} warnings`).toBe(0);
  }
  expect(suites.basic.run).toBeGreaterThanOrEqual(16);
  expect(suites.locks.run).toBeGreaterThanOrEqual(41);
  const passed = SUITES.reduce((sum, name) => sum + suites[name].passed, 0);
  expect(passed).toBeGreaterThanOrEqual(104);
  expect(result.code).toBe(0);
  return passed;
}
