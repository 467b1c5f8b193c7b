// Number formats shared by the charts' axes and tooltips.

export const percent = (value: number | null | undefined): string =>
  value == null ? "n/a" : `${(value * 100).toFixed(1)} %`;

export const integer = (value: number | null | undefined): string =>
  value == null ? "n/a" : Math.round(value).toLocaleString("en");

export const day = (value: Date): string => value.toISOString().slice(0, 10);

/** A `YYYY-MM-DD` day of the API as a Date at 00:00 UTC. */
export const parseDay = (value: string): Date => new Date(`${value}T00:00:00Z`);
