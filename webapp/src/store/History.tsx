// The viewer's activations and transactions, newest first, a page at a time.
import { useEffect, useState } from "preact/hooks";
import { request } from "../api";
import { explain } from "../errors";
import { ActivationsDocument, TransactionsDocument, type ActivationFieldsFragment, type TransactionFieldsFragment } from "../gql/graphql";
import { ago, money } from "../format";
import { ErrorLine, MoreButton } from "../ui";

const PAGE = 10;

/** A Relay connection read a page at a time. */
export function usePages<N>(load: (after: string | null) => Promise<{ nodes: N[]; hasNextPage: boolean; endCursor: string | null }>, deps: unknown[] = []) {
  const [nodes, setNodes] = useState<N[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function page(after: string | null) {
    setBusy(true);
    try {
      const result = await load(after);
      setNodes((old) => (after ? [...old, ...result.nodes] : result.nodes));
      setNext(result.endCursor);
      setMore(result.hasNextPage);
      setError(null);
    } catch (e) {
      setError(explain(e));
    } finally {
      setBusy(false);
    }
  }
  useEffect(() => void page(null), deps);
  return { nodes, error, busy, more, loadMore: () => void page(next), reload: () => void page(null) };
}

export function History() {
  const activations = usePages<ActivationFieldsFragment>(async (after) => {
    const { activations: c } = await request(ActivationsDocument, { first: PAGE, after });
    return { nodes: c.edges.map((e) => e.node), ...c.pageInfo };
  });
  const transactions = usePages<TransactionFieldsFragment>(async (after) => {
    const { transactions: c } = await request(TransactionsDocument, { first: PAGE, after });
    return { nodes: c.edges.map((e) => e.node), ...c.pageInfo };
  });
  return (
    <section>
      <h1>History</h1>
      <h2>Activations</h2>
      <ErrorLine text={activations.error} />
      {activations.nodes.length === 0 && !activations.busy && <p>No activations yet.</p>}
      <ul class="plain list" data-testid="activations">
        {activations.nodes.map((a) => (
          <li key={a.id}>
            <a href={`/activations/${encodeURIComponent(a.id)}`}>
              {a.service.name}, {a.country.name}: {a.phoneNumber}
            </a>{" "}
            <small>
              {a.status.replace("_", " ").toLowerCase()}
              {a.code && ` · code ${a.code}`} · {money(a.price)} · {ago(a.createdAt)}
            </small>
          </li>
        ))}
      </ul>
      <MoreButton show={activations.more} onClick={activations.loadMore} busy={activations.busy} />
      <h2>Transactions</h2>
      <ErrorLine text={transactions.error} />
      {transactions.nodes.length === 0 && !transactions.busy && <p>No transactions yet.</p>}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">What</th>
              <th scope="col" class="num">Amount</th>
              <th scope="col" class="num">Balance after</th>
            </tr>
          </thead>
          <tbody>
            {transactions.nodes.map((t) => (
              <tr key={t.id}>
                <td>{ago(t.createdAt)}</td>
                <td>{t.description || t.kind.replace("_", " ").toLowerCase()}</td>
                <td class={`num ${t.amount.amount.startsWith("-") ? "minus" : "plus"}`}>{money(t.amount)}</td>
                <td class="num">{money(t.balanceAfter)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <MoreButton show={transactions.more} onClick={transactions.loadMore} busy={transactions.busy} />
    </section>
  );
}
