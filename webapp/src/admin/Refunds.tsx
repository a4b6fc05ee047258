// Refund requests waiting for a decision (R15): approve or decline with a note.
import { useState } from "preact/hooks";
import { request } from "../api";
import { explain, sentence } from "../errors";
import { DecideRefundDocument, RefundRequestsDocument, type RefundRequestFieldsFragment } from "../gql/graphql";
import { ago, money } from "../format";
import { usePages } from "../store/History";
import { ErrorLine, Field, MoreButton } from "../ui";

export function Refunds() {
  const list = usePages<RefundRequestFieldsFragment>(async (after) => {
    const { refundRequests: c } = await request(RefundRequestsDocument, { state: "PENDING", first: 20, after });
    return { nodes: c.edges.map((e) => e.node), ...c.pageInfo };
  });
  return (
    <>
      <ErrorLine text={list.error} />
      {list.nodes.length === 0 && !list.busy && <p>No request is waiting.</p>}
      <ul class="plain list">
        {list.nodes.map((r) => (
          <Request key={r.id} request={r} onDone={list.reload} />
        ))}
      </ul>
      <MoreButton show={list.more} onClick={list.loadMore} busy={list.busy} />
    </>
  );
}

function Request({ request: r, onDone }: { request: RefundRequestFieldsFragment; onDone: () => void }) {
  const [note, setNote] = useState("");
  const [error, setError] = useState<string | null>(null);
  async function decide(approve: boolean) {
    setError(null);
    try {
      const { decideRefund } = await request(DecideRefundDocument, { id: r.id, approve, note: note.trim() });
      if (decideRefund.errors.length) setError(sentence(decideRefund.errors[0].code));
      else onDone();
    } catch (e) {
      setError(explain(e));
    }
  }
  return (
    <li>
      <strong>{money(r.amount)}</strong> <small>(fee {money(r.fee)}) · user {r.userId} · {ago(r.createdAt)}</small>
      <p>{r.reason}</p>
      <div class="row">
        <Field label="Note to the user">
          <input name="note" value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        </Field>
        <button type="button" onClick={() => void decide(true)}>
          Approve
        </button>
        <button type="button" class="secondary" onClick={() => void decide(false)}>
          Decline
        </button>
      </div>
      <ErrorLine text={error} />
    </li>
  );
}
