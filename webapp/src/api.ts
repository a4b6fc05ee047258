// The one door to the server: queries and mutations over HTTP POST, subscriptions over the
// graphql-transport-ws socket (graphql-ws), both carrying the session token (frontend-contract/README.md).
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import { createClient, type Client } from "graphql-ws";
import { signal } from "./signal";

const TOKEN_KEY = "smsrooms.token";

export const token = signal<string | null>(localStorage.getItem(TOKEN_KEY));

export function setToken(value: string | null): void {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
  token.set(value);
}

/** A top-level GraphQL error (extensions.code) or a failed request, as one exception. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Errors = { message: string; extensions?: { code?: string } }[];

const printed = new WeakMap<object, string>();
function text(document: TypedDocumentNode<unknown, unknown>): string {
  let query = printed.get(document);
  if (!query) {
    query = print(document);
    printed.set(document, query);
  }
  return query;
}

export async function request<R, V>(document: TypedDocumentNode<R, V>, variables?: V): Promise<R> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const bearer = token.get();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  let response: Response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers,
      body: JSON.stringify({ query: text(document as TypedDocumentNode<unknown, unknown>), variables }),
    });
  } catch {
    throw new ApiError("NETWORK", "network");
  }
  const body = (await response.json().catch(() => ({}))) as { data?: R; errors?: Errors };
  if (body.errors?.length) {
    const first = body.errors[0];
    const code = first.extensions?.code ?? "UNEXPECTED";
    if (code === "UNAUTHENTICATED") signedOut("expired");
    throw new ApiError(code, first.message);
  }
  if (!response.ok || !body.data) throw new ApiError("UNEXPECTED", `HTTP ${response.status}`);
  return body.data;
}

// ---- the socket --------------------------------------------------------------------------

export type SocketState = "off" | "connecting" | "connected" | "reconnecting";
export const socketState = signal<SocketState>("off");
/** Why the user was signed out by the server (a revoked token, a blocked account), if they were. */
export const signOutReason = signal<"blocked" | "expired" | null>(null);

let client: Client | null = null;
let generation = 0;

function wsUrl(): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/graphql`;
}

function socket(): Client {
  if (client) return client;
  let everConnected = false;
  // Events of a client that was replaced (sign-in, sign-out) no longer speak for the socket.
  // (A generation, not the client itself: lazy: false emits `connecting` inside createClient.)
  const mine = ++generation;
  const current = () => generation === mine;
  const created: Client = createClient({
    url: wsUrl(),
    lazy: false, // open at once: a revoked session is noticed even with nothing subscribed
    connectionParams: () => ({ authorization: `Bearer ${token.get() ?? ""}` }),
    retryAttempts: Infinity,
    // A fast first retry: a dropped socket should be back before the user notices.
    retryWait: (retries) =>
      new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** retries, 4000) + Math.random() * 300)),
    shouldRetry: (event) => !(isClose(event) && event.code === 4403),
    on: {
      connecting: () => current() && socketState.set(everConnected ? "reconnecting" : "connecting"),
      connected: () => {
        everConnected = true;
        if (current()) socketState.set("connected");
      },
      closed: (event) => {
        if (!current()) return;
        if (isClose(event) && event.code === 4403) {
          // The server refused or revoked our token (logout elsewhere, a blocked account).
          signedOut("blocked");
          return;
        }
        socketState.set("reconnecting");
      },
    },
  });
  client = created;
  return created;
}

function isClose(event: unknown): event is CloseEvent {
  return typeof event === "object" && event !== null && "code" in event;
}

export function closeSocket(): void {
  const old = client;
  client = null;
  generation++;
  socketState.set("off");
  void old?.dispose();
}

/** Signed out by the server: forget the token; the app shows why. */
function signedOut(reason: "blocked" | "expired"): void {
  if (!token.get()) return;
  closeSocket();
  setToken(null);
  signOutReason.set(reason);
}

export interface Live {
  stop(): void;
}

/**
 * A subscription that survives reconnects without losing or doubling an event: each event's
 * `cursor` is kept, and a resubscription after a dropped socket asks for `after: <cursor>`
 * (contract: "Resume"). graphql-ws re-sends the same payload object on every retry, so the
 * cursor is written into that object's variables.
 */
export function subscribe<R, V extends { after?: string | null }>(
  document: TypedDocumentNode<R, V>,
  variables: V,
  cursorOf: (data: R) => string | null | undefined,
  onData: (data: R) => void,
  onError: (error: ApiError) => void = () => {},
): Live {
  const payload = { query: text(document as TypedDocumentNode<unknown, unknown>), variables: { ...variables } };
  const dispose = socket().subscribe<R>(payload, {
    next: (result) => {
      const errors = result.errors as Errors | undefined;
      if (errors?.length) {
        onError(new ApiError(errors[0].extensions?.code ?? "UNEXPECTED", errors[0].message));
        return;
      }
      if (!result.data) return;
      const cursor = cursorOf(result.data as R);
      if (cursor) payload.variables.after = cursor;
      onData(result.data as R);
    },
    error: () => {},
    complete: () => {},
  });
  return { stop: dispose };
}
