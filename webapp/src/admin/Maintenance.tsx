import { useEffect, useState } from "preact/hooks";
import { request } from "../api";
import { explain, sentence } from "../errors";
import { MaintenanceDocument, SetMaintenanceDocument } from "../gql/graphql";
import { ErrorLine, Field, Notice } from "../ui";

export function Maintenance() {
  const [on, setOn] = useState<boolean | null>(null);
  const [message, setMessage] = useState("");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    request(MaintenanceDocument)
      .then(({ maintenance }) => {
        setOn(maintenance.on);
        setMessage(maintenance.message ?? "");
      })
      .catch((e) => setError(explain(e)));
  }, []);
  async function flip(next: boolean) {
    setError(null);
    try {
      const { setMaintenance } = await request(SetMaintenanceDocument, { on: next, message: message.trim() || null });
      if (setMaintenance.errors.length) setError(sentence(setMaintenance.errors[0].code));
      else setOn(setMaintenance.maintenance?.on ?? next);
    } catch (e) {
      setError(explain(e));
    }
  }
  if (on === null) return <ErrorLine text={error} />;
  return (
    <div class="narrow">
      <Notice kind={on ? "warn" : "ok"}>
        {on ? "Maintenance is ON: users cannot buy, top up or sign in." : "The shop is open."}
      </Notice>
      <Field label="Message shown to users">
        <input name="maintenanceMessage" value={message} maxLength={200} onInput={(e) => setMessage(e.currentTarget.value)} />
      </Field>
      <ErrorLine text={error} />
      <button type="button" class={on ? "" : "danger"} onClick={() => void flip(!on)}>
        {on ? "End maintenance" : "Start maintenance"}
      </button>
    </div>
  );
}
