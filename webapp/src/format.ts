// Money by the user's locale, and times as people say them ("code in 0:42", "3 minutes ago").
export interface Money {
  amount: string;
  currency: string;
}

const formatters = new Map<string, Intl.NumberFormat>();

/** `amount` is a decimal string ("12.50"); it is shown, never computed with as a float. */
export function money(value: Money): string {
  let format = formatters.get(value.currency);
  if (!format) {
    format = new Intl.NumberFormat(undefined, { style: "currency", currency: value.currency });
    formatters.set(value.currency, format);
  }
  // Intl formats a decimal string exactly (ES2023 string input); numbers stay out of it.
  return format.format(value.amount as unknown as number);
}

/** "4:05" for 245 s; "0:00" once past. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

export function secondsUntil(iso: string, now: number): number {
  return (Date.parse(iso) - now) / 1000;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

export function ago(iso: string, now = Date.now()): string {
  const seconds = (Date.parse(iso) - now) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(Math.round(seconds), "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86400), "day");
}

export function when(iso: string): string {
  return new Date(iso).toLocaleString();
}

export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return "—";
  return new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 0 }).format(rate);
}

/** A fresh idempotency key per user action (contract: "a UUID you generate per tap on buy"). */
export function newKey(): string {
  return crypto.randomUUID();
}
