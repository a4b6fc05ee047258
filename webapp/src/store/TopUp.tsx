// Top up: the processors the server offers (PaymentProviders); the user is sent to the
// processor's checkout page, and the balance follows live (BalanceChanges) when it confirms.
import { useEffect, useState } from "preact/hooks";
import { request } from "../api";
import { explain, sentence } from "../errors";
import { CreateTopUpDocument, PaymentProvidersDocument, TopUpsDocument, type PaymentProvidersQuery, type TopUpsQuery } from "../gql/graphql";
import { ago, money, newKey } from "../format";
import { viewer } from "../session";
import { useSignal } from "../signal";
import { ErrorLine, Field } from "../ui";

type Provider = PaymentProvidersQuery["paymentProviders"][number];

export function TopUp() {
  const me = useSignal(viewer);
  const [providers, setProviders] = useState<Provider[] | null>(null);
  const [provider, setProvider] = useState("");
  const [amount, setAmount] = useState("10.00");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [recent, setRecent] = useState<TopUpsQuery["topUps"]["edges"]>([]);
  const [key] = useState(newKey);

  useEffect(() => {
    request(PaymentProvidersDocument)
      .then(({ paymentProviders }) => {
        setProviders(paymentProviders);
        if (paymentProviders[0]) setProvider(paymentProviders[0].code);
      })
      .catch((e) => setError(explain(e)));
    request(TopUpsDocument, { first: 5 })
      .then(({ topUps }) => setRecent(topUps.edges))
      .catch(() => {});
  }, []);

  async function pay(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { createTopUp } = await request(CreateTopUpDocument, { amount: amount.trim(), provider, idempotencyKey: key });
      const url = createTopUp.topUp?.checkoutUrl;
      if (createTopUp.errors.length || !url) {
        setError(sentence(createTopUp.errors[0]?.code ?? "UNEXPECTED", createTopUp.errors[0]?.message));
        return;
      }
      location.assign(url); // the processor's own page; it sends the user back to the shop
    } catch (e) {
      setError(explain(e));
    } finally {
      setBusy(false);
    }
  }

  const chosen = providers?.find((p) => p.code === provider);
  return (
    <section class="narrow">
      <h1>Top up</h1>
      {me && (
        <p>
          Balance: <strong>{money(me.balance)}</strong>
        </p>
      )}
      <form onSubmit={pay}>
        <fieldset>
          <legend>Pay with</legend>
          {providers?.length === 0 && <p>No payment method is available right now.</p>}
          {providers?.map((p) => (
            <label class="choice" key={p.code}>
              <input type="radio" name="provider" value={p.code} checked={p.code === provider} onChange={() => setProvider(p.code)} />
              {p.name}{" "}
              <small>
                ({money(p.minAmount)} to {money(p.maxAmount)})
              </small>
            </label>
          ))}
        </fieldset>
        <Field label={`Amount${chosen ? ` (${chosen.minAmount.currency})` : ""}`}>
          <input name="amount" inputMode="decimal" required pattern="\d+(\.\d{1,2})?" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
        </Field>
        <ErrorLine text={error} />
        <button type="submit" disabled={busy || !provider}>
          Continue to payment
        </button>
      </form>
      {recent.length > 0 && (
        <>
          <h2>Recent top-ups</h2>
          <ul class="plain">
            {recent.map(({ node }) => (
              <li key={node.id}>
                {money(node.amount)} · {node.provider} · {node.status.toLowerCase()} · {ago(node.createdAt)}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
