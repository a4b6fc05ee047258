// Users: search by email, block / unblock (with a reason), adjust a balance.
import { useState } from "preact/hooks";
import { request } from "../api";
import { explain, sentence } from "../errors";
import { AdjustBalanceDocument, BlockUserDocument, UnblockUserDocument, UsersDocument, type UserSummaryFieldsFragment } from "../gql/graphql";
import { ago, money } from "../format";
import { usePages } from "../store/History";
import { ErrorLine, Field, MoreButton } from "../ui";

export function Users() {
  const [search, setSearch] = useState("");
  const [term, setTerm] = useState("");
  const users = usePages<UserSummaryFieldsFragment>(
    async (after) => {
      const { users: c } = await request(UsersDocument, { search: term || null, first: 20, after });
      return { nodes: c.edges.map((e) => e.node), ...c.pageInfo };
    },
    [term],
  );
  return (
    <>
      <form
        class="row"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setTerm(search.trim());
        }}
      >
        <Field label="Email contains">
          <input type="search" name="userSearch" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </Field>
        <button type="submit">Search</button>
      </form>
      <ErrorLine text={users.error} />
      <ul class="plain list">
        {users.nodes.map((u) => (
          <UserRow key={u.id} user={u} onChange={users.reload} />
        ))}
      </ul>
      <MoreButton show={users.more} onClick={users.loadMore} busy={users.busy} />
    </>
  );
}

function UserRow({ user, onChange }: { user: UserSummaryFieldsFragment; onChange: () => void }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [amount, setAmount] = useState("");
  const [error, setError] = useState<string | null>(null);
  const blocked = user.state === "BLOCKED";

  async function run(action: "block" | "unblock" | "adjust") {
    setError(null);
    try {
      const errors =
        action === "block"
          ? (await request(BlockUserDocument, { id: user.id, reason: reason.trim() })).blockUser.errors
          : action === "unblock"
            ? (await request(UnblockUserDocument, { id: user.id, reason: reason.trim(), restoreBalance: true })).unblockUser.errors
            : (await request(AdjustBalanceDocument, { userId: user.id, amount: amount.trim(), reason: reason.trim() })).adjustBalance.errors;
      if (errors.length) setError(sentence(errors[0].code));
      else {
        setOpen(false);
        onChange();
      }
    } catch (e) {
      setError(explain(e));
    }
  }

  const label = user.email ?? "(deleted account)";
  return (
    <li data-user={user.email ?? user.id}>
      <strong>{label}</strong>{" "}
      <small>
        {user.role === "ADMIN" ? "admin · " : ""}
        {user.state.toLowerCase()} · {money(user.balance)} · {user.activationCount} activations · joined {ago(user.createdAt)}
        {user.lastSeenAt && ` · seen ${ago(user.lastSeenAt)}`}
      </small>{" "}
      <button type="button" class="secondary small" aria-expanded={open} onClick={() => setOpen(!open)} aria-label={`Manage ${label}`}>
        Manage
      </button>
      {open && (
        <div class="card">
          <Field label="Reason (kept in the user's activity log)">
            <input name="reason" value={reason} maxLength={200} onInput={(e) => setReason(e.currentTarget.value)} />
          </Field>
          <div class="row">
            {blocked ? (
              <button type="button" onClick={() => void run("unblock")}>
                Unblock (restore the balance)
              </button>
            ) : (
              <button type="button" class="danger" onClick={() => void run("block")}>
                Block
              </button>
            )}
            <Field label="Adjust balance by (e.g. 5.00 or -2.50)">
              <input name="adjustAmount" inputMode="decimal" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
            </Field>
            <button type="button" onClick={() => void run("adjust")}>
              Adjust
            </button>
          </div>
          <ErrorLine text={error} />
        </div>
      )}
    </li>
  );
}
