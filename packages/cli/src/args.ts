import type { PositionMap, ReadFrom } from '@riverlog/core';
import { InvalidArgumentError } from 'commander';
import { UsageError } from './errors.js';

// Parsing of the values commands take: starts, ends, repeated filters.

/** Commander's collector for repeatable, comma-separable options (`--type a --type b,c`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== ''),
  ];
}

/**
 * A whole number ≥ `min`, for commander. It throws commander's
 * `InvalidArgumentError`, so the one-line error names the option
 * (`option '--limit <n>' argument '0' is invalid. …`).
 */
export function wholeNumber(min: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min) throw new InvalidArgumentError(`Expected a whole number ≥ ${min}.`);
    return Number(value);
  };
}

const POSITIONS = /^[^:,\s]+:[^:,\s]+(,[^:,\s]+:[^:,\s]+)*$/;

/** `0:41,1:17` → `{ '0': '41', '1': '17' }` (partition:offset; the partition is what comes before the last colon). */
export function parsePositions(text: string): PositionMap | undefined {
  if (!POSITIONS.test(text)) return undefined;
  const map: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const colon = pair.lastIndexOf(':');
    map[pair.slice(0, colon)] = pair.slice(colon + 1);
  }
  return map;
}

/** An ISO 8601 time (a date alone, or with a time of day), or undefined. */
export function parseTime(text: string): Date | undefined {
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) return undefined;
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/**
 * A start: `earliest`, `latest`, an ISO time (`2026-11-22T08:00:00Z`) or
 * positions `partition:offset,...` (each offset included; partitions not
 * named start at their earliest record).
 */
export function parseFrom(text: string | undefined, fallback: ReadFrom): ReadFrom {
  if (text === undefined) return fallback;
  if (text === 'earliest' || text === 'latest') return text;
  const time = parseTime(text);
  if (time) return { time };
  const positions = parsePositions(text);
  if (positions) return { at: positions };
  throw new UsageError(
    `--from ${JSON.stringify(text)}: expected earliest, latest, an ISO time (2026-11-22T08:00:00Z) or positions (0:41,1:17).`,
  );
}

/** An end: an ISO time, or positions `partition:offset,...` (each offset included; partitions not named are not read). */
export function parseTo(text: string | undefined): Date | PositionMap | undefined {
  if (text === undefined) return undefined;
  const time = parseTime(text);
  if (time) return time;
  const positions = parsePositions(text);
  if (positions) return positions;
  throw new UsageError(`--to ${JSON.stringify(text)}: expected an ISO time (2026-11-22T18:00:00Z) or positions (0:41,1:17).`);
}

/** `{ '0': '41' }` → `0:41`. */
export function formatPositions(positions: PositionMap): string {
  return Object.entries(positions)
    .map(([p, o]) => `${p}:${o}`)
    .join(',');
}
