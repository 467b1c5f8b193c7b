// Number formats shared by the charts, tables and tooltips. Formatting only: every number comes
// from the API as it is.

export const percent = (value: number | null | undefined): string =>
  value == null ? "n/a" : `${(value * 100).toFixed(1)} %`;

/** A signed difference of rates in percentage points, e.g. "+3.2 pp". */
export const points = (value: number | null | undefined): string =>
  value == null ? "n/a" : `${value >= 0 ? "+" : "−"}${Math.abs(value * 100).toFixed(1)} pp`;

export const integer = (value: number | null | undefined): string =>
  value == null ? "n/a" : Math.round(value).toLocaleString("en");

export const decimal = (value: number | null | undefined, digits = 3): string =>
  value == null ? "n/a" : value.toFixed(digits);

export const money = (value: { amount: number; currency: string } | null | undefined): string =>
  value == null
    ? "n/a"
    : value.amount.toLocaleString("en", {
        style: "currency",
        currency: value.currency,
        maximumFractionDigits: Math.abs(value.amount) < 100 ? 2 : 0,
      });

export const amount = (value: number | null | undefined, currency: string): string =>
  value == null ? "n/a" : money({ amount: value, currency });

export const hours = (value: number | null | undefined): string =>
  value == null ? "n/a" : `${value.toLocaleString("en", { maximumFractionDigits: 1 })} h`;

/** A rate with its 95 % interval and n, e.g. "23.4 % (95 % CI 20.1 % to 26.9 %; n = 312)". */
export const rateWithInterval = (
  estimate: { rate?: number | null; lower?: number | null; upper?: number | null; count?: number | null } | null | undefined,
): string => {
  if (!estimate || estimate.rate == null) return `n/a${estimate?.count != null ? ` (n = ${integer(estimate.count)})` : ""}`;
  return `${percent(estimate.rate)} (95 % CI ${percent(estimate.lower)} to ${percent(estimate.upper)}; n = ${integer(estimate.count)})`;
};

export const day = (value: Date): string => value.toISOString().slice(0, 10);

/** A DateTime of the API, in the reader's locale, to the minute. */
export const dateTime = (value: string | null | undefined): string =>
  value == null ? "n/a" : new Date(value).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });

/** A `YYYY-MM-DD` day of the API as a Date at 00:00 UTC. */
export const parseDay = (value: string): Date => new Date(`${value}T00:00:00Z`);

/** `follow_up` as "follow up". */
export const label = (value: string | null | undefined): string => (value ?? "all").replace(/_/g, " ");

/** A p- or q-value: small ones in scientific notation, never rounded to 0. */
export const pValue = (value: number | null | undefined): string =>
  value == null ? "n/a" : value < 0.001 ? value.toExponential(1) : value.toFixed(3);

/**
 * Outcomes a rate does not count yet, as the API gives them: "2,283 still maturing, 6 waiting for
 * a label (not counted)"; "" when there are none.
 */
export const notCountedYet = (maturing: number | null | undefined, pending: number | null | undefined): string => {
  const parts: string[] = [];
  if (maturing) parts.push(`${integer(maturing)} still maturing`);
  if (pending) parts.push(`${integer(pending)} waiting for a label`);
  return parts.length ? `${parts.join(", ")} (not counted)` : "";
};

/**
 * Why a rate has no value yet, when outcomes are maturing or waiting for a label: "no decided
 * outcome yet; 412 still maturing (windows still open), 3 waiting for a label, first counted
 * on 2027-01-07" (the day only where the API gives one); "" when none are.
 */
export const noDecidedYet = (
  maturing: number | null | undefined,
  pending: number | null | undefined,
  firstCountedOn?: string | null,
  what = "outcome",
): string => {
  const parts: string[] = [];
  if (maturing) parts.push(`${integer(maturing)} still maturing (windows still open)`);
  if (pending) parts.push(`${integer(pending)} waiting for a label`);
  if (!parts.length) return "";
  return `no decided ${what} yet; ${parts.join(", ")}${firstCountedOn ? `, first counted on ${firstCountedOn}` : ""}`;
};

/**
 * A rate with its interval and n, and after it what it does not count yet; without a decided
 * outcome but with some maturing or waiting, why it has none instead of "n/a (n = 0)".
 */
export const rateOrNotYet = (
  estimate: { rate?: number | null; lower?: number | null; upper?: number | null; count?: number | null } | null | undefined,
  maturing: number | null | undefined,
  pending: number | null | undefined,
  firstCountedOn?: string | null,
): string => {
  if (!estimate || estimate.rate == null) return noDecidedYet(maturing, pending, firstCountedOn) || rateWithInterval(estimate);
  const open = notCountedYet(maturing, pending);
  return open ? `${rateWithInterval(estimate)}; ${open}` : rateWithInterval(estimate);
};

/** A chart row's note when its response rate has none yet: why ("no decided reply yet; ..."). */
export const noReplyRateYet = (r: {
  replies: { rate?: number | null };
  maturingReplies: number;
  pendingReplies: number;
}): string | undefined => {
  if (r.replies.rate != null) return undefined;
  return noDecidedYet(r.maturingReplies, r.pendingReplies, null, "reply") || "no replies in this range";
};
