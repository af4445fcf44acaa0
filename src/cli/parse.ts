import { InvalidArgumentError } from "commander";

/** Commander parser for whole-number flags; ranges are checked by the manager. */
export function intOption(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) {
    throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
  }
  return Number.parseInt(value, 10);
}
