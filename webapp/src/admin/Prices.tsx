// Price rules: the current rules, and a new rule previewed (priceRulePreview, refused exactly as
// the save would be) before it is saved.
import { useEffect, useState } from "preact/hooks";
import { request } from "../api";
import { explain, sentence } from "../errors";
import { PriceRulePreviewDocument, PriceRulesDocument, SetPriceRuleDocument, type PriceRuleFieldsFragment, type PriceRulePreviewQuery } from "../gql/graphql";
import { money } from "../format";
import { ErrorLine, Field, Notice } from "../ui";

export function Prices() {
  const [rules, setRules] = useState<PriceRuleFieldsFragment[]>([]);
  const [country, setCountry] = useState("");
  const [service, setService] = useState("");
  const [markup, setMarkup] = useState("30");
  const [minMargin, setMinMargin] = useState("0.10");
  const [preview, setPreview] = useState<PriceRulePreviewQuery["priceRulePreview"] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const load = () =>
    request(PriceRulesDocument)
      .then(({ priceRules }) => setRules(priceRules))
      .catch((e) => setError(explain(e)));
  useEffect(() => void load(), []);

  const input = () => ({
    country: country.trim().toUpperCase() || null,
    service: service.trim().toLowerCase() || null,
    markupPercent: markup.trim(),
    minMargin: minMargin.trim(),
  });

  async function show(event: Event) {
    event.preventDefault();
    setError(null);
    setSaved(false);
    try {
      setPreview((await request(PriceRulePreviewDocument, { input: input() })).priceRulePreview);
    } catch (e) {
      setPreview(null);
      setError(explain(e));
    }
  }

  async function save() {
    setError(null);
    try {
      const { setPriceRule } = await request(SetPriceRuleDocument, { input: input() });
      if (setPriceRule.errors.length) setError(sentence(setPriceRule.errors[0].code));
      else {
        setSaved(true);
        setPreview(null);
        void load();
      }
    } catch (e) {
      setError(explain(e));
    }
  }

  return (
    <>
      <h2>Rules</h2>
      <ul class="plain list">
        {rules.map((r) => (
          <li key={r.id}>
            {r.country ?? "every country"} · {r.service ?? "every service"}
            {r.supplierId && ` · supplier ${r.supplierId}`}: +{r.markupPercent}% (at least {money(r.minMargin)})
          </li>
        ))}
      </ul>
      <form class="card" onSubmit={show}>
        <h2>Set a rule</h2>
        <div class="row">
          <Field label="Country code (empty: all)">
            <input name="ruleCountry" value={country} onInput={(e) => setCountry(e.currentTarget.value)} />
          </Field>
          <Field label="Service code (empty: all)">
            <input name="ruleService" value={service} onInput={(e) => setService(e.currentTarget.value)} />
          </Field>
          <Field label="Markup %">
            <input name="markup" inputMode="decimal" required value={markup} onInput={(e) => setMarkup(e.currentTarget.value)} />
          </Field>
          <Field label="Minimum margin">
            <input name="minMargin" inputMode="decimal" required value={minMargin} onInput={(e) => setMinMargin(e.currentTarget.value)} />
          </Field>
        </div>
        <ErrorLine text={error} />
        {saved && <Notice kind="ok">Saved: prices follow within seconds.</Notice>}
        <button type="submit">Preview</button>
        {preview && (
          <>
            <div class="table-wrap">
              <table>
                <caption>What changes</caption>
                <thead>
                  <tr>
                    <th scope="col">Country</th>
                    <th scope="col">Service</th>
                    <th scope="col" class="num">Now</th>
                    <th scope="col" class="num">With the rule</th>
                  </tr>
                </thead>
                <tbody>
                  {preview.map((p) => (
                    <tr key={`${p.country.code}-${p.service.code}`}>
                      <td>{p.country.name}</td>
                      <td>{p.service.name}</td>
                      <td class="num">{p.current ? money(p.current) : "—"}</td>
                      <td class="num">{money(p.proposed)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <button type="button" onClick={() => void save()}>
              Save this rule
            </button>
          </>
        )}
      </form>
    </>
  );
}
