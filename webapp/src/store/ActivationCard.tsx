// One activation, live: the number (copy), the countdowns to the SMS deadline and the window's
// end, and the code the moment it arrives, through `activationEvents` (no polling). The
// subscription replays what the activation already received, then follows it; after a dropped
// socket it resumes from the last event's cursor (api.ts).
import { useEffect, useState } from "preact/hooks";
import { request, subscribe } from "../api";
import { explain, sentence } from "../errors";
import {
  ActivationDocument,
  ActivationEventsDocument,
  BanNumberDocument,
  CancelActivationDocument,
  FinishActivationDocument,
  RequestAnotherSmsDocument,
  type ActivationFieldsFragment,
  type SmsMessageFieldsFragment,
} from "../gql/graphql";
import { clock, money, secondsUntil, when } from "../format";
import { ErrorLine, Notice } from "../ui";

type Activation = ActivationFieldsFragment;
type Sms = SmsMessageFieldsFragment;

const STATUS_TEXT: Record<Activation["status"], string> = {
  WAITING_SMS: "Waiting for the SMS",
  RECEIVED: "Code received",
  FINISHED: "Finished",
  CANCELLED: "Cancelled",
  EXPIRED: "Expired: no SMS came in time",
  BANNED: "Number banned",
};

function merge(messages: Sms[], more: Sms[]): Sms[] {
  const seen = new Set(messages.map((m) => m.id));
  return [...messages, ...more.filter((m) => !seen.has(m.id))];
}

export function ActivationCard({ id }: { id: string }) {
  const [activation, setActivation] = useState<Activation | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    let stopped = false;
    request(ActivationDocument, { id })
      .then(({ activation: a }) => !stopped && setActivation((old) => (old ? { ...a!, messages: merge(a?.messages ?? [], old.messages) } : a)))
      .catch((e) => setError(explain(e)));
    const live = subscribe(
      ActivationEventsDocument,
      { activationId: id, after: null },
      (data) => data.activationEvents.cursor,
      ({ activationEvents: event }) => {
        setActivation((old) => {
          const next = event.activation;
          const messages = merge(merge(old?.messages ?? [], next.messages), event.sms ? [event.sms] : []);
          return { ...next, messages };
        });
      },
      (e) => setError(explain(e)),
    );
    return () => {
      stopped = true;
      live.stop();
    };
  }, [id]);

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  async function act(kind: "finish" | "cancel" | "ban" | "again") {
    setBusy(true);
    setError(null);
    try {
      const payload =
        kind === "finish"
          ? (await request(FinishActivationDocument, { id })).finishActivation
          : kind === "cancel"
            ? (await request(CancelActivationDocument, { id })).cancelActivation
            : kind === "ban"
              ? (await request(BanNumberDocument, { id })).banNumber
              : (await request(RequestAnotherSmsDocument, { id })).requestAnotherSms;
      if (payload.errors.length) setError(sentence(payload.errors[0].code, payload.errors[0].message));
      else if (payload.activation) {
        const a = payload.activation;
        setActivation((old) => ({ ...a, messages: merge(old?.messages ?? [], a.messages) }));
      }
    } catch (e) {
      setError(explain(e));
    } finally {
      setBusy(false);
    }
  }

  if (activation === undefined) return error ? <ErrorLine text={error} /> : <p aria-busy="true">Loading…</p>;
  if (activation === null)
    return (
      <Notice kind="warn">
        We could not find this activation. <a href="/history">See your history</a>.
      </Notice>
    );

  const a = activation;
  const waiting = a.status === "WAITING_SMS";
  const received = a.status === "RECEIVED";
  const toSms = secondsUntil(a.smsDeadline, now);
  const toEnd = secondsUntil(a.expiresAt, now);

  return (
    <section class="card activation" aria-labelledby="activation-title">
      <h1 id="activation-title">
        {a.service.name} number, {a.country.name}
      </h1>
      <p class="status" data-testid="activation-status">
        {STATUS_TEXT[a.status]}
        {a.refunded && " · refunded"}
      </p>
      <div class="number">
        <span data-testid="phone-number">{a.phoneNumber}</span>
        <CopyButton text={a.phoneNumber} label="Copy number" />
      </div>
      <div class="code-box" aria-live="polite" aria-atomic="true">
        {a.code ? (
          <>
            <span class="label">Code</span>
            <strong class="code" data-testid="code">
              {a.code}
            </strong>
            <CopyButton text={a.code} label="Copy code" />
          </>
        ) : waiting ? (
          <span class="waiting" data-testid="code-countdown">
            Code in {clock(toSms)} at the latest; it appears here the moment it arrives.
          </span>
        ) : (
          <span>No code.</span>
        )}
      </div>
      <dl class="facts">
        <dt>Price</dt>
        <dd>{money(a.price)}</dd>
        {waiting && (
          <>
            <dt>Refund if no SMS in</dt>
            <dd>
              <time dateTime={a.smsDeadline}>{clock(toSms)}</time>
            </dd>
          </>
        )}
        {(waiting || received) && (
          <>
            <dt>Number is yours for</dt>
            <dd>
              <time dateTime={a.expiresAt}>{clock(toEnd)}</time>
            </dd>
          </>
        )}
        <dt>Bought</dt>
        <dd>{when(a.createdAt)}</dd>
      </dl>
      <ErrorLine text={error} />
      <div class="row actions">
        {received && (
          <>
            <button type="button" onClick={() => void act("again")} disabled={busy}>
              Another SMS
            </button>
            <button type="button" onClick={() => void act("finish")} disabled={busy}>
              Finish
            </button>
          </>
        )}
        {waiting && (
          <>
            <button type="button" class="secondary" onClick={() => void act("cancel")} disabled={busy}>
              Cancel and refund
            </button>
            <button type="button" class="danger" onClick={() => void act("ban")} disabled={busy}>
              Number does not work (ban)
            </button>
          </>
        )}
      </div>
      {a.messages.length > 0 && (
        <>
          <h2>Messages</h2>
          <ol class="messages" data-testid="messages">
            {a.messages.map((m) => (
              <li key={m.id}>
                <small>
                  {m.sender ?? "Unknown sender"} · {when(m.receivedAt)}
                </small>
                <p>{m.text}</p>
              </li>
            ))}
          </ol>
        </>
      )}
      <p>
        <a href="/">Buy another number</a> · <a href="/history">History</a>
      </p>
    </section>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="secondary small"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => {
          setDone(true);
          setTimeout(() => setDone(false), 1500);
        });
      }}
    >
      {done ? "Copied" : label}
    </button>
  );
}
