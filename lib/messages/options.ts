/** Option checks shared by the message server and client: a TypeError or RangeError naming the option. */

/** Throws a TypeError naming the first option that is not one of `known`. */
export function checkKnown(options: object, known: ReadonlySet<string>, what: string): void {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${what} options must be an object`);
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new TypeError(`${what}: unknown option '${name}'`);
  }
}

/** An integer option in [min, max], or its default when undefined. */
export function integerOption(value: unknown, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`options.${name} must be an integer, got ${typeof value === 'string' ? `'${value}'` : String(value)}`);
  }
  if (value < min || value > max) throw new RangeError(`options.${name} must be from ${min} to ${max}, got ${value}`);
  return value;
}
