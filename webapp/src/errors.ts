// Every error code of the contract (frontend-contract/README.md, "Error codes") as a sentence a
// user understands. The Record over the generated ErrorCode type makes a new code a build error.
import type { ErrorCode } from "./gql/graphql";
import { ApiError } from "./api";

export const SENTENCES: Record<ErrorCode, string> = {
  INVALID_INPUT: "Please check what you typed: something is missing, too long or not in the expected form.",
  EMAIL_TAKEN: "An account with this email already exists. Sign in instead.",
  INVALID_CREDENTIALS: "The email or the password is not right.",
  INVALID_TOKEN: "This confirmation link is no longer valid (used already, or older than 48 hours).",
  EMAIL_NOT_VERIFIED: "Please confirm your email first: open the link we sent you.",
  ACCOUNT_BLOCKED: "This account is blocked. Contact support if you think this is a mistake.",
  UNAUTHENTICATED: "Your session has ended. Please sign in again.",
  FORBIDDEN: "Only an administrator may do this.",
  NOT_FOUND: "We could not find that. It may have been removed.",
  INVALID_STATE: "That is not possible any more at this stage.",
  INSUFFICIENT_BALANCE: "Your balance is too low for this. Top up first.",
  NO_NUMBERS: "No number is free for this country and service right now. Try again soon or pick another country.",
  PRICE_ABOVE_MAX: "The price is now above the most you said you would pay.",
  COUNTRY_UNAVAILABLE: "Numbers from this country are not available.",
  SERVICE_UNAVAILABLE: "Numbers for this service are not available.",
  IDEMPOTENCY_CONFLICT: "This request clashes with an earlier one. Please try again.",
  RATE_LIMITED: "Too many attempts. Please wait a little and try again.",
  MAINTENANCE: "The shop is under maintenance. Please try again in a few minutes.",
  BUSY: "The shop is busy right now. Please try again.",
  PAYMENT_PROVIDER_UNAVAILABLE: "This payment method is not available right now. Try again or pick another.",
  AMOUNT_OUT_OF_RANGE: "This amount is outside what this payment method accepts.",
};

const OTHER: Record<string, string> = {
  NETWORK: "We cannot reach the shop. Check your connection and try again.",
  UNEXPECTED: "Something went wrong on our side. Please try again.",
};

export function sentence(code: string, message?: string): string {
  if (code === "MAINTENANCE" && message) return `${SENTENCES.MAINTENANCE} (${message})`;
  if (code === "PRICE_ABOVE_MAX" && message) return `${SENTENCES.PRICE_ABOVE_MAX} (${message})`;
  return (SENTENCES as Record<string, string>)[code] ?? OTHER[code] ?? OTHER.UNEXPECTED;
}

export function explain(error: unknown): string {
  if (error instanceof ApiError) return sentence(error.code, error.message);
  return OTHER.UNEXPECTED;
}
