// The catalog: every offer (country x service) with price, numbers available and success rate,
// searchable; buying with a price cap.
import { useEffect, useMemo, useState } from "preact/hooks";
import { request } from "../api";
import { explain, sentence } from "../errors";
import { BuyNumberDocument, PricesDocument, type PricesQuery } from "../gql/graphql";
import { money, newKey, percent } from "../format";
import { navigate, useRoute } from "../router";
import { viewer } from "../session";
import { useSignal } from "../signal";
import { ErrorLine, Field, Notice } from "../ui";
import { VerifyNotice } from "./Auth";

type Offer = PricesQuery["prices"][number];

export function Catalog() {
  const me = useSignal(viewer);
  const { query } = useRoute();
  const [offers, setOffers] = useState<Offer[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [search, setSearch] = useState("");
  const [chosen, setChosen] = useState<Offer | null>(null);

  useEffect(() => {
    request(PricesDocument, {})
      .then(({ prices }) => setOffers(prices))
      .catch((e) => setError(explain(e)));
  }, []);

  const shown = useMemo(() => {
    const words = search.toLowerCase().split(/\s+/).filter(Boolean);
    return (offers ?? []).filter((o) => {
      const hay = `${o.country.name} ${o.country.code} ${dial(o.country.dialCode)} ${o.service.name} ${o.service.code}`.toLowerCase();
      return words.every((w) => hay.includes(w));
    });
  }, [offers, search]);

  return (
    <section>
      <h1>Numbers for SMS codes</h1>
      {query.get("welcome") && me && <Notice kind="ok">Welcome! Top up your balance, then pick a number below.</Notice>}
      <VerifyNotice />
      {me === null && (
        <p>
          Rent a phone number for one service and get its SMS code here, live. <a href="/signup">Create an account</a> to
          buy.
        </p>
      )}
      <Field label="Search countries and services">
        <input
          type="search"
          name="search"
          placeholder="e.g. Telegram, United Kingdom, +44"
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
      </Field>
      <ErrorLine text={error} />
      {offers === null && !error && <p aria-busy="true">Loading the catalog…</p>}
      {chosen && me && <BuyForm offer={chosen} onClose={() => setChosen(null)} />}
      {offers && (
        <div class="table-wrap">
          <table class="offers">
            <caption class="sr-only">Offers: {shown.length}</caption>
            <thead>
              <tr>
                <th scope="col">Country</th>
                <th scope="col">Service</th>
                <th scope="col" class="num">Price</th>
                <th scope="col" class="num">Available</th>
                <th scope="col" class="num">Success rate</th>
                <th scope="col"><span class="sr-only">Buy</span></th>
              </tr>
            </thead>
            <tbody>
              {shown.map((o) => (
                <tr key={`${o.country.code}-${o.service.code}`} data-offer={`${o.country.code}-${o.service.code}`}>
                  <td>
                    {o.country.name} <small>{dial(o.country.dialCode)}</small>
                  </td>
                  <td>{o.service.name}</td>
                  <td class="num">{money(o.price)}</td>
                  <td class="num" data-label="Available">
                    {o.available}
                  </td>
                  <td class="num" data-label="Success rate">
                    {percent(o.successRate)}
                  </td>
                  <td>
                    {me ? (
                      <button
                        type="button"
                        disabled={o.available === 0}
                        onClick={() => setChosen(o)}
                        aria-label={`Buy a ${o.service.name} number in ${o.country.name}`}
                      >
                        Buy
                      </button>
                    ) : (
                      <a href="/signup" aria-label={`Sign up to buy a ${o.service.name} number in ${o.country.name}`}>
                        Sign up to buy
                      </a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {shown.length === 0 && <p>No offer matches “{search}”.</p>}
        </div>
      )}
    </section>
  );
}

function BuyForm({ offer, onClose }: { offer: Offer; onClose: () => void }) {
  const [maxPrice, setMaxPrice] = useState(offer.price.amount);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // One key per purchase the user means: a retry after a network failure charges once.
  const [key] = useState(newKey);

  async function buy(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { buyNumber } = await request(BuyNumberDocument, {
        country: offer.country.code,
        service: offer.service.code,
        maxPrice: maxPrice.trim() || null,
        idempotencyKey: key,
      });
      if (buyNumber.errors.length || !buyNumber.activation) {
        const e = buyNumber.errors[0];
        setError(sentence(e?.code ?? "UNEXPECTED", e?.message));
        return;
      }
      navigate(`/activations/${encodeURIComponent(buyNumber.activation.id)}`);
    } catch (e) {
      setError(explain(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="card buy" onSubmit={buy} aria-label="Buy a number">
      <h2>
        {offer.service.name} in {offer.country.name}
      </h2>
      <p>
        Price now: <strong>{money(offer.price)}</strong>. You are charged at once and refunded if no code arrives in time.
      </p>
      <Field label={`Most I will pay (${offer.price.currency})`} hint="If the price rises above this, nothing is bought.">
        <input
          name="maxPrice"
          inputMode="decimal"
          pattern="\d+(\.\d{1,2})?"
          value={maxPrice}
          onInput={(e) => setMaxPrice(e.currentTarget.value)}
          autoFocus
        />
      </Field>
      <ErrorLine text={error} />
      {error && /balance/i.test(error) && (
        <p>
          <a href="/topup">Top up your balance</a>
        </p>
      )}
      <div class="row">
        <button type="submit" disabled={busy}>
          Buy for {money(offer.price)}
        </button>
        <button type="button" class="secondary" onClick={onClose}>
          Close
        </button>
      </div>
    </form>
  );
}

function dial(code: string): string {
  return code.startsWith("+") ? code : `+${code}`;
}
