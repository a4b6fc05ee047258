// Suppliers: their health (state, stock, success rate, last contact), pause / resume, and a new
// supplier of each kind (the secret is shown once).
import { useEffect, useState } from "preact/hooks";
import { request } from "../api";
import { explain, sentence } from "../errors";
import { CreateSupplierDocument, SuppliersDocument, UpdateSupplierDocument, type SupplierFieldsFragment, type SupplierKind } from "../gql/graphql";
import { ago, money, percent } from "../format";
import { ErrorLine, Field, Notice } from "../ui";

const KINDS: { kind: SupplierKind; label: string; needs: string }[] = [
  { kind: "WEBHOOK", label: "SIM bank (signed SMS webhook)", needs: "" },
  { kind: "SMSHUB_AGENT", label: "SMSHub agent", needs: "the agent's URL" },
  { kind: "ANDROID_GATEWAY", label: "Android gateway phone", needs: "" },
  { kind: "UPSTREAM", label: "Upstream sms-activate-compatible service", needs: "its handler_api.php URL and our API key there" },
];

export function Suppliers() {
  const [list, setList] = useState<SupplierFieldsFragment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    request(SuppliersDocument)
      .then(({ suppliers }) => setList(suppliers))
      .catch((e) => setError(explain(e)));
  useEffect(() => void load(), []);

  async function setState(s: SupplierFieldsFragment, state: "ACTIVE" | "PAUSED") {
    setError(null);
    try {
      const { updateSupplier } = await request(UpdateSupplierDocument, { id: s.id, input: { state } });
      if (updateSupplier.errors.length) setError(sentence(updateSupplier.errors[0].code));
      else void load();
    } catch (e) {
      setError(explain(e));
    }
  }

  return (
    <>
      <ErrorLine text={error} />
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Supplier</th>
              <th scope="col">Kind</th>
              <th scope="col">State</th>
              <th scope="col" class="num">Numbers</th>
              <th scope="col" class="num">Success</th>
              <th scope="col">Last contact</th>
              <th scope="col">Owed</th>
              <th scope="col"><span class="sr-only">Action</span></th>
            </tr>
          </thead>
          <tbody>
            {list?.map((s) => (
              <tr key={s.id}>
                <td>
                  {s.name} <small>{s.code}</small>
                  {s.upstreamError && <div class="error">{s.upstreamError}</div>}
                </td>
                <td>{s.kind.toLowerCase().replace("_", " ")}</td>
                <td>
                  {s.state.toLowerCase()}
                  {s.pausedReason && <small> ({s.pausedReason})</small>}
                </td>
                <td class="num">{s.available}</td>
                <td class="num">{percent(s.successRate)}</td>
                <td>{s.lastContactAt ? ago(s.lastContactAt) : "never"}</td>
                <td>{money(s.owed)}</td>
                <td>
                  {s.state === "ACTIVE" && (
                    <button type="button" class="secondary small" onClick={() => void setState(s, "PAUSED")}>
                      Pause
                    </button>
                  )}
                  {s.state === "PAUSED" && (
                    <button type="button" class="small" onClick={() => void setState(s, "ACTIVE")}>
                      Resume
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <NewSupplier onCreated={() => void load()} />
    </>
  );
}

function NewSupplier({ onCreated }: { onCreated: () => void }) {
  const [kind, setKind] = useState<SupplierKind>("WEBHOOK");
  const [code, setCode] = useState("");
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [cost, setCost] = useState("");
  const [numbers, setNumbers] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const needsUrl = kind === "SMSHUB_AGENT" || kind === "UPSTREAM";

  async function create(event: Event) {
    event.preventDefault();
    setError(null);
    setSecret(null);
    try {
      const { createSupplier } = await request(CreateSupplierDocument, {
        input: {
          code: code.trim(),
          name: name.trim(),
          kind,
          url: needsUrl ? url.trim() : null,
          apiKey: apiKey.trim() || null,
          defaultCost: cost.trim() || null,
          numbers: kind === "ANDROID_GATEWAY" ? numbers.split(/[\s,]+/).filter(Boolean) : null,
        },
      });
      if (createSupplier.errors.length) setError(sentence(createSupplier.errors[0].code));
      else {
        setSecret(createSupplier.secret ?? "");
        onCreated();
      }
    } catch (e) {
      setError(explain(e));
    }
  }

  return (
    <form class="card" onSubmit={create}>
      <h2>Add a supplier</h2>
      <Field label="Kind" hint={KINDS.find((k) => k.kind === kind)?.needs ? `Needs ${KINDS.find((k) => k.kind === kind)?.needs}.` : undefined}>
        <select name="kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as SupplierKind)}>
          {KINDS.map((k) => (
            <option key={k.kind} value={k.kind}>
              {k.label}
            </option>
          ))}
        </select>
      </Field>
      <div class="row">
        <Field label="Code (a-z, 0-9, dashes)">
          <input name="code" required pattern="[a-z0-9-]{2,32}" value={code} onInput={(e) => setCode(e.currentTarget.value)} />
        </Field>
        <Field label="Name">
          <input name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Default cost per activation">
          <input name="defaultCost" inputMode="decimal" value={cost} onInput={(e) => setCost(e.currentTarget.value)} />
        </Field>
      </div>
      {needsUrl && (
        <Field label="URL">
          <input name="url" type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
        </Field>
      )}
      <Field label={kind === "UPSTREAM" ? "Our API key there" : "Secret (empty: one is generated)"}>
        <input name="apiKey" required={kind === "UPSTREAM"} value={apiKey} onInput={(e) => setApiKey(e.currentTarget.value)} />
      </Field>
      {kind === "ANDROID_GATEWAY" && (
        <Field label="The phone's SIM numbers (E.164, comma-separated)">
          <input name="numbers" value={numbers} onInput={(e) => setNumbers(e.currentTarget.value)} />
        </Field>
      )}
      <ErrorLine text={error} />
      {secret !== null && (
        <Notice kind="ok">
          Supplier added.{secret && <> Its secret, shown only this once: <code>{secret}</code></>}
        </Notice>
      )}
      <button type="submit">Add supplier</button>
    </form>
  );
}
