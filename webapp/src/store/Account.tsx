// The account: email status, API keys (created, shown once, revoked), sessions, a refund
// request, and deleting the account.
import { useEffect, useState } from "preact/hooks";
import { request } from "../api";
import { explain, sentence } from "../errors";
import {
  CreateApiKeyDocument,
  CredentialsDocument,
  DeleteAccountDocument,
  RequestRefundDocument,
  RevokeCredentialDocument,
  type CredentialFieldsFragment,
} from "../gql/graphql";
import { ago, money } from "../format";
import { navigate } from "../router";
import { signOut, viewer } from "../session";
import { useSignal } from "../signal";
import { ErrorLine, Field, Notice } from "../ui";
import { CopyButton } from "./ActivationCard";
import { VerifyNotice } from "./Auth";

export function Account() {
  const me = useSignal(viewer);
  if (!me) return null;
  return (
    <section>
      <h1>Your account</h1>
      <VerifyNotice />
      <p>
        {me.email} · balance <strong>{money(me.balance)}</strong> · member since {ago(me.createdAt)}
      </p>
      <Credentials />
      <RefundRequest />
      <DeleteAccount />
    </section>
  );
}

function Credentials() {
  const [list, setList] = useState<CredentialFieldsFragment[]>([]);
  const [name, setName] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = () =>
    request(CredentialsDocument)
      .then(({ credentials }) => setList(credentials))
      .catch((e) => setError(explain(e)));
  useEffect(() => void load(), []);

  async function create(event: Event) {
    event.preventDefault();
    setError(null);
    try {
      const { createApiKey } = await request(CreateApiKeyDocument, { name: name.trim() });
      if (createApiKey.errors.length || !createApiKey.key) setError(sentence(createApiKey.errors[0]?.code ?? "UNEXPECTED"));
      else {
        setSecret(createApiKey.key);
        setName("");
        void load();
      }
    } catch (e) {
      setError(explain(e));
    }
  }

  async function revoke(c: CredentialFieldsFragment) {
    if (c.current && !confirm("This is the session you are using: revoking it signs you out. Go on?")) return;
    try {
      const { revokeCredential } = await request(RevokeCredentialDocument, { id: c.id });
      if (revokeCredential.errors.length) setError(sentence(revokeCredential.errors[0].code));
      else if (c.current) await signOut();
      else void load();
    } catch (e) {
      setError(explain(e));
    }
  }

  return (
    <>
      <h2>API keys and sessions</h2>
      <p>API keys let bots use your account (this API and the sms-activate-compatible one).</p>
      <form class="row" onSubmit={create}>
        <Field label="New key's name">
          <input name="keyName" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <button type="submit">Create API key</button>
      </form>
      {secret && (
        <Notice kind="ok">
          Your new key, shown <strong>only this once</strong>: <code data-testid="api-key">{secret}</code>{" "}
          <CopyButton text={secret} label="Copy key" />
        </Notice>
      )}
      <ErrorLine text={error} />
      <ul class="plain list">
        {list.map((c) => (
          <li key={c.id}>
            {c.kind === "API_KEY" ? `API key “${c.name}”` : c.current ? "This session" : "A session"}{" "}
            <small>created {ago(c.createdAt)}</small>{" "}
            <button type="button" class="secondary small" onClick={() => void revoke(c)}>
              Revoke
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}

function RefundRequest() {
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  async function submit(event: Event) {
    event.preventDefault();
    setError(null);
    setDone(null);
    try {
      const { requestRefund } = await request(RequestRefundDocument, { amount: amount.trim(), reason: reason.trim() });
      if (requestRefund.errors.length || !requestRefund.refundRequest) setError(sentence(requestRefund.errors[0]?.code ?? "UNEXPECTED"));
      else {
        setDone(`Your request for ${money(requestRefund.refundRequest.amount)} is with the shop. The amount is held until it is decided.`);
        setAmount("");
        setReason("");
      }
    } catch (e) {
      setError(explain(e));
    }
  }
  return (
    <>
      <h2>Ask for a refund of your balance</h2>
      <form onSubmit={submit}>
        <Field label="Amount">
          <input name="refundAmount" inputMode="decimal" required pattern="\d+(\.\d{1,2})?" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
        </Field>
        <Field label="Why">
          <textarea name="refundReason" required maxLength={200} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </Field>
        <ErrorLine text={error} />
        {done && <Notice kind="ok">{done}</Notice>}
        <button type="submit">Request refund</button>
      </form>
    </>
  );
}

function DeleteAccount() {
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  async function submit(event: Event) {
    event.preventDefault();
    if (!confirm("Delete your account now? Your balance is forfeited and this cannot be undone.")) return;
    setError(null);
    try {
      const { deleteAccount } = await request(DeleteAccountDocument, { password });
      if (!deleteAccount.deleted) setError(sentence(deleteAccount.errors[0]?.code ?? "UNEXPECTED"));
      else {
        await signOut();
        navigate("/");
      }
    } catch (e) {
      setError(explain(e));
    }
  }
  return (
    <>
      <h2>Delete your account</h2>
      <form onSubmit={submit}>
        <Field label="Your password">
          <input type="password" name="deletePassword" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <ErrorLine text={error} />
        <button type="submit" class="danger">
          Delete my account
        </button>
      </form>
    </>
  );
}
